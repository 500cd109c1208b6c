//! NumPy `.npz`: a zip archive of `.npy` members. Written uncompressed
//! (`np.load` and ArviZ read it); read back when members are stored
//! uncompressed (as `np.savez` writes them).

use super::npy::{from_npy_bytes, to_npy_bytes};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::path::Path;

/// Write named tensors as `name.npy` members of an uncompressed zip.
pub fn write_npz(path: impl AsRef<Path>, arrays: &[(&str, &Tensor)]) -> Result<()> {
    let path = path.as_ref();
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, t) in arrays {
        let fname = format!("{name}.npy");
        let body = to_npy_bytes(t);
        let crc = crc32(&body);
        let offset = out.len() as u32;
        let size = u32::try_from(body.len())
            .map_err(|_| Error::io(format!("array '{name}' is too large for a zip member")))?;
        // Local file header.
        out.extend_from_slice(&0x04034b50u32.to_le_bytes());
        // version 2.0, no flags, stored, time 00:00, date 1980-01-01
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(fname.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(fname.as_bytes());
        out.extend_from_slice(&body);
        // Central directory entry.
        central.extend_from_slice(&0x02014b50u32.to_le_bytes());
        // made by / needed 2.0, no flags, stored, time, date (as above)
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(fname.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(fname.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(path, out).map_err(|e| Error::io(format!("writing {}: {e}", path.display())))
}

/// Read every `.npy` member of an uncompressed `.npz`, in archive order.
pub fn read_npz(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}: {e}", path.display())))?;
    let mut out = Vec::new();
    let mut at = 0;
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let bad = || Error::parse(format!("{}: malformed .npz archive", path.display()));
    while u32_at(at) == Some(0x04034b50) {
        let method = u16_at(at + 8).ok_or_else(bad)?;
        let flags = u16_at(at + 6).ok_or_else(bad)?;
        let size = u32_at(at + 18).ok_or_else(bad)?;
        let name_len = u16_at(at + 26).ok_or_else(bad)?;
        let extra_len = u16_at(at + 28).ok_or_else(bad)?;
        let name = bytes.get(at + 30..at + 30 + name_len).ok_or_else(bad)?;
        let name = String::from_utf8_lossy(name).to_string();
        if method != 0 || flags & 8 != 0 {
            return Err(Error::parse(format!(
                "{}: member '{name}' is compressed; only uncompressed .npz (np.savez) can be read",
                path.display()
            )));
        }
        let start = at + 30 + name_len + extra_len;
        let body = bytes.get(start..start + size).ok_or_else(bad)?;
        let t =
            from_npy_bytes(body).map_err(|e| e.context(format!("{}:{name}", path.display())))?;
        out.push((name.trim_end_matches(".npy").to_string(), t));
        at = start + size;
    }
    // After the members comes the central directory (or, for an archive
    // with no members, the end record): anything else is not an .npz.
    match u32_at(at) {
        Some(0x02014b50 | 0x06054b50) => Ok(out),
        _ => Err(Error::parse(format!(
            "{}: not an .npz archive (no zip member or directory at byte {at})",
            path.display()
        ))),
    }
}

/// CRC-32 (IEEE 802.3), as zip requires.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, e) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB88320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_structure_is_valid_zip() {
        let path = std::env::temp_dir().join(format!("theon_npz_{}.npz", std::process::id()));
        let a = Tensor::new(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let b = Tensor::vector(vec![7i64, 8, 9]);
        write_npz(&path, &[("a", &a), ("bee", &b)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
        let u32_at = |i: usize| {
            u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
        };
        // End of central directory: 22 bytes at the end (no comment).
        let end = bytes.len() - 22;
        assert_eq!(u32_at(end), 0x06054b50);
        assert_eq!(u16_at(end + 10), 2);
        let (cd_size, mut cd) = (u32_at(end + 12), u32_at(end + 16));
        assert_eq!(cd + cd_size, end);
        for name in ["a.npy", "bee.npy"] {
            // Central entry: 46 fixed bytes, then the name.
            assert_eq!(u32_at(cd), 0x02014b50);
            let n = u16_at(cd + 28);
            assert_eq!(&bytes[cd + 46..cd + 46 + n], name.as_bytes());
            let (crc, size, local) = (u32_at(cd + 16), u32_at(cd + 20), u32_at(cd + 42));
            // The local header it points at: 30 fixed bytes, the name, the data.
            assert_eq!(u32_at(local), 0x04034b50);
            assert_eq!(u32_at(local + 14), crc);
            assert_eq!(&bytes[local + 30..local + 30 + n], name.as_bytes());
            let data = &bytes[local + 30 + n..local + 30 + n + size];
            assert_eq!(crc32(data) as usize, crc);
            assert!(data.starts_with(b"\x93NUMPY"));
            cd += 46 + n;
        }
        let back = read_npz(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(back, vec![("a".to_string(), a), ("bee".to_string(), b)]);
    }

    #[test]
    fn crc32_of_known_string() {
        // Standard check value of CRC-32/ISO-HDLC.
        assert_eq!(super::crc32(b"123456789"), 0xCBF43926);
    }
}
