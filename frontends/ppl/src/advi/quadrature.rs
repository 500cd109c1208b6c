//! Moments of a transformed Gaussian, E[f(U)] for U ~ Normal(mu, sd), by
//! Gauss-Hermite quadrature: deterministic and exact to rounding for the
//! smooth transforms (exp, sigmoid), where 4000 draws would differ from
//! call to call by a few percent.

use std::sync::OnceLock;

/// Nodes and weights of the 64-point rule for the weight exp(-x^2)
/// (Newton's method on the orthonormal Hermite recurrence, as Numerical
/// Recipes' `gauher`).
fn rule() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| {
        const N: usize = 64;
        let pim4 = std::f64::consts::PI.powf(-0.25);
        let (mut x, mut w) = (vec![0.0; N], vec![0.0; N]);
        let nf = N as f64;
        let mut z = 0.0f64;
        for i in 0..N.div_ceil(2) {
            z = match i {
                0 => (2.0 * nf + 1.0).sqrt() - 1.85575 * (2.0 * nf + 1.0).powf(-0.16667),
                1 => z - 1.14 * nf.powf(0.426) / z,
                2 => 1.86 * z - 0.86 * x[0],
                3 => 1.91 * z - 0.91 * x[1],
                _ => 2.0 * z - x[i - 2],
            };
            let mut pp = 0.0;
            for _ in 0..100 {
                let (mut p1, mut p2) = (pim4, 0.0);
                for j in 1..=N {
                    let p3 = p2;
                    p2 = p1;
                    let jf = j as f64;
                    p1 = z * (2.0 / jf).sqrt() * p2 - ((jf - 1.0) / jf).sqrt() * p3;
                }
                pp = (2.0 * nf).sqrt() * p2;
                let z1 = z;
                z = z1 - p1 / pp;
                if (z - z1).abs() <= 1e-15 * z.abs().max(1.0) {
                    break;
                }
            }
            x[i] = z;
            x[N - 1 - i] = -z;
            w[i] = 2.0 / (pp * pp);
            w[N - 1 - i] = w[i];
        }
        (x, w)
    })
}

/// (mean, sd) of f(U) for U ~ Normal(mu, sd).
pub fn moments(f: impl Fn(f64) -> f64, mu: f64, sd: f64) -> (f64, f64) {
    let (x, w) = rule();
    let norm = std::f64::consts::PI.sqrt();
    let (mut m1, mut m2) = (0.0, 0.0);
    for (xi, wi) in x.iter().zip(w) {
        let v = f(mu + std::f64::consts::SQRT_2 * sd * xi);
        m1 += wi * v;
        m2 += wi * v * v;
    }
    let (m1, m2) = (m1 / norm, m2 / norm);
    (m1, (m2 - m1 * m1).max(0.0).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_normal_moments_and_the_weights_integrate_polynomials() {
        // E[1] = 1, E[U^2] = sd^2 + mu^2, E[U^4] for N(0,1) = 3.
        assert!((moments(|_| 1.0, 0.3, 2.0).0 - 1.0).abs() < 1e-14);
        assert!((moments(|u| u * u, 0.5, 1.5).0 - (2.25 + 0.25)).abs() < 1e-12);
        assert!((moments(|u| u.powi(4), 0.0, 1.0).0 - 3.0).abs() < 1e-12);
        for (mu, sd) in [(0.0, 0.1), (-1.3, 0.7), (2.0, 1.5)] {
            let (m, s) = moments(f64::exp, mu, sd);
            let want = (mu + sd * sd / 2.0f64).exp();
            let want_sd = want * ((sd * sd).exp() - 1.0).sqrt();
            assert!((m / want - 1.0).abs() < 1e-12, "{m} vs {want}");
            assert!((s / want_sd - 1.0).abs() < 1e-9, "{s} vs {want_sd}");
        }
    }
}
