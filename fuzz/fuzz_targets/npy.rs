//! Any bytes given to the .npy reader give a tensor or an error: never a
//! panic, an abort or a tensor whose storage disagrees with its shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use theon::runtime::io::npy::from_npy_bytes;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = from_npy_bytes(data) {
        assert_eq!(t.byte_len(), t.len() * t.dtype().size_of());
        assert_eq!(t.len(), t.shape().iter().product::<usize>());
    }
});
