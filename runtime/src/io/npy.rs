//! NumPy `.npy` (format versions 1-3): little-endian bool, int8-64, uint8-32,
//! float32/64; C or Fortran order on read, C order on write.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::{Data, Tensor};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Serialize a tensor as .npy bytes (format 1.0).
pub fn to_npy_bytes(t: &Tensor) -> Vec<u8> {
    let descr = match t.dtype() {
        DType::Bool => "|b1",
        DType::I64 => "<i8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    };
    let shape = match t.shape() {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that magic + version + len + header is a multiple of 64, ending in '\n'.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.byte_len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match t.data() {
        Data::Bool(v) => out.extend(v.iter().map(|&b| b as u8)),
        Data::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

pub fn write_npy(path: impl AsRef<Path>, t: &Tensor) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_npy_bytes(t))
        .map_err(|e| Error::io(format!("writing {}: {e}", path.display())))
}

pub fn read_npy(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}: {e}", path.display())))?;
    from_npy_bytes(&bytes).map_err(|e| e.context(path.display()))
}

/// Parse .npy bytes.
pub fn from_npy_bytes(bytes: &[u8]) -> Result<Tensor> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(Error::parse("not a .npy file (missing \\x93NUMPY magic)"));
    }
    let major = bytes[6];
    let (hlen, hstart) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(Error::parse(".npy header is truncated"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(Error::parse(format!("unsupported .npy format version {v}"))),
    };
    let header = bytes
        .get(hstart..hstart + hlen)
        .ok_or_else(|| Error::parse(".npy header is truncated"))?;
    let header =
        std::str::from_utf8(header).map_err(|_| Error::parse(".npy header is not text"))?;
    let descr = dict_str(header, "descr")?;
    let fortran = dict_raw(header, "fortran_order")?.starts_with("True");
    let shape = parse_shape(dict_raw(header, "shape")?)?;
    let body = &bytes[hstart + hlen..];
    let n = crate::alloc::try_numel(&shape).map_err(|e| e.context(".npy shape"))?;

    let (kind, size) = parse_descr(&descr)?;
    if n.checked_mul(size).is_none_or(|bytes| body.len() < bytes) {
        return Err(Error::parse(format!(
            ".npy data is truncated: {} bytes for {n} elements of {descr}",
            body.len()
        )));
    }
    let big = descr.starts_with('>');
    let word = |i: usize| -> [u8; 8] {
        let mut w = [0u8; 8];
        let src = &body[i * size..(i + 1) * size];
        if big {
            for (k, b) in src.iter().rev().enumerate() {
                w[k] = *b;
            }
        } else {
            w[..size].copy_from_slice(src);
        }
        w
    };
    let data = match (kind, size) {
        ('b', 1) => Data::Bool((0..n).map(|i| body[i] != 0).collect()),
        ('f', 8) => Data::F64((0..n).map(|i| f64::from_le_bytes(word(i))).collect()),
        ('f', 4) => Data::F32(
            (0..n)
                .map(|i| f32::from_le_bytes(word(i)[..4].try_into().unwrap()))
                .collect(),
        ),
        ('i', _) => Data::I64(
            (0..n)
                .map(|i| sign_extend(u64::from_le_bytes(word(i)), size))
                .collect(),
        ),
        ('u', s) if s < 8 => {
            Data::I64((0..n).map(|i| u64::from_le_bytes(word(i)) as i64).collect())
        }
        _ => return Err(Error::parse(format!("unsupported .npy dtype {descr}"))),
    };
    let t = Tensor::from_data(data, &shape)?;
    Ok(if fortran && shape.len() > 1 {
        fortran_to_c(&t)
    } else {
        t
    })
}

fn sign_extend(w: u64, size: usize) -> i64 {
    let bits = size * 8;
    if bits == 64 {
        w as i64
    } else {
        ((w << (64 - bits)) as i64) >> (64 - bits)
    }
}

fn parse_descr(d: &str) -> Result<(char, usize)> {
    let body = d.trim_start_matches(['<', '>', '|', '=']);
    let mut chars = body.chars();
    let kind = chars
        .next()
        .ok_or_else(|| Error::parse("empty .npy descr"))?;
    let size: usize = chars
        .as_str()
        .parse()
        .map_err(|_| Error::parse(format!("unsupported .npy dtype {d}")))?;
    if !matches!(
        (kind, size),
        ('b', 1) | ('f', 4) | ('f', 8) | ('i', 1 | 2 | 4 | 8) | ('u', 1 | 2 | 4)
    ) {
        return Err(Error::parse(format!("unsupported .npy dtype {d}")));
    }
    Ok((kind, size))
}

/// Reorder column-major elements to row-major.
fn fortran_to_c(t: &Tensor) -> Tensor {
    let shape = t.shape().to_vec();
    let n = t.len();
    let rank = shape.len();
    let mut perm = vec![0usize; n];
    // Row-major index -> column-major flat offset.
    let mut idx = vec![0usize; rank];
    for p in perm.iter_mut() {
        let mut off = 0;
        let mut stride = 1;
        for a in 0..rank {
            off += idx[a] * stride;
            stride *= shape[a];
        }
        *p = off;
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    let data = crate::with_data!(t.data(), v => crate::Element::into_data(perm.iter().map(|&p| v[p]).collect()));
    Tensor::from_data(data, &shape).expect("same size")
}

fn dict_raw<'a>(header: &'a str, key: &str) -> Result<&'a str> {
    let pat = format!("'{key}':");
    let at = header
        .find(&pat)
        .ok_or_else(|| Error::parse(format!(".npy header has no '{key}'")))?;
    Ok(header[at + pat.len()..].trim_start())
}

fn dict_str(header: &str, key: &str) -> Result<String> {
    let raw = dict_raw(header, key)?;
    let rest = raw
        .strip_prefix('\'')
        .ok_or_else(|| Error::parse(format!("bad .npy '{key}'")))?;
    let end = rest
        .find('\'')
        .ok_or_else(|| Error::parse(format!("bad .npy '{key}'")))?;
    Ok(rest[..end].to_string())
}

fn parse_shape(raw: &str) -> Result<Vec<usize>> {
    let open = raw
        .strip_prefix('(')
        .ok_or_else(|| Error::parse("bad .npy shape"))?;
    let close = open
        .find(')')
        .ok_or_else(|| Error::parse("bad .npy shape"))?;
    open[..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse()
                .map_err(|_| Error::parse(format!("bad .npy dim {s}")))
        })
        .collect()
}
