//! The committed data sets load as their READMEs describe: scikit-learn's
//! digits (counts, pixel sums and one image checked against the values
//! the generator printed) and the stratified split.

use theon_examples::data::{digits, stratified_split};

fn digits_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/digits/digits.npz")
}

#[test]
fn the_digits_load_with_the_documented_counts_and_values() {
    let (x, y) = digits(&digits_path()).unwrap();
    assert_eq!(x.shape(), &[1797, 1, 8, 8]);
    let labels = y.to_vec::<i64>();
    let mut counts = [0usize; 10];
    for l in &labels {
        counts[*l as usize] += 1;
    }
    assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    assert_eq!(labels.iter().sum::<i64>(), 8070);
    assert_eq!(&labels[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Pixels are scaled by 1/16: the raw sum is 561718, the first image's 294.
    let px = x.to_f64_vec();
    assert!((px.iter().sum::<f64>() * 16.0 - 561_718.0).abs() < 1e-6);
    let first: Vec<f64> = px[..64].iter().map(|p| p * 16.0).collect();
    assert_eq!(first.iter().sum::<f64>(), 294.0);
    assert_eq!(&first[..8], &[0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
    // A missing file is an error naming it.
    let e = digits(std::path::Path::new("no/such/digits.npz")).unwrap_err();
    assert!(e.message().contains("digits.npz"), "{e}");
}

#[test]
fn a_stratified_split_keeps_each_class_share() {
    let (_, y) = digits(&digits_path()).unwrap();
    let labels = y.to_vec::<i64>();
    let (train, test) = stratified_split(&labels, 1.0 / 3.0, 0).unwrap();
    assert_eq!(train.len() + test.len(), 1797);
    let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
    all.sort_unstable();
    assert!(
        all.iter().enumerate().all(|(i, r)| i == *r),
        "a row is missing or repeated"
    );
    for c in 0..10 {
        let n = labels.iter().filter(|l| **l == c).count() as f64;
        let t = test.iter().filter(|&&i| labels[i] == c).count() as f64;
        assert_eq!(t, (n / 3.0).round(), "class {c}");
    }
    assert_eq!(
        stratified_split(&labels, 1.0 / 3.0, 0).unwrap(),
        (train.clone(), test.clone())
    );
    assert_ne!(stratified_split(&labels, 1.0 / 3.0, 1).unwrap().1, test);
    assert!(stratified_split(&labels, 1.5, 0).is_err());
}

#[test]
fn calibration_scores_by_hand() {
    // Four rows, two classes. Confidences 0.9 (right), 0.6 (wrong), 0.6
    // (right), 1.0 (right); 10 bins: bin (0.8, 0.9] holds 0.9, bin
    // (0.5, 0.6] the two 0.6, bin (0.9, 1.0] the 1.0.
    let p = [0.9, 0.1, 0.4, 0.6, 0.6, 0.4, 0.0, 1.0];
    let labels = [0, 0, 0, 1];
    let s = theon_examples::calibration::scores(&p, 2, &labels, 10);
    assert_eq!(s.accuracy, 0.75);
    let nll = -(0.9f64.ln() + 0.4f64.ln() + 0.6f64.ln() + 1.0f64.ln()) / 4.0;
    assert!((s.nll - nll).abs() < 1e-15);
    // ECE = 1/4 |1 - 0.9| + 2/4 |0.5 - 0.6| + 1/4 |1 - 1| = 0.075.
    assert!((s.ece - 0.075).abs() < 1e-12, "{}", s.ece);
    assert_eq!(
        s.bins.iter().map(|b| b.count).collect::<Vec<_>>(),
        [0, 0, 0, 0, 0, 2, 0, 0, 1, 1]
    );
    assert!((s.confidence - 0.775).abs() < 1e-15);
}
