//! NumPy `.npz`: a zip archive of `.npy` members, through the `zip` crate.
//! Written uncompressed, as `np.savez` (`np.load` and ArviZ read it); read
//! stored or deflated (`np.savez_compressed`) members, zip64 included. A
//! malformed archive or member is an error naming the file, never an
//! empty or partial result.

use super::npy::{from_npy_bytes, to_npy_bytes};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::io::{Read, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Write named tensors as `name.npy` members of an uncompressed zip.
pub fn write_npz(path: impl AsRef<Path>, arrays: &[(&str, &Tensor)]) -> Result<()> {
    let path = path.as_ref();
    let io = |e: &dyn std::fmt::Display| Error::io(format!("writing {}: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(|e| io(&e))?;
    let mut zip = ZipWriter::new(file);
    for (name, t) in arrays {
        let body = to_npy_bytes(t);
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(body.len() >= u32::MAX as usize);
        zip.start_file(format!("{name}.npy"), opts)
            .map_err(|e| io(&e))?;
        zip.write_all(&body).map_err(|e| io(&e))?;
    }
    zip.finish().map_err(|e| io(&e))?;
    Ok(())
}

/// Read every `.npy` member of an `.npz`, in archive order (other members
/// are skipped, as `np.load` lists only arrays).
pub fn read_npz(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("reading {}: {e}", path.display())))?;
    let bad = |e: &dyn std::fmt::Display| {
        Error::parse(format!(
            "{}: not a readable .npz archive: {e}",
            path.display()
        ))
    };
    let mut zip = ZipArchive::new(file).map_err(|e| bad(&e))?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| bad(&e))?;
        let name = member.name().map_err(|e| bad(&e))?.to_string();
        let Some(stem) = name.strip_suffix(".npy") else {
            continue;
        };
        let stem = stem.to_string();
        // The declared size may lie and a deflated member may expand
        // without bound: grow the buffer fallibly, chunk by chunk, so an
        // archive too large for memory is an error, not an abort.
        let mut body: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            let k = member
                .read(&mut chunk)
                .map_err(|e| bad(&format!("member '{name}': {e}")))?;
            if k == 0 {
                break;
            }
            body.try_reserve(k).map_err(|_| {
                Error::memory(format!(
                    "{}:{name}: cannot hold more than {} bytes",
                    path.display(),
                    body.len()
                ))
            })?;
            body.extend_from_slice(&chunk[..k]);
        }
        let t =
            from_npy_bytes(&body).map_err(|e| e.context(format!("{}:{name}", path.display())))?;
        out.push((stem, t));
    }
    Ok(out)
}
