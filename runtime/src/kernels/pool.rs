//! 2-d max and average pooling over NCHW images, and their gradients.
//!
//! Windows never lie entirely in the padding (type inference requires the
//! padding to be smaller than the window). Padded positions are ignored:
//! the maximum is over the pixels inside the image, the average divides by
//! their number (Keras's and TensorFlow's `same` pooling; PyTorch's
//! `count_include_pad=False`). The maximum propagates NaN, and its gradient
//! goes to the first maximal pixel of the window in row-major order (the
//! first NaN if there is one). These direct loops serve the interpreter and
//! the JIT alike: a window is a handful of pixels, there is no product to
//! hand to a GEMM.

/// The geometry of one pooling (validated by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dGeom {
    /// Images times channels: pooling treats every plane alike.
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Padding before the first row / column.
    pub pad: [usize; 2],
    pub oh: usize,
    pub ow: usize,
}

impl Pool2dGeom {
    /// Lengths of x and y.
    pub fn lens(&self) -> [usize; 2] {
        [
            self.planes * self.h * self.w,
            self.planes * self.oh * self.ow,
        ]
    }

    /// The input rows and columns (half-open ranges) of output (oy, ox).
    #[inline]
    fn window(&self, oy: usize, ox: usize) -> ([usize; 2], [usize; 2]) {
        let span = |o: usize, a: usize, len: usize| {
            let start = o * self.stride[a];
            let lo = start.saturating_sub(self.pad[a]);
            let hi = (start + self.kernel[a])
                .saturating_sub(self.pad[a])
                .min(len);
            [lo, hi]
        };
        (span(oy, 0, self.h), span(ox, 1, self.w))
    }

    /// Call `f(plane offset, output index, rows, cols)` for every window.
    fn for_each_window(&self, mut f: impl FnMut(usize, usize, [usize; 2], [usize; 2])) {
        for p in 0..self.planes {
            for oy in 0..self.oh {
                for ox in 0..self.ow {
                    let (r, c) = self.window(oy, ox);
                    f(p * self.h * self.w, (p * self.oh + oy) * self.ow + ox, r, c);
                }
            }
        }
    }

    /// The input index of the window's maximum (first in row-major order,
    /// NaN counting as maximal).
    fn argmax<T: crate::Float>(
        &self,
        x: &[T],
        plane: usize,
        r: [usize; 2],
        c: [usize; 2],
    ) -> usize {
        let mut best = plane + r[0] * self.w + c[0];
        for y in r[0]..r[1] {
            for xx in c[0]..c[1] {
                let i = plane + y * self.w + xx;
                if x[best].is_nan() {
                    return best;
                }
                if x[i].is_nan() || x[i] > x[best] {
                    best = i;
                }
            }
        }
        best
    }
}

/// Whether the slices have the lengths `g` implies.
fn lens_ok(g: &Pool2dGeom, x: usize, y: usize) -> bool {
    g.lens() == [x, y]
}

/// Max pooling into `y`; false (nothing done) on wrong lengths.
pub fn max_into<T: crate::Float>(g: &Pool2dGeom, x: &[T], y: &mut [T]) -> bool {
    if !lens_ok(g, x.len(), y.len()) {
        return false;
    }
    g.for_each_window(|plane, o, r, c| y[o] = x[g.argmax(x, plane, r, c)]);
    true
}

/// Average pooling into `y`.
pub fn avg_into<T: crate::Float>(g: &Pool2dGeom, x: &[T], y: &mut [T]) -> bool {
    if !lens_ok(g, x.len(), y.len()) {
        return false;
    }
    g.for_each_window(|plane, o, r, c| {
        let mut s = T::ZERO;
        for yy in r[0]..r[1] {
            for &v in &x[plane + yy * g.w + c[0]..plane + yy * g.w + c[1]] {
                s = s + v;
            }
        }
        y[o] = s / T::from_f64(((r[1] - r[0]) * (c[1] - c[0])) as f64);
    });
    true
}

/// The gradient of max pooling's input into `gx`, given x and gy.
pub fn max_grad_into<T: crate::Float>(g: &Pool2dGeom, x: &[T], gy: &[T], gx: &mut [T]) -> bool {
    if !lens_ok(g, x.len(), gy.len()) || gx.len() != x.len() {
        return false;
    }
    gx.fill(T::ZERO);
    g.for_each_window(|plane, o, r, c| {
        let i = g.argmax(x, plane, r, c);
        gx[i] = gx[i] + gy[o];
    });
    true
}

/// The gradient of average pooling's input into `gx`, given gy.
pub fn avg_grad_into<T: crate::Float>(g: &Pool2dGeom, gy: &[T], gx: &mut [T]) -> bool {
    if !lens_ok(g, gx.len(), gy.len()) {
        return false;
    }
    gx.fill(T::ZERO);
    g.for_each_window(|plane, o, r, c| {
        let share = gy[o] / T::from_f64(((r[1] - r[0]) * (c[1] - c[0])) as f64);
        for yy in r[0]..r[1] {
            for d in &mut gx[plane + yy * g.w + c[0]..plane + yy * g.w + c[1]] {
                *d = *d + share;
            }
        }
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_4x4_plane_by_hand() {
        let g = Pool2dGeom {
            planes: 1,
            h: 4,
            w: 4,
            kernel: [2, 2],
            stride: [2, 2],
            pad: [0, 0],
            oh: 2,
            ow: 2,
        };
        let x: Vec<f64> = (0..16).map(f64::from).collect();
        let mut y = vec![0.0; 4];
        assert!(max_into(&g, &x, &mut y));
        assert_eq!(y, vec![5.0, 7.0, 13.0, 15.0]);
        assert!(avg_into(&g, &x, &mut y));
        assert_eq!(y, vec![2.5, 4.5, 10.5, 12.5]);
        let mut gx = vec![0.0; 16];
        assert!(max_grad_into(&g, &x, &[1.0, 2.0, 3.0, 4.0], &mut gx));
        assert_eq!(
            (gx[5], gx[7], gx[13], gx[15], gx.iter().sum::<f64>()),
            (1.0, 2.0, 3.0, 4.0, 10.0)
        );
    }
}
