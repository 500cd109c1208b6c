//! Scores of a probabilistic classifier: accuracy, negative log-likelihood,
//! and calibration (expected calibration error over equal-width confidence
//! bins, Guo et al. 2017, and the bins of a reliability diagram).

/// One confidence bin: its range, how many predictions fell in it, their
/// mean confidence and their accuracy (NaN when empty).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    pub confidence: f64,
    pub accuracy: f64,
}

/// Scores of class probabilities `p` (rows x k, flat) against `labels`.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    pub accuracy: f64,
    /// Mean of -log p[true class] (probabilities floored at 1e-300).
    pub nll: f64,
    /// Σ_bins |bin| / n · |accuracy(bin) − confidence(bin)|.
    pub ece: f64,
    /// Mean confidence (the largest probability of each row).
    pub confidence: f64,
    pub bins: Vec<Bin>,
}

/// Score `p` (rows x k) with `n_bins` equal-width bins of the confidence:
/// bin i holds confidences in (i/n, (i+1)/n] (the first also holds 0).
pub fn scores(p: &[f64], k: usize, labels: &[i64], n_bins: usize) -> Scores {
    let n = labels.len();
    let mut bins: Vec<(usize, f64, usize)> = vec![(0, 0.0, 0); n_bins];
    let (mut correct, mut nll, mut conf_sum) = (0usize, 0.0, 0.0);
    for (row, &y) in p.chunks(k).zip(labels) {
        let (pred, conf) =
            row.iter().enumerate().fold(
                (0, f64::NEG_INFINITY),
                |b, (i, &v)| if v > b.1 { (i, v) } else { b },
            );
        let hit = pred as i64 == y;
        correct += hit as usize;
        nll -= row[y as usize].max(1e-300).ln();
        conf_sum += conf;
        let b = ((conf * n_bins as f64).ceil() as usize).clamp(1, n_bins) - 1;
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += hit as usize;
    }
    let nf = n.max(1) as f64;
    let bins: Vec<Bin> = bins
        .iter()
        .enumerate()
        .map(|(i, &(count, conf, hits))| Bin {
            lo: i as f64 / n_bins as f64,
            hi: (i + 1) as f64 / n_bins as f64,
            count,
            confidence: if count > 0 {
                conf / count as f64
            } else {
                f64::NAN
            },
            accuracy: if count > 0 {
                hits as f64 / count as f64
            } else {
                f64::NAN
            },
        })
        .collect();
    let ece = bins
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| b.count as f64 / nf * (b.accuracy - b.confidence).abs())
        .sum();
    Scores {
        accuracy: correct as f64 / nf,
        nll: nll / nf,
        ece,
        confidence: conf_sum / nf,
        bins,
    }
}
