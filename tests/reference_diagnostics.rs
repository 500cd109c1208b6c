//! MCMC diagnostics against ArviZ 0.23.4 on committed draws
//! (`tests/data/reference/diagnostics.csv`, made by
//! `scripts/reference/gen_diagnostics.py`; CI needs no Python): iid and
//! autocorrelated chains (AR(1), phi 0.9 and -0.3), chains with shifted
//! means, Cauchy draws, two short chains, tied values and a single chain.

use theon::ppl::diagnostics::{ess_bulk, ess_mean, ess_tail, mcse_mean, rhat};

const TABLE: &str = include_str!("data/reference/diagnostics.csv");

fn num(s: &str) -> f64 {
    if s == "nan" {
        f64::NAN
    } else {
        s.parse().unwrap()
    }
}

#[test]
fn diagnostics_match_arviz() {
    let mut checked = 0;
    for line in TABLE.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (case, m, n) = (
            f[0],
            f[1].parse::<usize>().unwrap(),
            f[2].parse::<usize>().unwrap(),
        );
        let values: Vec<f64> = f[3].split(' ').map(num).collect();
        assert_eq!(values.len(), m * n, "{case}");
        let chains: Vec<&[f64]> = values.chunks(n).collect();
        let got = [
            ("rhat", rhat(&chains)),
            ("ess_bulk", ess_bulk(&chains)),
            ("ess_tail", ess_tail(&chains)),
            ("ess_mean", ess_mean(&chains)),
            ("mcse_mean", mcse_mean(&chains)),
        ];
        for (k, (what, g)) in got.iter().enumerate() {
            let want = num(f[4 + k]);
            let ok = if want.is_nan() {
                g.is_nan()
            } else {
                // ArviZ sums autocovariances by FFT, theon directly: they
                // agree to rounding.
                (g - want).abs() <= 1e-9 * want.abs()
            };
            assert!(ok, "{case} {what}: {g} vs ArviZ {want}");
            checked += 1;
        }
    }
    assert_eq!(checked, 40);
}

#[test]
fn diagnostics_see_what_they_should() {
    // Independent of ArviZ: shifted chains have R-hat well above 1, and
    // constant draws count fully (ArviZ's rule) with a NaN R-hat-free ESS.
    let a: Vec<f64> = (0..100).map(|i| (i as f64 * 0.7).sin()).collect();
    let b: Vec<f64> = a.iter().map(|x| x + 3.0).collect();
    assert!(rhat(&[&a, &b]) > 1.5);
    let c = vec![2.0; 50];
    assert_eq!(ess_mean(&[&c, &c]), 100.0);
    // Too few draws or chains, or NaN: NaN, as ArviZ.
    assert!(rhat(&[&a]).is_nan());
    assert!(ess_bulk(&[&a[..3]]).is_nan());
    let mut d = a.clone();
    d[5] = f64::NAN;
    assert!(ess_bulk(&[&d]).is_nan());
}
