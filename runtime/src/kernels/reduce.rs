//! Reductions over any set of axes.

use super::layout::{contiguous_strides, for_each_offset};

/// Output shape of reducing `axes` of `shape` (kept as size 1 when `keepdims`).
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(a, &d)| {
            if axes.contains(&a) {
                keepdims.then_some(1)
            } else {
                Some(d)
            }
        })
        .collect()
}

/// Strides that map an input element to its output slot (0 on reduced axes).
fn out_strides(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let kept: Vec<usize> = (0..shape.len())
        .map(|a| if axes.contains(&a) { 1 } else { shape[a] })
        .collect();
    let cs = contiguous_strides(&kept);
    (0..shape.len())
        .map(|a| if axes.contains(&a) { 0 } else { cs[a] })
        .collect()
}

/// Fold every output slot's elements with `fold` starting from `init`.
/// Returns the accumulators in output order (keepdims or not, the order is the same).
pub fn fold_axes<T: Copy, A: Copy>(
    x: &[T],
    shape: &[usize],
    axes: &[usize],
    init: A,
    fold: impl Fn(A, T) -> A,
) -> Vec<A> {
    let n_out: usize = shape
        .iter()
        .enumerate()
        .filter(|(a, _)| !axes.contains(a))
        .map(|(_, d)| d)
        .product();
    let mut acc = vec![init; n_out];
    let s_in = contiguous_strides(shape);
    let s_out = out_strides(shape, axes);
    for_each_offset(shape, [&s_in, &s_out], |_, [i, o]| {
        acc[o] = fold(acc[o], x[i])
    });
    acc
}

/// Number of elements folded into each output slot.
pub fn reduced_count(shape: &[usize], axes: &[usize]) -> usize {
    axes.iter().map(|&a| shape[a]).product()
}

/// Index along `axis` of the first maximum (NaN counts as maximal, as in NumPy).
pub fn argmax_axis<T: Copy + PartialOrd>(
    x: &[T],
    shape: &[usize],
    axis: usize,
    is_nan: impl Fn(T) -> bool,
) -> Vec<i64> {
    let outer: usize = shape[..axis].iter().product();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| x[(o * len + k) * inner + i];
            let mut best = 0;
            for k in 1..len {
                if is_nan(at(best)) {
                    break;
                }
                if is_nan(at(k)) || at(k) > at(best) {
                    best = k;
                }
            }
            out.push(best as i64);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_over_axes() {
        // x[i, j, k] = 100 i + 10 j + k, shape (2, 3, 2)
        let x: Vec<f64> = (0..2)
            .flat_map(|i| {
                (0..3).flat_map(move |j| (0..2).map(move |k| (100 * i + 10 * j + k) as f64))
            })
            .collect();
        let s = fold_axes(&x, &[2, 3, 2], &[1], 0.0, |a, v| a + v);
        // sum over j of (100 i + 10 j + k) = 300 i + 30 + 3 k
        assert_eq!(s, vec![30.0, 33.0, 330.0, 333.0]);
        let s = fold_axes(&x, &[2, 3, 2], &[0, 2], 0.0, |a, v| a + v);
        // sum over i, k = (0 + 100) * 2 + 4 * 10 j + (0 + 1) * 2
        assert_eq!(s, vec![202.0, 242.0, 282.0]);
        assert_eq!(reduced_shape(&[2, 3, 2], &[0, 2], true), vec![1, 3, 1]);
        assert_eq!(reduced_shape(&[2, 3, 2], &[0, 2], false), vec![3]);
    }

    #[test]
    fn argmax_first_max_and_nan() {
        let x = [1.0, 5.0, 5.0, 0.0, f64::NAN, 2.0];
        assert_eq!(argmax_axis(&x, &[2, 3], 1, f64::is_nan), vec![1, 1]);
        assert_eq!(argmax_axis(&x, &[2, 3], 0, f64::is_nan), vec![0, 1, 0]);
    }
}
