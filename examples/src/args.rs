//! Minimal `--flag value` parsing for the examples (no dependency needed).

use theon::prelude::{Error, Result};

/// Flags given on the command line; each lookup checks the flag is known.
pub struct Args {
    given: Vec<(String, Option<String>)>,
    known: Vec<&'static str>,
}

impl Args {
    /// Parse `std::env::args()`; `--name value` or `--name` (a switch).
    pub fn from_env() -> Args {
        let raw: Vec<String> = std::env::args().skip(1).collect();
        let mut given = vec![];
        let mut i = 0;
        while i < raw.len() {
            let name = raw[i].trim_start_matches("--").to_string();
            let value = raw.get(i + 1).filter(|v| !v.starts_with("--")).cloned();
            i += 1 + value.is_some() as usize;
            given.push((name, value));
        }
        Args {
            given,
            known: vec![],
        }
    }

    fn find(&mut self, name: &'static str) -> Option<&(String, Option<String>)> {
        self.known.push(name);
        self.given.iter().find(|(n, _)| n == name)
    }

    /// A value flag parsed as `T`, or `default`.
    pub fn get<T: std::str::FromStr>(&mut self, name: &'static str, default: T) -> Result<T> {
        match self.find(name) {
            None => Ok(default),
            Some((_, None)) => Err(Error::value(format!("--{name} needs a value"))),
            Some((_, Some(v))) => v
                .parse()
                .map_err(|_| Error::value(format!("--{name}: cannot parse '{v}'"))),
        }
    }

    /// An optional value flag.
    pub fn opt(&mut self, name: &'static str) -> Result<Option<String>> {
        match self.find(name) {
            None => Ok(None),
            Some((_, None)) => Err(Error::value(format!("--{name} needs a value"))),
            Some((_, Some(v))) => Ok(Some(v.clone())),
        }
    }

    /// A switch (present or not).
    pub fn flag(&mut self, name: &'static str) -> bool {
        self.find(name).is_some()
    }

    /// Fail on flags no lookup asked for (call after all lookups).
    pub fn finish(&self) -> Result<()> {
        if let Some((n, _)) = self
            .given
            .iter()
            .find(|(n, _)| !self.known.contains(&n.as_str()))
        {
            return Err(Error::value(format!(
                "unknown flag --{n} (known: --{})",
                self.known.join(", --")
            )));
        }
        Ok(())
    }
}
