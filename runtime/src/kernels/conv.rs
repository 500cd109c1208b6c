//! 2-d convolution (NCHW input, OIHW kernel, cross-correlation as in every
//! deep-learning library): the geometry, and direct loops that are the
//! reference for the interpreter and the tests. The fast kernels the JIT
//! calls are in `im2col`.
//!
//! Output pixel (oy, ox) reads input pixel (oy·s + i·d − p, ox·s + j·d − p)
//! for kernel tap (i, j); reads outside the image are zeros (padding).
//! With `groups` g, output channel o sees input channels
//! [(o / (O/g))·C/g, ...) only.

/// The geometry of one convolution. Sizes are validated by the caller
/// (type inference): `c` and `o` divide by `groups`, and `oh`, `ow` are
/// the output sizes the padding, dilation and stride give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride: [usize; 2],
    /// Padding before the first row / column (the padding after only
    /// shows in `oh`, `ow`).
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Conv2dGeom {
    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.c / self.groups
    }
    /// Output channels per group.
    pub fn og(&self) -> usize {
        self.o / self.groups
    }
    /// Lengths of x, w and y.
    pub fn lens(&self) -> [usize; 3] {
        [
            self.n * self.c * self.h * self.w,
            self.o * self.cg() * self.kh * self.kw,
            self.n * self.o * self.oh * self.ow,
        ]
    }
    /// The input row read by output row `oy` at tap `i` (None: padding).
    #[inline]
    pub fn in_row(&self, oy: usize, i: usize) -> Option<usize> {
        (oy * self.stride[0] + i * self.dilation[0])
            .checked_sub(self.pad[0])
            .filter(|&r| r < self.h)
    }
    /// The input column read by output column `ox` at tap `j`.
    #[inline]
    pub fn in_col(&self, ox: usize, j: usize) -> Option<usize> {
        (ox * self.stride[1] + j * self.dilation[1])
            .checked_sub(self.pad[1])
            .filter(|&c| c < self.w)
    }

    /// The output columns `ox` whose tap `j` reads inside the image: a
    /// range (empty when none does), so copies need no per-pixel test.
    #[inline]
    pub fn valid_cols(&self, j: usize) -> std::ops::Range<usize> {
        let (s, off) = (self.stride[1], j * self.dilation[1]);
        // ox·s + off − pad ∈ [0, w)  ⇔  ox ∈ [⌈(pad − off)/s⌉, ⌈(w + pad − off)/s⌉).
        let lo = self.pad[1].saturating_sub(off).div_ceil(s);
        let hi = (self.w + self.pad[1]).saturating_sub(off).div_ceil(s);
        lo.min(self.ow)..hi.min(self.ow).max(lo.min(self.ow))
    }

    /// Call `f(x offset, w offset, y offset)` for every product term.
    fn for_each_term(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (cg, og) = (self.cg(), self.og());
        for n in 0..self.n {
            for o in 0..self.o {
                let g = o / og;
                for oy in 0..self.oh {
                    for ox in 0..self.ow {
                        let yi = ((n * self.o + o) * self.oh + oy) * self.ow + ox;
                        for c in 0..cg {
                            let ci = g * cg + c;
                            for i in 0..self.kh {
                                let Some(r) = self.in_row(oy, i) else {
                                    continue;
                                };
                                for j in 0..self.kw {
                                    let Some(col) = self.in_col(ox, j) else {
                                        continue;
                                    };
                                    let xi = ((n * self.c + ci) * self.h + r) * self.w + col;
                                    let wi = ((o * cg + c) * self.kh + i) * self.kw + j;
                                    f(xi, wi, yi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A function applied in place to a run of elements.
pub type InPlace<'a, T> = &'a dyn Fn(&mut [T]);

/// What a forward convolution applies to its output while the output is
/// still in cache: a bias per output channel, then a function over runs
/// of elements (the activation; the JIT passes its wide-math kernel).
pub struct Epilogue<'a, T> {
    /// One value per output channel (`o` of them).
    pub bias: Option<&'a [T]>,
    pub act: Option<InPlace<'a, T>>,
}

impl<T: crate::Float> Epilogue<'_, T> {
    /// Nothing: the plain convolution.
    pub fn none() -> Self {
        Epilogue {
            bias: None,
            act: None,
        }
    }

    /// Whether the bias has one value per output channel of `g`.
    pub fn fits(&self, g: &Conv2dGeom) -> bool {
        self.bias.is_none_or(|b| b.len() == g.o)
    }

    /// Apply to `z`: rows of `len` elements, row r belonging to output
    /// channel `o0 + r` (the caller keeps `o0 + rows <= o`).
    pub fn apply_rows(&self, z: &mut [T], o0: usize, len: usize) {
        if len == 0 {
            return;
        }
        if let Some(b) = self.bias {
            for (row, &v) in z.chunks_exact_mut(len).zip(&b[o0..]) {
                for e in row {
                    *e = *e + v;
                }
            }
        }
        if let Some(f) = self.act {
            f(z);
        }
    }

    /// Apply to a whole output y (N, O, OH, OW) of `g`.
    pub fn apply_nchw(&self, g: &Conv2dGeom, y: &mut [T]) {
        let per_image = g.o * g.oh * g.ow;
        if per_image == 0 {
            return;
        }
        for image in y.chunks_exact_mut(per_image) {
            self.apply_rows(image, 0, g.oh * g.ow);
        }
    }
}

/// y = conv(x, w), direct loops, into `y` (overwritten).
pub fn forward_into<T: crate::Float>(g: &Conv2dGeom, x: &[T], w: &[T], y: &mut [T]) {
    y.fill(T::ZERO);
    g.for_each_term(|xi, wi, yi| y[yi] = y[yi] + x[xi] * w[wi]);
}

/// The gradient of x given the gradient `gy` of y (the transposed
/// convolution of gy by w), into `gx` (overwritten).
pub fn grad_input_into<T: crate::Float>(g: &Conv2dGeom, w: &[T], gy: &[T], gx: &mut [T]) {
    gx.fill(T::ZERO);
    g.for_each_term(|xi, wi, yi| gx[xi] = gx[xi] + gy[yi] * w[wi]);
}

/// The gradient of w given the gradient `gy` of y, into `gw` (overwritten).
pub fn grad_kernel_into<T: crate::Float>(g: &Conv2dGeom, x: &[T], gy: &[T], gw: &mut [T]) {
    gw.fill(T::ZERO);
    g.for_each_term(|xi, wi, yi| gw[wi] = gw[wi] + gy[yi] * x[xi]);
}

/// `forward_into` into a new vector.
pub fn forward<T: crate::Float>(g: &Conv2dGeom, x: &[T], w: &[T]) -> Vec<T> {
    let mut y = vec![T::ZERO; g.lens()[2]];
    forward_into(g, x, w, &mut y);
    y
}

/// `grad_input_into` into a new vector.
pub fn grad_input<T: crate::Float>(g: &Conv2dGeom, w: &[T], gy: &[T]) -> Vec<T> {
    let mut gx = vec![T::ZERO; g.lens()[0]];
    grad_input_into(g, w, gy, &mut gx);
    gx
}

/// `grad_kernel_into` into a new vector.
pub fn grad_kernel<T: crate::Float>(g: &Conv2dGeom, x: &[T], gy: &[T]) -> Vec<T> {
    let mut gw = vec![T::ZERO; g.lens()[1]];
    grad_kernel_into(g, x, gy, &mut gw);
    gw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(h: usize, w: usize, k: usize, stride: usize, pad: usize) -> Conv2dGeom {
        let oh = (h + 2 * pad - k) / stride + 1;
        let ow = (w + 2 * pad - k) / stride + 1;
        Conv2dGeom {
            n: 1,
            c: 1,
            h,
            w,
            o: 1,
            kh: k,
            kw: k,
            oh,
            ow,
            stride: [stride; 2],
            pad: [pad; 2],
            dilation: [1; 2],
            groups: 1,
        }
    }

    #[test]
    fn a_3x3_image_by_hand() {
        // x = 1..9 row-major, w = [[1, 0], [0, -1]]: y = x[i,j] - x[i+1,j+1] = -4.
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        let w = [1.0, 0.0, 0.0, -1.0];
        assert_eq!(forward(&geom(3, 3, 2, 1, 0), &x, &w), vec![-4.0; 4]);
        // Padding 1, stride 2: output (0,0) sees only x[0,0] at tap (1,1).
        let y = forward(&geom(3, 3, 2, 2, 1), &x, &w);
        assert_eq!(y, vec![-1.0, -3.0, -7.0, 5.0 - 9.0]);
    }
}
