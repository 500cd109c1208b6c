//! Fast 2-d convolution for the JIT: im2col + one GEMM per chunk of images.
//!
//! The patches of a chunk of images are unrolled into a matrix `col`
//! (K = C/g·kh·kw rows, one column per output pixel of every image in the
//! chunk), so the convolution of the whole chunk is one product
//! W (O/g × K) · col — wide enough for the GEMM kernels even for
//! 8x8 images, where one product per image (n = 64 columns) is mostly
//! overhead. The gradients are the same product transposed (input: Wᵀ·gy,
//! then col2im; kernel: gy·colᵀ). docs/compiler.md has the measurements
//! against direct loops.
//!
//! Scratch space is one growable buffer per thread and dtype, so calls
//! allocate only until the largest chunk has been seen. A chunk is at most
//! `CHUNK_ELEMS` elements of `col`; an image whose own patch matrix is
//! larger falls back to the direct loops of `conv`.

use super::conv::{self, Conv2dGeom, Epilogue};
use super::gemm::{GemmElem, MatView, gemm};
use std::cell::RefCell;

/// The largest patch matrix built at once (elements).
const CHUNK_ELEMS: usize = 1 << 20;

/// Float types with a per-thread scratch buffer.
pub trait ConvElem: crate::Float + GemmElem {
    /// Run `f` on a zeroed-or-stale scratch slice of `len` elements.
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

macro_rules! conv_elem {
    ($t:ty, $cell:ident) => {
        thread_local! {
            static $cell: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
        }
        impl ConvElem for $t {
            fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                $cell.with(|cell| match cell.try_borrow_mut() {
                    Ok(mut v) => {
                        if v.len() < len {
                            v.resize(len, 0.0);
                        }
                        f(&mut v[..len])
                    }
                    // Re-entered (never on the kernels' own paths): a fresh buffer.
                    Err(_) => f(&mut vec![0.0; len]),
                })
            }
        }
    };
}
conv_elem!(f32, SCRATCH_F32);
conv_elem!(f64, SCRATCH_F64);

/// Rows of the patch matrix, output pixels per image, images per chunk
/// (0: an image alone is too large, use the direct loops).
fn plan(g: &Conv2dGeom) -> (usize, usize, usize) {
    let k = g.cg() * g.kh * g.kw;
    let p = g.oh * g.ow;
    let per_image = k.saturating_mul(p).max(1);
    (k, p, (CHUNK_ELEMS / per_image).min(g.n))
}

/// Unroll group `grp` of images [n0, n0 + nb) into `col` (k × nb·p).
/// `col` is zeroed first in one pass; then only the pixels inside the
/// image are copied (small per-row fills were calls to memset, the cost
/// that mattered on 4- and 8-pixel rows).
fn im2col<T: ConvElem>(g: &Conv2dGeom, x: &[T], n0: usize, nb: usize, grp: usize, col: &mut [T]) {
    let (p, cols) = (g.oh * g.ow, nb * g.oh * g.ow);
    let (s, d, pad) = (g.stride[1], g.dilation[1], g.pad[1]);
    col[..g.cg() * g.kh * g.kw * cols].fill(T::ZERO);
    // Stride 1 and output rows as wide as input rows ('same' width): an
    // image's patch row is the image shifted, one block copy.
    let rows_run = g.stride == [1, 1] && g.ow == g.w;
    let mut row = 0;
    for c in 0..g.cg() {
        let ci = grp * g.cg() + c;
        for i in 0..g.kh {
            let (rows, r0) = valid_rows(g, i);
            for j in 0..g.kw {
                let valid = g.valid_cols(j);
                let dst = &mut col[row * cols..(row + 1) * cols];
                row += 1;
                if valid.is_empty() {
                    continue;
                }
                for b in 0..nb {
                    let plane = ((n0 + b) * g.c + ci) * g.h * g.w;
                    if rows_run {
                        shifted_block(
                            g,
                            x,
                            plane,
                            (&rows, r0, j),
                            &valid,
                            &mut dst[b * p..(b + 1) * p],
                        );
                        continue;
                    }
                    for oy in 0..g.oh {
                        let Some(r) = g.in_row(oy, i) else { continue };
                        let at = b * p + oy * g.ow;
                        let inside = &mut dst[at + valid.start..at + valid.end];
                        // First pixel read: valid.start·s + j·d − pad (>= 0 by construction).
                        let first = plane + r * g.w + valid.start * s + j * d - pad;
                        if s == 1 {
                            copy_short(inside, &x[first..first + inside.len()]);
                        } else {
                            for (k, v) in inside.iter_mut().enumerate() {
                                *v = x[first + k * s];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The output rows whose tap row `i` lies inside the image (a range:
/// the input row grows with the output row) and the first one's input
/// row; the same for every image, so found once per tap.
fn valid_rows(g: &Conv2dGeom, i: usize) -> (std::ops::Range<usize>, usize) {
    let Some(oy0) = (0..g.oh).find(|&oy| g.in_row(oy, i).is_some()) else {
        return (0..0, 0);
    };
    let oy1 = (oy0..g.oh)
        .find(|&oy| g.in_row(oy, i).is_none())
        .unwrap_or(g.oh);
    (oy0..oy1, g.in_row(oy0, i).unwrap_or(0))
}

/// One image's patch row for tap (i, j) when stride is 1 and `ow == w`:
/// output pixel (oy, ox) reads input offset `r(oy)·w + ox + shift`, which
/// runs contiguously across rows, so the valid rows are one copy; the
/// columns that fell off the image's left or right edge (they read the
/// neighbouring row) are zeroed after. `dst` (oh·ow) is zero already.
fn shifted_block<T: ConvElem>(
    g: &Conv2dGeom,
    x: &[T],
    plane: usize,
    (rows, r0, j): (&std::ops::Range<usize>, usize, usize),
    valid: &std::ops::Range<usize>,
    dst: &mut [T],
) {
    let (oy0, oy1) = (rows.start, rows.end);
    // Source offset of block element t: start + t (may begin before the
    // plane when the tap looks left of column 0: those are edge pixels).
    let start = (r0 * g.w + j * g.dilation[1]) as isize - g.pad[1] as isize;
    let len = (oy1 - oy0) * g.ow;
    let lo = (-start).max(0) as usize;
    let hi = len.min(((g.h * g.w) as isize - start).max(0) as usize);
    if lo < hi {
        let from = plane + (start + lo as isize) as usize;
        dst[oy0 * g.ow + lo..oy0 * g.ow + hi].copy_from_slice(&x[from..from + (hi - lo)]);
    }
    for oy in oy0..oy1 {
        let line = &mut dst[oy * g.ow..(oy + 1) * g.ow];
        zero_short(&mut line[..valid.start]);
        zero_short(&mut line[valid.end..]);
    }
}

/// `s.fill(0)` for the one or two edge pixels of a row, without a call to
/// memset.
#[inline(always)]
fn zero_short<T: ConvElem>(s: &mut [T]) {
    match s.len() {
        0 => {}
        1 => s[0] = T::ZERO,
        _ => s.fill(T::ZERO),
    }
}

/// `dst.copy_from_slice(src)` for the short rows of small images: fixed
/// 4-element moves instead of a call to memmove per row (measured: the
/// calls cost more than the copying for 4- and 8-pixel rows).
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    let mut d = dst.chunks_exact_mut(4);
    let mut s = src.chunks_exact(4);
    for (a, b) in (&mut d).zip(&mut s) {
        let b: &[T; 4] = b.try_into().expect("chunks of 4");
        a.copy_from_slice(b);
    }
    for (a, b) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *a = *b;
    }
}

/// Add `col` (k × nb·p) back into the images it was unrolled from.
fn col2im<T: ConvElem>(g: &Conv2dGeom, col: &[T], n0: usize, nb: usize, grp: usize, x: &mut [T]) {
    let (p, cols) = (g.oh * g.ow, nb * g.oh * g.ow);
    let (s, d, pad) = (g.stride[1], g.dilation[1], g.pad[1]);
    let mut row = 0;
    for c in 0..g.cg() {
        let ci = grp * g.cg() + c;
        for i in 0..g.kh {
            for j in 0..g.kw {
                let valid = g.valid_cols(j);
                let src = &col[row * cols..(row + 1) * cols];
                row += 1;
                if valid.is_empty() {
                    continue;
                }
                for b in 0..nb {
                    let plane = ((n0 + b) * g.c + ci) * g.h * g.w;
                    for oy in 0..g.oh {
                        let Some(r) = g.in_row(oy, i) else { continue };
                        let line =
                            &src[b * p + oy * g.ow + valid.start..b * p + oy * g.ow + valid.end];
                        let first = plane + r * g.w + valid.start * s + j * d - pad;
                        for (k, &v) in line.iter().enumerate() {
                            let t = &mut x[first + k * s];
                            *t = *t + v;
                        }
                    }
                }
            }
        }
    }
}

/// The offsets of the rows of length p that group `grp` of images
/// [n0, n0 + nb) has in y and in the product matrix z (og × nb·p).
fn y_rows(
    g: &Conv2dGeom,
    n0: usize,
    nb: usize,
    grp: usize,
) -> impl Iterator<Item = (usize, usize)> {
    let (p, og, o_all) = (g.oh * g.ow, g.og(), g.o);
    (0..og).flat_map(move |o| {
        (0..nb).map(move |b| (((n0 + b) * o_all + grp * og + o) * p, (o * nb + b) * p))
    })
}

/// z (og × nb·p) into its place in y.
fn z_to_y<T: ConvElem>(g: &Conv2dGeom, z: &[T], y: &mut [T], n0: usize, nb: usize, grp: usize) {
    let p = g.oh * g.ow;
    for (yo, zo) in y_rows(g, n0, nb, grp) {
        copy_short(&mut y[yo..yo + p], &z[zo..zo + p]);
    }
}

/// y's part for a group and chunk into z (og × nb·p).
fn y_to_z<T: ConvElem>(g: &Conv2dGeom, y: &[T], z: &mut [T], n0: usize, nb: usize, grp: usize) {
    let p = g.oh * g.ow;
    for (yo, zo) in y_rows(g, n0, nb, grp) {
        copy_short(&mut z[zo..zo + p], &y[yo..yo + p]);
    }
}

/// The chunks of images: (first, count).
fn chunks(n: usize, per: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(per.max(1))
        .map(move |n0| (n0, per.min(n - n0)))
}

/// Whether the slices have the lengths `g` implies (x or gx, w or gw, y or gy).
fn lens_ok(g: &Conv2dGeom, x: usize, w: usize, y: usize) -> bool {
    g.lens() == [x, w, y]
}

/// One chunk of images and one group: where the product of the step goes.
struct Chunk {
    n0: usize,
    nb: usize,
    grp: usize,
    /// The first chunk (accumulating steps start from zero there).
    first: bool,
    /// Patch rows, output channels per group, columns (nb · oh · ow).
    k: usize,
    og: usize,
    cols: usize,
}

/// Whether the image-chunked path applies (else the direct loops).
fn chunked(g: &Conv2dGeom) -> bool {
    plan(g).2 > 0
}

/// Call `step(col, z, chunk)` for every chunk of images and group, with
/// the per-thread scratch split into the patch matrix and the product;
/// false if any step's product was refused (views out of bounds).
fn for_each_chunk<T: ConvElem>(
    g: &Conv2dGeom,
    mut step: impl FnMut(&mut [T], &mut [T], &Chunk) -> bool,
) -> bool {
    let (k, p, per) = plan(g);
    let og = g.og();
    T::with_scratch((k + og) * per * p, |s| {
        let (col, z) = s.split_at_mut(k * per * p);
        let mut ok = true;
        for (i, (n0, nb)) in chunks(g.n, per).enumerate() {
            for grp in 0..g.groups {
                let c = Chunk {
                    n0,
                    nb,
                    grp,
                    first: i == 0,
                    k,
                    og,
                    cols: nb * p,
                };
                ok &= step(col, z, &c);
            }
        }
        ok
    })
}

/// y = conv(x, w) into `y`. Slices of the wrong length are a bug in the
/// caller: the function then does nothing and returns false.
pub fn forward_into<T: ConvElem>(g: &Conv2dGeom, x: &[T], w: &[T], y: &mut [T]) -> bool {
    forward_with(g, x, w, y, &Epilogue::none())
}

/// y = ep(conv(x, w)) into `y`: the epilogue runs on each chunk's product
/// before it is scattered into y, while it is in cache (one pass fewer
/// over y than a separate bias add and activation, two fewer than both).
pub fn forward_with<T: ConvElem>(
    g: &Conv2dGeom,
    x: &[T],
    w: &[T],
    y: &mut [T],
    ep: &Epilogue<T>,
) -> bool {
    if !lens_ok(g, x.len(), w.len(), y.len()) || !ep.fits(g) {
        return false;
    }
    if !chunked(g) {
        conv::forward_into(g, x, w, y);
        ep.apply_nchw(g, y);
        return true;
    }
    for_each_chunk(g, |col, z, c| {
        im2col(g, x, c.n0, c.nb, c.grp, col);
        // z (og × cols) = W_grp (og × k) · col (k × cols)
        let ok = gemm(
            c.og,
            c.k,
            c.cols,
            T::ONE,
            w,
            MatView::row_major(c.grp * c.og * c.k, c.k),
            col,
            MatView::row_major(0, c.cols),
            T::ZERO,
            z,
            MatView::row_major(0, c.cols),
        );
        ep.apply_rows(&mut z[..c.og * c.cols], c.grp * c.og, c.cols);
        z_to_y(g, z, y, c.n0, c.nb, c.grp);
        ok
    })
}

/// The gradient of x into `gx`, given w and the gradient `gy` of y.
pub fn grad_input_into<T: ConvElem>(g: &Conv2dGeom, w: &[T], gy: &[T], gx: &mut [T]) -> bool {
    if !lens_ok(g, gx.len(), w.len(), gy.len()) {
        return false;
    }
    if !chunked(g) {
        conv::grad_input_into(g, w, gy, gx);
        return true;
    }
    gx.fill(T::ZERO);
    for_each_chunk(g, |col, z, c| {
        y_to_z(g, gy, z, c.n0, c.nb, c.grp);
        // col (k × cols) = W_grpᵀ (k × og) · z (og × cols), then back to images.
        let ok = gemm(
            c.k,
            c.og,
            c.cols,
            T::ONE,
            w,
            MatView::row_major(c.grp * c.og * c.k, c.k).transposed(),
            z,
            MatView::row_major(0, c.cols),
            T::ZERO,
            col,
            MatView::row_major(0, c.cols),
        );
        col2im(g, col, c.n0, c.nb, c.grp, gx);
        ok
    })
}

/// The gradient of w into `gw`, given x and the gradient `gy` of y.
pub fn grad_kernel_into<T: ConvElem>(g: &Conv2dGeom, x: &[T], gy: &[T], gw: &mut [T]) -> bool {
    if !lens_ok(g, x.len(), gw.len(), gy.len()) {
        return false;
    }
    if !chunked(g) {
        conv::grad_kernel_into(g, x, gy, gw);
        return true;
    }
    // (No images: `chunked` is false and the direct loops write zeros.)
    for_each_chunk(g, |col, z, c| {
        im2col(g, x, c.n0, c.nb, c.grp, col);
        y_to_z(g, gy, z, c.n0, c.nb, c.grp);
        // gW_grp (og × k) (+)= z (og × cols) · colᵀ (cols × k)
        gemm(
            c.og,
            c.cols,
            c.k,
            T::ONE,
            z,
            MatView::row_major(0, c.cols),
            col,
            MatView::row_major(0, c.cols).transposed(),
            if c.first { T::ZERO } else { T::ONE },
            gw,
            MatView::row_major(c.grp * c.og * c.k, c.k),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A geometry with the output sizes its padding, stride and dilation give.
    #[allow(clippy::too_many_arguments)]
    fn geom(
        n: usize,
        c: usize,
        hw: [usize; 2],
        o: usize,
        k: [usize; 2],
        stride: [usize; 2],
        pad: [[usize; 2]; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Conv2dGeom {
        let out = |a: usize| {
            (hw[a] + pad[a][0] + pad[a][1] - dilation[a] * (k[a] - 1) - 1) / stride[a] + 1
        };
        Conv2dGeom {
            n,
            c,
            h: hw[0],
            w: hw[1],
            o,
            kh: k[0],
            kw: k[1],
            oh: out(0),
            ow: out(1),
            stride,
            pad: [pad[0][0], pad[1][0]],
            dilation,
            groups,
        }
    }

    /// Several chunks: 144 × 1024 patch entries per image.
    fn several_chunks() -> Conv2dGeom {
        geom(
            10,
            16,
            [32, 32],
            2,
            [3, 3],
            [1, 1],
            [[1, 1], [1, 1]],
            [1, 1],
            1,
        )
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        (0..len)
            .map(|i| (((i as u64 + 1) * 2654435761 + seed * 97) % 1000) as f64 / 500.0 - 1.0)
            .collect()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn matches_the_direct_loops() {
        let cases = [
            geom(3, 2, [5, 6], 4, [3, 3], [1, 1], [[1, 1], [1, 1]], [1, 1], 1),
            geom(2, 4, [7, 5], 6, [2, 3], [2, 1], [[0, 1], [2, 0]], [1, 2], 2),
            geom(1, 3, [4, 4], 3, [1, 1], [1, 1], [[0, 0], [0, 0]], [1, 1], 3),
            // Same width with dilation 2 and uneven padding (the block copy).
            geom(2, 2, [5, 6], 3, [3, 3], [1, 1], [[1, 3], [3, 1]], [2, 2], 1),
            several_chunks(),
        ];
        for g in cases {
            let [lx, lw, ly] = g.lens();
            let (x, w, gy) = (values(lx, 1), values(lw, 2), values(ly, 3));
            let mut y = vec![f64::NAN; ly];
            assert!(forward_into(&g, &x, &w, &mut y));
            close(&y, &conv::forward(&g, &x, &w));
            let mut gx = vec![f64::NAN; lx];
            assert!(grad_input_into(&g, &w, &gy, &mut gx));
            close(&gx, &conv::grad_input(&g, &w, &gy));
            let mut gw = vec![f64::NAN; lw];
            assert!(grad_kernel_into(&g, &x, &gy, &mut gw));
            close(&gw, &conv::grad_kernel(&g, &x, &gy));
        }
        let g = cases_bad();
        assert!(!forward_into(&g, &[0.0; 3], &[0.0; 1], &mut [0.0; 1]));
    }

    /// The epilogue adds channel o's bias to every output pixel of channel
    /// o and then applies the activation, on the chunked path (groups,
    /// several chunks) and on the direct loops' (an image too large to
    /// unroll); a bias of the wrong length is refused.
    #[test]
    fn the_epilogue_is_bias_then_activation() {
        let cases = [
            geom(3, 4, [5, 6], 6, [3, 3], [1, 1], [[1, 1], [1, 1]], [1, 1], 2),
            several_chunks(),
            geom(
                1,
                64,
                [64, 64],
                2,
                [3, 3],
                [1, 1],
                [[1, 1], [1, 1]],
                [1, 1],
                1,
            ),
        ];
        let tanh = |z: &mut [f64]| z.iter_mut().for_each(|v| *v = v.tanh());
        // Under miri only the small case (the large ones take hours there).
        for g in cases.into_iter().take(if cfg!(miri) { 1 } else { 3 }) {
            let [lx, lw, ly] = g.lens();
            let (x, w, bias) = (values(lx, 4), values(lw, 5), values(g.o, 6));
            let plain = conv::forward(&g, &x, &w);
            let p = g.oh * g.ow;
            let want: Vec<f64> = (0..ly)
                .map(|i| (plain[i] + bias[i / p % g.o]).tanh())
                .collect();
            let ep = Epilogue {
                bias: Some(&bias),
                act: Some(&tanh),
            };
            let mut y = vec![f64::NAN; ly];
            assert!(forward_with(&g, &x, &w, &mut y, &ep));
            close(&y, &want);
            let short = Epilogue {
                bias: Some(&bias[1..]),
                act: None,
            };
            assert!(!forward_with(&g, &x, &w, &mut y, &short));
        }
    }

    fn cases_bad() -> Conv2dGeom {
        geom(1, 1, [2, 2], 1, [1, 1], [1, 1], [[0, 0], [0, 0]], [1, 1], 1)
    }
}
