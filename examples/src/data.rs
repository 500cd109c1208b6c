//! Data sets of the examples: two moons (scikit-learn's `make_moons`), a
//! k-arm spiral, standardization, a seeded split, and the CSV layout of
//! `data/moons` (at the repository root).

use std::f64::consts::PI;
use std::path::Path;
use theon::prelude::*;

/// A classification split: inputs (rows x features) and integer labels.
pub struct Split {
    pub x_train: Tensor,
    pub y_train: Tensor,
    pub x_test: Tensor,
    pub y_test: Tensor,
}

/// A seeded permutation of 0..n.
fn permutation(n: usize, seed: u64) -> Result<Vec<usize>> {
    let keys = Tensor::rand_uniform(DType::F64, &[n], 0.0, 1.0, seed)?.to_f64_vec();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    Ok(idx)
}

/// scikit-learn's `make_moons(n, noise)`: two interleaved half circles,
/// Gaussian noise, rows shuffled. Labels 0 (outer) and 1 (inner).
pub fn moons(n: usize, noise: f64, seed: u64) -> Result<(Vec<[f64; 2]>, Vec<i64>)> {
    let n_out = n / 2;
    let n_in = n - n_out;
    let lin = |k: usize, i: usize| {
        if k > 1 {
            PI * i as f64 / (k - 1) as f64
        } else {
            0.0
        }
    };
    let mut pts: Vec<([f64; 2], i64)> = (0..n_out)
        .map(|i| ([lin(n_out, i).cos(), lin(n_out, i).sin()], 0))
        .collect();
    pts.extend((0..n_in).map(|i| {
        (
            [1.0 - lin(n_in, i).cos(), 1.0 - lin(n_in, i).sin() - 0.5],
            1,
        )
    }));
    let eps = Tensor::randn(DType::F64, &[n, 2], seed).to_f64_vec();
    let order = permutation(n, seed.wrapping_add(1))?;
    let x = order
        .iter()
        .map(|&i| {
            [
                pts[i].0[0] + noise * eps[2 * i],
                pts[i].0[1] + noise * eps[2 * i + 1],
            ]
        })
        .collect();
    let y = order.iter().map(|&i| pts[i].1).collect();
    Ok((x, y))
}

/// A `k`-arm spiral in the plane, `n` points per arm, labels 0..k.
pub fn spiral(n: usize, k: usize, noise: f64, seed: u64) -> Result<(Vec<[f64; 2]>, Vec<i64>)> {
    let eps = Tensor::randn(DType::F64, &[n * k], seed).to_f64_vec();
    let mut pts = vec![];
    for c in 0..k {
        for i in 0..n {
            let r = 0.1 + 0.9 * i as f64 / n as f64;
            let t = 1.75 * PI * r + 2.0 * PI * c as f64 / k as f64 + noise * eps[c * n + i];
            pts.push(([r * t.cos(), r * t.sin()], c as i64));
        }
    }
    let order = permutation(pts.len(), seed.wrapping_add(1))?;
    Ok((
        order.iter().map(|&i| pts[i].0).collect(),
        order.iter().map(|&i| pts[i].1).collect(),
    ))
}

/// Center and scale each column to mean 0, standard deviation 1
/// (scikit-learn's `scale`: the population standard deviation).
pub fn standardize(x: &mut [[f64; 2]]) {
    for c in 0..2 {
        let n = x.len() as f64;
        let mean = x.iter().map(|r| r[c]).sum::<f64>() / n;
        let sd = (x.iter().map(|r| (r[c] - mean).powi(2)).sum::<f64>() / n).sqrt();
        for r in x.iter_mut() {
            r[c] = (r[c] - mean) / sd;
        }
    }
}

/// Split rows into train and test halves after a seeded shuffle.
pub fn split(x: &[[f64; 2]], y: &[i64], test_fraction: f64, seed: u64) -> Result<Split> {
    let order = permutation(x.len(), seed)?;
    let n_test = (x.len() as f64 * test_fraction).round() as usize;
    let (test, train) = order.split_at(n_test);
    let xs = |rows: &[usize]| {
        Tensor::new(
            rows.iter().flat_map(|&i| x[i]).collect::<Vec<f64>>(),
            &[rows.len(), 2],
        )
    };
    let ys = |rows: &[usize]| Tensor::vector(rows.iter().map(|&i| y[i]).collect::<Vec<i64>>());
    Ok(Split {
        x_train: xs(train)?,
        y_train: ys(train),
        x_test: xs(test)?,
        y_test: ys(test),
    })
}

/// Read `X_train.csv`, `X_test.csv`, `Y_train.csv`, `Y_test.csv` from `dir`.
pub fn read_split(dir: &Path) -> Result<Split> {
    let read = |name: &str| read_csv(dir.join(name));
    let labels = |t: Tensor| -> Result<Tensor> {
        let v = t.to_f64_vec();
        if let Some(bad) = v
            .iter()
            .find(|y| **y != 0.0 && **y != 1.0 && y.fract() != 0.0)
        {
            return Err(Error::value(format!(
                "labels must be integers, found {bad}"
            )));
        }
        Ok(Tensor::vector(
            v.into_iter().map(|y| y as i64).collect::<Vec<i64>>(),
        ))
    };
    let s = Split {
        x_train: read("X_train.csv")?,
        y_train: labels(read("Y_train.csv")?)?,
        x_test: read("X_test.csv")?,
        y_test: labels(read("Y_test.csv")?)?,
    };
    for (what, x, y) in [
        ("train", &s.x_train, &s.y_train),
        ("test", &s.x_test, &s.y_test),
    ] {
        if x.rank() != 2 || x.shape()[1] != s.x_train.shape()[1] || x.shape()[0] != y.len() {
            return Err(Error::shape(format!(
                "{what}: X has shape {:?} and Y {} rows; expected (n, features) and n, with the training set's features",
                x.shape(),
                y.len()
            )));
        }
    }
    Ok(s)
}

/// The tasks of the hierarchical network (Wiecki, "Hierarchical Bayesian
/// Neural Networks with Informative Priors", 2018): `tasks` two-moons sets
/// of `n` points with `noise`, each standardized and rotated by its own
/// angle ~ Normal(0, 90°); the first half of each task's (shuffled) rows
/// train, the rest test. Inputs are `[tasks, rows, 2]`, labels
/// `[tasks, rows]` (as f64 0/1), and the angles in degrees.
pub struct Tasks {
    pub x_train: Tensor,
    pub y_train: Tensor,
    pub x_test: Tensor,
    pub y_test: Tensor,
    pub angles: Vec<f64>,
}

pub fn rotated_moons(tasks: usize, n: usize, noise: f64, seed: u64) -> Result<Tasks> {
    if tasks == 0 || n < 2 {
        return Err(Error::value(format!(
            "rotated_moons: needs at least one task and two points, got {tasks} and {n}"
        )));
    }
    let angles: Vec<f64> = Tensor::randn(DType::F64, &[tasks], seed ^ 0x00a7_61e5)
        .to_f64_vec()
        .iter()
        .map(|z| z * 90.0)
        .collect();
    let half = n / 2;
    let (mut xtr, mut ytr, mut xte, mut yte) = (vec![], vec![], vec![], vec![]);
    for (t, deg) in angles.iter().enumerate() {
        let (mut x, y) = moons(n, noise, seed.wrapping_mul(1000).wrapping_add(t as u64))?;
        standardize(&mut x);
        // Rows times the rotation matrix [[c, -s], [s, c]], as the post.
        let (s, c) = deg.to_radians().sin_cos();
        for (k, (p, label)) in x.iter().zip(&y).enumerate() {
            let r = [p[0] * c + p[1] * s, -p[0] * s + p[1] * c];
            let (xs, ys) = if k < half {
                (&mut xtr, &mut ytr)
            } else {
                (&mut xte, &mut yte)
            };
            xs.extend(r);
            ys.push(*label as f64);
        }
    }
    Ok(Tasks {
        x_train: Tensor::new(xtr, &[tasks, half, 2])?,
        y_train: Tensor::new(ytr, &[tasks, half])?,
        x_test: Tensor::new(xte, &[tasks, n - half, 2])?,
        y_test: Tensor::new(yte, &[tasks, n - half])?,
        angles,
    })
}

/// scikit-learn's handwritten digits (`data/digits/digits.npz`, provenance
/// in its README): 1797 grayscale 8x8 images, pixels 0-16, labels 0-9.
/// Returns images scaled to [0, 1] as `[n, 1, 8, 8]` (NCHW) and labels.
pub fn digits(path: &Path) -> Result<(Tensor, Tensor)> {
    let arrays = theon::runtime::io::read_npz(path)?;
    let get = |name: &str| {
        arrays
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| Error::io(format!("{}: no array '{name}'", path.display())))
    };
    let (x, y) = (get("x")?, get("y")?);
    let n = y.len();
    if x.shape() != [n, 64] || y.rank() != 1 {
        return Err(Error::shape(format!(
            "{}: expected x [n, 64] and y [n], got {:?} and {:?}",
            path.display(),
            x.shape(),
            y.shape()
        )));
    }
    let pixels = x.to_f64_vec();
    if let Some(bad) = pixels.iter().find(|p| !(0.0..=16.0).contains(*p)) {
        return Err(Error::value(format!(
            "{}: pixel value {bad} outside 0-16",
            path.display()
        )));
    }
    let labels = y.to_vec::<i64>();
    if let Some(bad) = labels.iter().find(|l| !(0..10).contains(*l)) {
        return Err(Error::value(format!(
            "{}: label {bad} outside 0-9",
            path.display()
        )));
    }
    let x = Tensor::new(
        pixels.iter().map(|p| p / 16.0).collect::<Vec<f64>>(),
        &[n, 1, 8, 8],
    )?;
    Ok((x, Tensor::vector(labels)))
}

/// Row indices split into (train, test) with `test_fraction` of every
/// class in the test part (rounded per class), each class's rows chosen
/// by a seeded shuffle: scikit-learn's stratified `train_test_split` in
/// spirit (not its exact rows).
pub fn stratified_split(
    labels: &[i64],
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..=1.0).contains(&test_fraction) {
        return Err(Error::value(format!(
            "stratified_split: test_fraction must lie in [0, 1], got {test_fraction}"
        )));
    }
    let order = permutation(labels.len(), seed)?;
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let (mut train, mut test) = (vec![], vec![]);
    for c in classes {
        let rows: Vec<usize> = order.iter().copied().filter(|&i| labels[i] == c).collect();
        let n_test = (rows.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// The rows `idx` of `t` (along its first axis), in that order.
pub fn take_rows(t: &Tensor, idx: &[usize]) -> Result<Tensor> {
    let n = *t
        .shape()
        .first()
        .ok_or_else(|| Error::shape("take_rows: the tensor needs a row axis"))?;
    let row: usize = t.shape()[1..].iter().product();
    let v = t.to_f64_vec();
    let mut out = Vec::with_capacity(idx.len() * row);
    for &i in idx {
        if i >= n {
            return Err(Error::index(format!("take_rows: row {i} of {n}")));
        }
        out.extend_from_slice(&v[i * row..(i + 1) * row]);
    }
    let mut shape = t.shape().to_vec();
    shape[0] = idx.len();
    Ok(Tensor::new(out, &shape)?.cast(t.dtype()))
}
