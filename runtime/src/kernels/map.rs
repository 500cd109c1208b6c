//! Elementwise maps with NumPy broadcasting.

use super::layout::{broadcast_strides, contiguous_strides, for_each_offset};

/// `f` over every element.
pub fn unary<A: Copy, O>(x: &[A], f: impl Fn(A) -> O) -> Vec<O> {
    x.iter().map(|&v| f(v)).collect()
}

/// `f(a, b)` with `a` and `b` broadcast to `out_shape`.
pub fn binary<A: Copy, B: Copy, O>(
    a: &[A],
    a_shape: &[usize],
    b: &[B],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(A, B) -> O,
) -> Vec<O> {
    if a_shape == out_shape && b_shape == out_shape {
        return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
    }
    let n: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    for_each_offset(out_shape, [&sa, &sb], |_, [i, j]| out.push(f(a[i], b[j])));
    out
}

/// `f(a, b, c)` with all three broadcast to `out_shape`.
#[allow(clippy::too_many_arguments)]
pub fn ternary<A: Copy, B: Copy, C: Copy, O>(
    a: &[A],
    a_shape: &[usize],
    b: &[B],
    b_shape: &[usize],
    c: &[C],
    c_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(A, B, C) -> O,
) -> Vec<O> {
    let n: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    let sc = broadcast_strides(c_shape, out_shape);
    for_each_offset(out_shape, [&sa, &sb, &sc], |_, [i, j, k]| {
        out.push(f(a[i], b[j], c[k]))
    });
    out
}

/// Copy `x` broadcast to `out_shape`.
pub fn broadcast_to<T: Copy>(x: &[T], shape: &[usize], out_shape: &[usize]) -> Vec<T> {
    if shape == out_shape {
        return x.to_vec();
    }
    let n: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(n);
    let s = broadcast_strides(shape, out_shape);
    for_each_offset(out_shape, [&s], |_, [i]| out.push(x[i]));
    out
}

/// Sum `x` (of `shape`) down to `target` shape, undoing a broadcast: the
/// reduction a gradient needs. `target` must broadcast to `shape`.
pub fn sum_to<T: Copy + std::ops::Add<Output = T> + Default>(
    x: &[T],
    shape: &[usize],
    target: &[usize],
) -> Vec<T> {
    let n: usize = target.iter().product();
    let mut out = vec![T::default(); n];
    let s_out = broadcast_strides(target, shape);
    let s_in = contiguous_strides(shape);
    for_each_offset(shape, [&s_in, &s_out], |_, [i, o]| out[o] = out[o] + x[i]);
    out
}
