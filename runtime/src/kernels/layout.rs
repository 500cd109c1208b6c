//! Strides, broadcasting and n-d iteration.

/// Row-major strides (in elements) of a contiguous tensor.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![0; shape.len()];
    let mut acc = 1;
    for a in (0..shape.len()).rev() {
        s[a] = acc;
        acc *= shape[a];
    }
    s
}

/// Strides for reading a contiguous tensor of `in_shape` as if broadcast to
/// `out_shape` (right-aligned; broadcast dims get stride 0).
pub fn broadcast_strides(in_shape: &[usize], out_shape: &[usize]) -> Vec<usize> {
    let cs = contiguous_strides(in_shape);
    let off = out_shape.len() - in_shape.len();
    (0..out_shape.len())
        .map(|a| {
            if a < off {
                0
            } else {
                let d = in_shape[a - off];
                if d == 1 && out_shape[a] != 1 {
                    0
                } else {
                    cs[a - off]
                }
            }
        })
        .collect()
}

/// Calls `f(k, offsets)` for every element `k` of `shape` in row-major order,
/// with `offsets[i]` the element offset into input `i` given its `strides[i]`.
pub fn for_each_offset<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    mut f: impl FnMut(usize, [usize; N]),
) {
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let rank = shape.len();
    if rank == 0 {
        f(0, [0; N]);
        return;
    }
    let last = rank - 1;
    let inner = shape[last];
    let inner_strides: [usize; N] = std::array::from_fn(|i| strides[i][last]);
    let mut idx = vec![0usize; rank];
    let mut base = [0usize; N];
    let mut k = 0;
    loop {
        let mut off = base;
        for _ in 0..inner {
            f(k, off);
            k += 1;
            for i in 0..N {
                off[i] += inner_strides[i];
            }
        }
        // Advance the odometer over the outer dims.
        let mut a = last;
        loop {
            if a == 0 {
                return;
            }
            a -= 1;
            idx[a] += 1;
            for i in 0..N {
                base[i] += strides[i][a];
            }
            if idx[a] < shape[a] {
                break;
            }
            for i in 0..N {
                base[i] -= strides[i][a] * shape[a];
            }
            idx[a] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides() {
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
        assert_eq!(broadcast_strides(&[], &[2]), vec![0]);
    }

    #[test]
    fn iterates_row_major_with_broadcast() {
        let mut seen = vec![];
        let s_full = contiguous_strides(&[2, 3]);
        let s_row = broadcast_strides(&[3], &[2, 3]);
        for_each_offset(&[2, 3], [&s_full, &s_row], |k, [a, b]| seen.push((k, a, b)));
        assert_eq!(
            seen,
            vec![
                (0, 0, 0),
                (1, 1, 1),
                (2, 2, 2),
                (3, 3, 0),
                (4, 4, 1),
                (5, 5, 2)
            ]
        );
    }
}
