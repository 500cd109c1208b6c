//! Numeric CSV: one row per line, comma (or whitespace) separated; an
//! optional non-numeric header line is skipped. Read as a float64 matrix.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::path::Path;

/// Read a numeric CSV file into a float64 tensor of shape (rows, cols).
pub fn read_csv(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}: {e}", path.display())))?;
    parse_csv(&text).map_err(|e| e.context(path.display()))
}

/// Read one column of a numeric CSV file as a float64 vector (a label
/// column, or a one-column file, which `read_csv` reads as (n, 1)).
pub fn read_csv_column(path: impl AsRef<Path>, column: usize) -> Result<Tensor> {
    let path = path.as_ref();
    read_csv(path)?
        .column(column)
        .map_err(|e| e.context(path.display()))
}

/// Parse numeric CSV text into a float64 matrix.
pub fn parse_csv(text: &str) -> Result<Tensor> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if line.contains(',') {
            line.split(',').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let parsed: std::result::Result<Vec<f64>, _> =
            fields.iter().map(|f| f.parse::<f64>()).collect();
        match parsed {
            Ok(v) => {
                if let Some(first) = rows.first()
                    && first.len() != v.len()
                {
                    return Err(Error::parse(format!(
                        "line {}: {} fields, expected {} like the first data row",
                        lineno + 1,
                        v.len(),
                        first.len()
                    )));
                }
                rows.push(v);
            }
            // A non-numeric first line is a header.
            Err(_) if rows.is_empty() && lineno == 0 => continue,
            Err(e) => {
                let bad = fields
                    .iter()
                    .find(|f| f.parse::<f64>().is_err())
                    .unwrap_or(&"");
                return Err(Error::parse(format!(
                    "line {}: '{bad}' is not a number ({e})",
                    lineno + 1
                )));
            }
        }
    }
    if rows.is_empty() {
        return Err(Error::parse("no numeric rows"));
    }
    Tensor::matrix(&rows)
}

/// Write a rank-1 or rank-2 tensor as CSV (full precision).
pub fn write_csv(path: impl AsRef<Path>, t: &Tensor) -> Result<()> {
    let path = path.as_ref();
    let (rows, cols) = match t.shape() {
        [n] => (*n, 1),
        [r, c] => (*r, *c),
        s => {
            return Err(Error::shape(format!(
                "write_csv needs a vector or matrix, got shape {s:?}"
            )));
        }
    };
    let v = t.to_f64_vec();
    let mut out = String::new();
    for r in 0..rows {
        let line: Vec<String> = (0..cols)
            .map(|c| format!("{:?}", v[r * cols + c]))
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| Error::io(format!("writing {}: {e}", path.display())))
}
