//! NumPy-like printing: nested brackets, aligned columns, long axes
//! summarized with `...`, then the dtype and shape.

use crate::tensor::Tensor;
use std::fmt;

/// Axes longer than this print only their first and last `EDGE` items.
const SUMMARIZE_OVER: usize = 1000;
const EDGE: usize = 3;

fn format_element(t: &Tensor, i: usize) -> String {
    match t.data() {
        crate::Data::Bool(v) => v[i].to_string(),
        crate::Data::I64(v) => v[i].to_string(),
        crate::Data::F32(v) => format_float(v[i] as f64, 7),
        crate::Data::F64(v) => format_float(v[i], 8),
    }
}

fn format_float(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e8).contains(&a) {
        return format!("{x:.*e}", digits.min(6));
    }
    let s = format!("{x:.digits$}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summarize = self.len() > SUMMARIZE_OVER;
        let shape = self.shape();
        // Which indices along each axis are shown (None = the "..." marker).
        let shown = |axis: usize| -> Vec<Option<usize>> {
            let n = shape[axis];
            if summarize && n > 2 * EDGE {
                (0..EDGE)
                    .map(Some)
                    .chain([None])
                    .chain((n - EDGE..n).map(Some))
                    .collect()
            } else {
                (0..n).map(Some).collect()
            }
        };
        // Element strings first, to align columns.
        let mut width = 0;
        let strides: Vec<usize> = (0..shape.len())
            .map(|a| shape[a + 1..].iter().product())
            .collect();
        let mut cells = Vec::new();
        collect(self, 0, 0, &strides, &shown, &mut cells);
        for c in cells.iter().flatten() {
            width = width.max(c.len());
        }
        let mut out = String::new();
        let mut it = cells.into_iter();
        write_axis(shape.len(), 0, &shown, &mut it, width, &mut out);
        write!(f, "{out}  ({}, shape {:?})", self.dtype(), shape)
    }
}

fn collect(
    t: &Tensor,
    axis: usize,
    base: usize,
    strides: &[usize],
    shown: &dyn Fn(usize) -> Vec<Option<usize>>,
    cells: &mut Vec<Option<String>>,
) {
    if axis == t.rank() {
        cells.push(Some(format_element(t, base)));
        return;
    }
    for i in shown(axis) {
        match i {
            Some(i) => collect(t, axis + 1, base + i * strides[axis], strides, shown, cells),
            None => cells.push(None),
        }
    }
}

fn write_axis(
    rank: usize,
    axis: usize,
    shown: &dyn Fn(usize) -> Vec<Option<usize>>,
    cells: &mut impl Iterator<Item = Option<String>>,
    width: usize,
    out: &mut String,
) {
    if axis == rank {
        let c = cells.next().flatten().unwrap_or_default();
        out.push_str(&format!("{c:>width$}"));
        return;
    }
    out.push('[');
    let items = shown(axis);
    for (k, i) in items.iter().enumerate() {
        if k > 0 {
            if axis + 1 == rank {
                out.push_str(", ");
            } else {
                out.push(',');
                out.push_str(&"\n".repeat(rank - axis - 1));
                out.push_str(&" ".repeat(axis + 1));
            }
        }
        match i {
            Some(_) => write_axis(rank, axis + 1, shown, cells, width, out),
            None => {
                cells.next();
                out.push_str("...");
            }
        }
    }
    out.push(']');
}
