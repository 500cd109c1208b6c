//! CPU levels: which vector width the wide kernels (whole-buffer
//! transcendentals, small GEMM) may use. Detected at run time, and forced
//! lower with `THEON_CPU=avx512|avx2|portable` or `JitOptions::cpu`, so
//! every level's code can be tested (and compared) on one machine. Never
//! higher than the machine's: that is an error, not a crash on an
//! illegal instruction. `portable` uses only the 128-bit code Cranelift
//! emits for any target (no x86 intrinsics); every level computes
//! bit-identical results.

use theon_runtime::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuLevel {
    Portable,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 F/DQ/VL (with AVX2 and FMA).
    Avx512,
}

impl CpuLevel {
    pub const ALL: [CpuLevel; 3] = [CpuLevel::Portable, CpuLevel::Avx2, CpuLevel::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Portable => "portable",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::Avx512 => "avx512",
        }
    }

    /// The best level this machine supports.
    pub fn detected() -> CpuLevel {
        #[cfg(target_arch = "x86_64")]
        {
            // Every level above portable has AVX2 and FMA (the AVX-512
            // level's code calls the AVX2 kernels too).
            let avx2_fma =
                std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx2");
            if avx2_fma
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl")
            {
                return CpuLevel::Avx512;
            }
            if avx2_fma {
                return CpuLevel::Avx2;
            }
        }
        CpuLevel::Portable
    }

    /// Every level this machine can run (the ones tests cover).
    pub fn supported() -> Vec<CpuLevel> {
        let top = CpuLevel::detected();
        CpuLevel::ALL.into_iter().filter(|l| *l <= top).collect()
    }

    pub fn parse(s: &str) -> Result<CpuLevel> {
        CpuLevel::ALL
            .into_iter()
            .find(|l| l.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::value(format!(
                    "CPU level '{s}': expected one of avx512, avx2, portable"
                ))
            })
    }

    /// The level to compile for: `requested`, else `THEON_CPU`, else the
    /// machine's; an error if above what the machine supports.
    pub fn resolve(requested: Option<CpuLevel>) -> Result<CpuLevel> {
        let level = match requested {
            Some(l) => l,
            None => match std::env::var("THEON_CPU") {
                Ok(v) if !v.is_empty() => {
                    CpuLevel::parse(&v).map_err(|e| e.context("THEON_CPU"))?
                }
                _ => return Ok(CpuLevel::detected()),
            },
        };
        let top = CpuLevel::detected();
        if level > top {
            return Err(Error::value(format!(
                "CPU level {} was asked for, but this CPU supports up to {}",
                level.name(),
                top.name()
            )));
        }
        Ok(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_order_and_refuse_more_than_the_machine() {
        assert_eq!(CpuLevel::parse("AVX2").unwrap(), CpuLevel::Avx2);
        assert!(CpuLevel::parse("sse9").is_err());
        assert!(CpuLevel::Portable < CpuLevel::Avx2 && CpuLevel::Avx2 < CpuLevel::Avx512);
        assert_eq!(
            CpuLevel::resolve(Some(CpuLevel::Portable)).unwrap(),
            CpuLevel::Portable
        );
        let top = CpuLevel::detected();
        assert_eq!(*CpuLevel::supported().last().unwrap(), top);
        if top < CpuLevel::Avx512 {
            let e = CpuLevel::resolve(Some(CpuLevel::Avx512)).unwrap_err();
            assert!(e.message().contains("supports up to"), "{e}");
        }
    }
}
