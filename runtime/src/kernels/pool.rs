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
    #[inline(always)]
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

    /// Windows tile the image: no padding, stride = window, every window
    /// inside the image (the usual 2 x 2 pooling). Their bounds are then plain products.
    fn tiled(&self) -> bool {
        // Padding after (not kept here) shows as windows past the image.
        self.pad == [0, 0]
            && self.stride == self.kernel
            && self.oh * self.kernel[0] <= self.h
            && self.ow * self.kernel[1] <= self.w
    }

    /// Call `f(plane offset, output index, rows, cols)` for every window.
    #[inline(always)]
    fn for_each_window(&self, mut f: impl FnMut(usize, usize, [usize; 2], [usize; 2])) {
        let tiled = self.tiled();
        let [kh, kw] = self.kernel;
        for p in 0..self.planes {
            let (plane, out) = (p * self.h * self.w, p * self.oh * self.ow);
            for oy in 0..self.oh {
                for ox in 0..self.ow {
                    let (r, c) = if tiled {
                        ([oy * kh, oy * kh + kh], [ox * kw, ox * kw + kw])
                    } else {
                        self.window(oy, ox)
                    };
                    f(plane, out + oy * self.ow + ox, r, c);
                }
            }
        }
    }

    /// The usual 2 x 2 tiled windows: `f(output index, the four input
    /// offsets, their values)` in row-major order within the window,
    /// without per-window bounds arithmetic.
    #[inline(always)]
    fn for_each_2x2<T: Copy>(&self, x: &[T], mut f: impl FnMut(usize, [usize; 4], [T; 4])) {
        for p in 0..self.planes {
            let plane = p * self.h * self.w;
            for oy in 0..self.oh {
                let r0 = plane + 2 * oy * self.w;
                let r1 = r0 + self.w;
                let (a, b) = (&x[r0..r0 + 2 * self.ow], &x[r1..r1 + 2 * self.ow]);
                let out = (p * self.oh + oy) * self.ow;
                for ox in 0..self.ow {
                    let c = 2 * ox;
                    f(
                        out + ox,
                        [r0 + c, r0 + c + 1, r1 + c, r1 + c + 1],
                        [a[c], a[c + 1], b[c], b[c + 1]],
                    );
                }
            }
        }
    }

    /// Tiled windows, row by row: `init` sets each output of a row of
    /// windows from the window's first input row, `fold` folds in the
    /// others — long contiguous passes instead of a loop per window.
    #[inline(always)]
    fn fold_rows<T: Copy>(
        &self,
        x: &[T],
        y: &mut [T],
        mut init: impl FnMut(&[T]) -> T,
        mut fold: impl FnMut(T, &[T]) -> T,
    ) {
        let [kh, kw] = self.kernel;
        let used = self.ow * kw;
        for p in 0..self.planes {
            let xp = &x[p * self.h * self.w..(p + 1) * self.h * self.w];
            let yp = &mut y[p * self.oh * self.ow..(p + 1) * self.oh * self.ow];
            for (oy, yrow) in yp.chunks_exact_mut(self.ow).enumerate() {
                for i in 0..kh {
                    let row = &xp[(oy * kh + i) * self.w..(oy * kh + i) * self.w + used];
                    for (o, win) in yrow.iter_mut().zip(row.chunks_exact(kw)) {
                        *o = if i == 0 { init(win) } else { fold(*o, win) };
                    }
                }
            }
        }
    }

    /// The input index of the window's maximum (first in row-major order,
    /// NaN counting as maximal: the first NaN wins). Branch-free updates:
    /// which pixel wins is data, and mispredicted branches cost more than
    /// the comparisons.
    #[inline(always)]
    fn argmax<T: crate::Float>(
        &self,
        x: &[T],
        plane: usize,
        r: [usize; 2],
        c: [usize; 2],
    ) -> usize {
        let mut best = plane + r[0] * self.w + c[0];
        let mut m = x[best];
        for y in r[0]..r[1] {
            let line = plane + y * self.w + c[0];
            for (k, &v) in x[line..line + (c[1] - c[0])].iter().enumerate() {
                let take = takes(m, v);
                m = if take { v } else { m };
                best = if take { line + k } else { best };
            }
        }
        best
    }

    /// The window's maximum (NaN if it holds one).
    #[inline(always)]
    fn max<T: crate::Float>(&self, x: &[T], plane: usize, r: [usize; 2], c: [usize; 2]) -> T {
        let mut m = x[plane + r[0] * self.w + c[0]];
        for y in r[0]..r[1] {
            let line = plane + y * self.w + c[0];
            for &v in &x[line..line + (c[1] - c[0])] {
                m = if takes(m, v) { v } else { m };
            }
        }
        m
    }
}

/// Whether `v` replaces the running maximum `m`: larger, or the first NaN
/// (v != v while m == m). Non-short-circuit operators keep it branch-free.
#[inline(always)]
#[allow(clippy::eq_op, clippy::nonminimal_bool)]
fn takes<T: crate::Float>(m: T, v: T) -> bool {
    (v > m) | ((v != v) & (m == m))
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
    if g.tiled() && g.kernel == [2, 2] {
        g.for_each_2x2(x, |o, _, v| {
            let pick = |m: T, v: T| if takes(m, v) { v } else { m };
            y[o] = pick(pick(pick(v[0], v[1]), v[2]), v[3]);
        });
        return true;
    }
    if g.tiled() {
        let fold = |m: T, win: &[T]| win.iter().fold(m, |m, &v| if takes(m, v) { v } else { m });
        g.fold_rows(x, y, |win| fold(win[0], win), fold);
        return true;
    }
    g.for_each_window(|plane, o, r, c| y[o] = g.max(x, plane, r, c));
    true
}

/// Average pooling into `y`.
pub fn avg_into<T: crate::Float>(g: &Pool2dGeom, x: &[T], y: &mut [T]) -> bool {
    if !lens_ok(g, x.len(), y.len()) {
        return false;
    }
    if g.tiled() {
        // Divide (not multiply by 1/count): the same rounding as the general path.
        let count = T::from_f64((g.kernel[0] * g.kernel[1]) as f64);
        let sum = |win: &[T]| win.iter().fold(T::ZERO, |a, &v| a + v);
        g.fold_rows(x, y, sum, |a, win| a + sum(win));
        y.iter_mut().for_each(|v| *v = *v / count);
        return true;
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
    if g.tiled() && g.kernel == [2, 2] {
        g.for_each_2x2(x, |o, offs, v| {
            // The first maximum of the four (NaN first), branch-free.
            let (mut best, mut m) = (0, v[0]);
            for (k, &vk) in v.iter().enumerate().skip(1) {
                let take = takes(m, vk);
                m = if take { vk } else { m };
                best = if take { k } else { best };
            }
            gx[offs[best]] = gy[o];
        });
        return true;
    }
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
