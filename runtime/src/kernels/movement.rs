//! Data movement: permutation, strided slicing, gathering, concatenation.

use super::layout::{contiguous_strides, for_each_offset};

/// Copy `x` with its axes permuted: output axis `a` is input axis `perm[a]`.
pub fn permute<T: Copy>(x: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    let cs = contiguous_strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let strides: Vec<usize> = perm.iter().map(|&p| cs[p]).collect();
    let mut out = Vec::with_capacity(x.len());
    for_each_offset(&out_shape, [&strides], |_, [i]| out.push(x[i]));
    out
}

/// One axis of a normalized slice: element `i` of the output reads input
/// index `start + i * step`, for `i < len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AxisSlice {
    pub start: usize,
    pub step: isize,
    pub len: usize,
}

/// Python slice semantics: normalize `start:stop:step` (negative indices
/// count from the end, out-of-range bounds clip) for an axis of `dim`.
pub fn normalize_slice(start: Option<i64>, stop: Option<i64>, step: i64, dim: usize) -> AxisSlice {
    let d = dim as i64;
    let (lo, hi) = if step > 0 { (0, d) } else { (-1, d - 1) };
    let clip = |v: i64| -> i64 {
        let v = if v < 0 { v + d } else { v };
        v.clamp(lo, hi)
    };
    let start = start.map_or(if step > 0 { lo } else { hi }, clip);
    let stop = stop.map_or(if step > 0 { hi } else { lo }, clip);
    // In i128: a step near i64::MAX must not overflow.
    let (s, e, st) = (start as i128, stop as i128, step as i128);
    let len = if st > 0 {
        if e > s { (e - s + st - 1) / st } else { 0 }
    } else if s > e {
        (s - e - st - 1) / -st
    } else {
        0
    } as i64;
    AxisSlice {
        start: if len > 0 { start as usize } else { 0 },
        step: step as isize,
        len: len as usize,
    }
}

/// Copy the strided sub-block `slices` (one per axis) out of `x`.
pub fn slice<T: Copy>(x: &[T], shape: &[usize], slices: &[AxisSlice]) -> Vec<T> {
    let cs = contiguous_strides(shape);
    let out_shape: Vec<usize> = slices.iter().map(|s| s.len).collect();
    let n: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let base: isize = slices
        .iter()
        .zip(&cs)
        .map(|(s, &c)| (s.start * c) as isize)
        .sum();
    // Offsets may step backwards: iterate with signed strides.
    let strides: Vec<isize> = slices
        .iter()
        .zip(&cs)
        .map(|(s, &c)| s.step * c as isize)
        .collect();
    let rank = shape.len();
    let mut idx = vec![0usize; rank];
    let mut off = base;
    loop {
        out.push(x[off as usize]);
        let mut a = rank;
        loop {
            if a == 0 {
                return out;
            }
            a -= 1;
            idx[a] += 1;
            off += strides[a];
            if idx[a] < out_shape[a] {
                break;
            }
            off -= strides[a] * out_shape[a] as isize;
            idx[a] = 0;
        }
    }
}

/// Write `src` into the strided sub-block `slices` of `dst` (adding when
/// `accumulate`, for the gradient of a slice).
pub fn slice_assign<T: Copy + std::ops::Add<Output = T>>(
    dst: &mut [T],
    shape: &[usize],
    slices: &[AxisSlice],
    src: &[T],
    accumulate: bool,
) {
    let cs = contiguous_strides(shape);
    let out_shape: Vec<usize> = slices.iter().map(|s| s.len).collect();
    let n: usize = out_shape.iter().product();
    if n == 0 {
        return;
    }
    let base: isize = slices
        .iter()
        .zip(&cs)
        .map(|(s, &c)| (s.start * c) as isize)
        .sum();
    let strides: Vec<isize> = slices
        .iter()
        .zip(&cs)
        .map(|(s, &c)| s.step * c as isize)
        .collect();
    let rank = shape.len();
    let mut idx = vec![0usize; rank];
    let mut off = base;
    let mut k = 0;
    loop {
        let d = &mut dst[off as usize];
        *d = if accumulate { *d + src[k] } else { src[k] };
        k += 1;
        let mut a = rank;
        loop {
            if a == 0 {
                return;
            }
            a -= 1;
            idx[a] += 1;
            off += strides[a];
            if idx[a] < out_shape[a] {
                break;
            }
            off -= strides[a] * out_shape[a] as isize;
            idx[a] = 0;
        }
    }
}

/// Gather along `axis`: output shape is `shape[..axis] ++ n_idx ++ shape[axis+1..]`
/// for `n_idx` (already validated, non-negative) indices.
pub fn take<T: Copy>(x: &[T], shape: &[usize], axis: usize, indices: &[usize]) -> Vec<T> {
    let outer: usize = shape[..axis].iter().product();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &i in indices {
            let start = (o * len + i) * inner;
            out.extend_from_slice(&x[start..start + inner]);
        }
    }
    out
}

/// Scatter-add: the adjoint of `take` (rows of `src` added at `indices`).
pub fn take_adjoint<T: Copy + std::ops::Add<Output = T>>(
    dst: &mut [T],
    shape: &[usize],
    axis: usize,
    indices: &[usize],
    src: &[T],
) {
    let outer: usize = shape[..axis].iter().product();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut k = 0;
    for o in 0..outer {
        for &i in indices {
            let start = (o * len + i) * inner;
            for d in &mut dst[start..start + inner] {
                *d = *d + src[k];
                k += 1;
            }
        }
    }
}

/// Concatenate along `axis` tensors whose shapes agree elsewhere.
pub fn concat<T: Copy>(parts: &[(&[T], &[usize])], axis: usize) -> Vec<T> {
    let Some((_, shape0)) = parts.first() else {
        return vec![];
    };
    let outer: usize = shape0[..axis].iter().product();
    let total: usize = parts.iter().map(|(x, _)| x.len()).sum();
    let mut out = Vec::with_capacity(total);
    for o in 0..outer {
        for (x, shape) in parts {
            let block: usize = shape[axis..].iter().product();
            out.extend_from_slice(&x[o * block..(o + 1) * block]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_slices() {
        let s = |a, b, st| normalize_slice(a, b, st, 5);
        assert_eq!(
            s(None, None, 1),
            AxisSlice {
                start: 0,
                step: 1,
                len: 5
            }
        );
        assert_eq!(
            s(Some(1), Some(4), 2),
            AxisSlice {
                start: 1,
                step: 2,
                len: 2
            }
        );
        assert_eq!(
            s(None, None, -1),
            AxisSlice {
                start: 4,
                step: -1,
                len: 5
            }
        );
        assert_eq!(
            s(Some(-2), None, 1),
            AxisSlice {
                start: 3,
                step: 1,
                len: 2
            }
        );
        assert_eq!(s(Some(10), None, 1).len, 0);
        assert_eq!(
            s(Some(3), Some(1), -1),
            AxisSlice {
                start: 3,
                step: -1,
                len: 2
            }
        );
        assert_eq!(
            s(None, Some(-6), -2),
            AxisSlice {
                start: 4,
                step: -2,
                len: 3
            }
        );
    }

    #[test]
    fn slice_and_assign_roundtrip() {
        let x: Vec<i64> = (0..12).collect(); // (3, 4)
        let sl = [
            normalize_slice(None, None, -1, 3),
            normalize_slice(Some(1), None, 2, 4),
        ];
        let y = slice(&x, &[3, 4], &sl);
        assert_eq!(y, vec![9, 11, 5, 7, 1, 3]);
        let mut z = vec![0i64; 12];
        slice_assign(&mut z, &[3, 4], &sl, &y, false);
        assert_eq!(z, vec![0, 1, 0, 3, 0, 5, 0, 7, 0, 9, 0, 11]);
    }

    #[test]
    fn permute_take_concat() {
        let x: Vec<i64> = (0..6).collect(); // (2, 3)
        assert_eq!(permute(&x, &[2, 3], &[1, 0]), vec![0, 3, 1, 4, 2, 5]);
        assert_eq!(take(&x, &[2, 3], 1, &[2, 0, 2]), vec![2, 0, 2, 5, 3, 5]);
        let y = [10i64, 11];
        assert_eq!(
            concat(&[(&x, &[2, 3]), (&y, &[2, 1])], 1),
            vec![0, 1, 2, 10, 3, 4, 5, 11]
        );
    }
}
