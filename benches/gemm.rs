//! Which matrix-product library for the shapes theon's steps run: the
//! `matrixmultiply` crate (what the runtime calls) against the `gemm`
//! crate (faer's kernels, already in the tree through nuts-rs), one thread
//! each, on the products of a 2-H-H-3 network's ADVI step over N rows:
//! the forward product `[N, H] x [H, H]`, the input gradient
//! `[N, H] x [H, H]ᵀ`, the weight gradient `[N, H]ᵀ x [N, H]` and the thin
//! output layer `[N, H] x [H, 3]`, float64 and float32. Prints GFLOP/s per
//! library and their ratio (docs/compiler.md has the table and the choice).
//!
//! cargo bench -p theon-benches --bench gemm

use theon_benches::median_seconds as time;

/// A product `C[m, n] = A[m, k] B[k, n]` with A and B possibly transposed
/// views of row-major storage.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    /// A is stored `[k, m]` and read transposed.
    a_t: bool,
    /// B is stored `[n, k]` and read transposed.
    b_t: bool,
}

impl Shape {
    /// (row stride, column stride) of A and of B as the product reads them.
    fn strides(&self) -> ((isize, isize), (isize, isize)) {
        let (m, k, n) = (self.m as isize, self.k as isize, self.n as isize);
        let a = if self.a_t { (1, m) } else { (k, 1) };
        let b = if self.b_t { (1, k) } else { (n, 1) };
        (a, b)
    }
    fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }
}

/// The float types both libraries take.
trait Float: Copy + 'static {
    const NAME: &'static str;
    fn from(x: f64) -> Self;
    fn to(self) -> f64;
    /// `c = a b` by matrixmultiply.
    fn mm(s: &Shape, a: &[Self], b: &[Self], c: &mut [Self]);
}

macro_rules! float {
    ($t:ty, $name:literal, $mm:path) => {
        impl Float for $t {
            const NAME: &'static str = $name;
            fn from(x: f64) -> Self {
                x as $t
            }
            fn to(self) -> f64 {
                self as f64
            }
            fn mm(s: &Shape, a: &[$t], b: &[$t], c: &mut [$t]) {
                let ((rsa, csa), (rsb, csb)) = s.strides();
                assert!(a.len() >= s.m * s.k && b.len() >= s.k * s.n && c.len() >= s.m * s.n);
                // SAFETY: the strides address A, B and C inside the slices
                // (checked lengths above); C does not alias A or B
                // (distinct borrows).
                unsafe {
                    $mm(
                        s.m,
                        s.k,
                        s.n,
                        1.0,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        0.0,
                        c.as_mut_ptr(),
                        s.n as isize,
                        1,
                    )
                }
            }
        }
    };
}
float!(f64, "f64", matrixmultiply::dgemm);
float!(f32, "f32", matrixmultiply::sgemm);

/// `c = a b` by the gemm crate, one thread.
fn faer_gemm<T: Float>(s: &Shape, a: &[T], b: &[T], c: &mut [T]) {
    let ((rsa, csa), (rsb, csb)) = s.strides();
    assert!(a.len() >= s.m * s.k && b.len() >= s.k * s.n && c.len() >= s.m * s.n);
    // SAFETY: as for matrixmultiply; T is f32 or f64 (the crate's
    // supported types); dst := 0 * dst + 1 * a b without reading dst.
    unsafe {
        gemm::gemm(
            s.m,
            s.n,
            s.k,
            c.as_mut_ptr(),
            1,
            s.n as isize,
            false,
            a.as_ptr(),
            csa,
            rsa,
            b.as_ptr(),
            csb,
            rsb,
            T::from(0.0),
            T::from(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

fn compare<T: Float>(s: Shape) {
    let fill = |len: usize, seed: usize| -> Vec<T> {
        (0..len)
            .map(|i| T::from(((i * 7919 + seed) % 1000) as f64 / 1000.0 - 0.5))
            .collect()
    };
    let (a, b) = (fill(s.m * s.k, 1), fill(s.k * s.n, 2));
    let (mut c1, mut c2) = (vec![T::from(0.0); s.m * s.n], vec![T::from(0.0); s.m * s.n]);
    let t_mm = time(|| T::mm(&s, &a, &b, &mut c1));
    let t_gemm = time(|| faer_gemm(&s, &a, &b, &mut c2));
    // Both compute the same product (to rounding).
    let scale = s.k as f64 * 0.25;
    let worst = c1
        .iter()
        .zip(&c2)
        .map(|(x, y)| (x.to() - y.to()).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-3 * scale,
        "{} {}: the libraries differ by {worst}",
        T::NAME,
        s.name
    );
    let gf = |t: f64| s.flops() / t / 1e9;
    println!(
        "| {} | {} | {} x {} x {} | {:.1} | {:.1} | {:.2} |",
        T::NAME,
        s.name,
        s.m,
        s.k,
        s.n,
        gf(t_mm),
        gf(t_gemm),
        t_mm / t_gemm
    );
}

fn main() {
    // criterion's flags (`--bench`) are ignored: this bench prints a table.
    println!(
        "| dtype | product | m x k x n | matrixmultiply GFLOP/s | gemm GFLOP/s | gemm speed-up |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (n, h) in [(750, 32), (750, 128), (10000, 128), (10000, 512)] {
        let shapes = [
            Shape {
                name: "forward",
                m: n,
                k: h,
                n: h,
                a_t: false,
                b_t: false,
            },
            Shape {
                name: "input grad",
                m: n,
                k: h,
                n: h,
                a_t: false,
                b_t: true,
            },
            Shape {
                name: "weight grad",
                m: h,
                k: n,
                n: h,
                a_t: true,
                b_t: false,
            },
            Shape {
                name: "output layer",
                m: n,
                k: h,
                n: 3,
                a_t: false,
                b_t: false,
            },
        ];
        for s in shapes {
            compare::<f64>(s);
            compare::<f32>(s);
        }
    }
}
