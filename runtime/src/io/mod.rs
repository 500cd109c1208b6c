//! File formats: NumPy's .npy and .npz, and numeric CSV.

pub mod csv;
pub mod npy;
pub mod npz;

pub use csv::{read_csv, read_csv_column, write_csv};
pub use npy::{read_npy, write_npy};
pub use npz::{read_npz, write_npz};
