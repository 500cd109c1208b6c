//! Counter-based random streams.
//!
//! A random stream's state is `(seed, counter)`; the compiler keeps it in a
//! shared variable and advances the counter once per call. Every random node
//! of a graph has its own `draw` id. The values a node gets on a call are a
//! pure function of `(seed, counter, draw)`, so they do not depend on the
//! order nodes run in, the interpreter and the JIT produce the same bits,
//! and a seed reproduces a whole run.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Binomial, Distribution, Gamma, Poisson, StandardNormal};

/// The state of a random stream: a seed and the number of calls made.
/// Stored as an int64 tensor `[seed, counter]` (a shared variable), so
/// compiled code reads it like any other buffer; this type is the one
/// place that layout is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngState {
    pub seed: u64,
    pub counter: u64,
}

impl RngState {
    /// Elements of the stored state.
    pub const LEN: usize = 2;

    pub fn new(seed: u64) -> RngState {
        RngState { seed, counter: 0 }
    }
    /// Read a stored state.
    pub fn read(words: &[i64]) -> Result<RngState> {
        match words {
            &[seed, counter] => Ok(RngState {
                seed: seed as u64,
                counter: counter as u64,
            }),
            _ => Err(Error::shape(format!(
                "a random stream's state has {} elements, got {}",
                Self::LEN,
                words.len()
            ))),
        }
    }
    /// Read a stored state from its tensor.
    pub fn from_tensor(t: &Tensor) -> Result<RngState> {
        RngState::read(t.as_slice::<i64>()?)
    }
    /// The stored form.
    pub fn to_tensor(self) -> Tensor {
        Tensor::vector(vec![self.seed as i64, self.counter as i64])
    }
    /// The state `calls` calls later (or earlier, with `back`).
    pub fn advanced(self, calls: u64) -> RngState {
        RngState {
            counter: self.counter.wrapping_add(calls),
            ..self
        }
    }
    pub fn back(self, calls: u64) -> RngState {
        RngState {
            counter: self.counter.wrapping_sub(calls),
            ..self
        }
    }
    /// Advance a stored state by one call, in place.
    pub fn advance_stored(t: &mut Tensor) -> Result<()> {
        let next = RngState::from_tensor(t)?.advanced(1);
        let words = t.as_slice_mut::<i64>()?;
        words[1] = next.counter as i64;
        Ok(())
    }
}

/// SplitMix64 finalizer: a bijective 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// The generator for one node on one call.
pub fn generator(seed: u64, counter: u64, draw: u64) -> Xoshiro256PlusPlus {
    let k = mix64(mix64(mix64(seed) ^ counter) ^ draw.wrapping_mul(0xD1B54A32D192ED03));
    Xoshiro256PlusPlus::seed_from_u64(k)
}

/// Standard normal draws (ziggurat), computed in f64 and rounded to `T`.
pub fn fill_normal<T: Float>(out: &mut [T], seed: u64, counter: u64, draw: u64) {
    let mut g = generator(seed, counter, draw);
    for x in out {
        let z: f64 = StandardNormal.sample(&mut g);
        *x = T::from_f64(z);
    }
}

/// Uniform draws in [0, 1) with 53 random bits, rounded to `T`. For f32 a
/// value that rounds up to 1.0 is replaced by the largest f32 below 1.
pub fn fill_uniform<T: Float>(out: &mut [T], seed: u64, counter: u64, draw: u64) {
    let mut g = generator(seed, counter, draw);
    let below_one = T::from_f64(1.0 - f32::EPSILON as f64 / 2.0);
    for x in out {
        let u: f64 = g.random::<f64>();
        let v = T::from_f64(u);
        *x = if v >= T::ONE { below_one } else { v };
    }
}

/// Uniform integers in [low, high).
pub fn fill_integers(
    out: &mut [i64],
    low: i64,
    high: i64,
    seed: u64,
    counter: u64,
    draw: u64,
) -> Result<()> {
    if low >= high {
        return Err(Error::value(format!(
            "integers(low={low}, high={high}): need low < high"
        )));
    }
    let mut g = generator(seed, counter, draw);
    for x in out {
        *x = g.random_range(low..high);
    }
    Ok(())
}

/// Poisson draws with per-element rates (already broadcast to `out`).
pub fn fill_poisson<T: Float>(
    out: &mut [T],
    rate: &[T],
    seed: u64,
    counter: u64,
    draw: u64,
) -> Result<()> {
    let mut g = generator(seed, counter, draw);
    for (x, &lam) in out.iter_mut().zip(rate) {
        let lam = lam.to_f64();
        *x = if lam == 0.0 {
            T::ZERO
        } else {
            let d = Poisson::new(lam)
                .map_err(|e| Error::value(format!("poisson rate {lam}: {e} (need rate >= 0)")))?;
            T::from_f64(d.sample(&mut g))
        };
    }
    Ok(())
}

/// Gamma(shape = alpha, scale = 1) draws with per-element alpha.
pub fn fill_gamma<T: Float>(
    out: &mut [T],
    alpha: &[T],
    seed: u64,
    counter: u64,
    draw: u64,
) -> Result<()> {
    let mut g = generator(seed, counter, draw);
    for (x, &a) in out.iter_mut().zip(alpha) {
        let a = a.to_f64();
        let d = Gamma::new(a, 1.0)
            .map_err(|e| Error::value(format!("gamma shape {a}: {e} (need shape > 0)")))?;
        *x = T::from_f64(d.sample(&mut g));
    }
    Ok(())
}

/// Binomial(n, p) draws with per-element n and p.
pub fn fill_binomial<T: Float>(
    out: &mut [T],
    n: &[T],
    p: &[T],
    seed: u64,
    counter: u64,
    draw: u64,
) -> Result<()> {
    let mut g = generator(seed, counter, draw);
    for ((x, &n), &p) in out.iter_mut().zip(n).zip(p) {
        let (n, p) = (n.to_f64(), p.to_f64());
        if n < 0.0 || n.fract() != 0.0 {
            return Err(Error::value(format!(
                "binomial n = {n}: need a non-negative integer"
            )));
        }
        let d = Binomial::new(n as u64, p)
            .map_err(|e| Error::value(format!("binomial p = {p}: {e} (need 0 <= p <= 1)")))?;
        *x = T::from_f64(d.sample(&mut g) as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_draws_other_counter_other_draws() {
        let mut a = [0.0f64; 16];
        let mut b = [0.0f64; 16];
        fill_normal(&mut a, 7, 3, 1);
        fill_normal(&mut b, 7, 3, 1);
        assert_eq!(a, b);
        fill_normal(&mut b, 7, 4, 1);
        assert_ne!(a, b);
        fill_normal(&mut b, 7, 3, 2);
        assert_ne!(a, b);
    }

    #[test]
    fn normal_moments() {
        let mut v = vec![0.0f64; 200_000];
        fill_normal(&mut v, 1, 0, 0);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance.
        assert!(mean.abs() < 0.011, "mean {mean}");
        assert!((var - 1.0).abs() < 0.016, "var {var}");
    }

    #[test]
    fn uniform_in_unit_interval() {
        let mut v = vec![0.0f32; 100_000];
        fill_uniform(&mut v, 2, 0, 0);
        assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    }

    #[test]
    fn integers_cover_range_and_reject_empty() {
        let mut v = vec![0i64; 10_000];
        fill_integers(&mut v, -2, 3, 5, 0, 0).unwrap();
        for k in -2..3 {
            assert!(v.contains(&k));
        }
        assert!(v.iter().all(|&x| (-2..3).contains(&x)));
        let err = fill_integers(&mut v, 3, 3, 5, 0, 0).unwrap_err();
        assert!(err.to_string().contains("need low < high"), "{err}");
    }
}
