//! Which rewrites fired, how often and where.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub phase: &'static str,
    pub rewrite: &'static str,
    /// The node rewritten, as a short expression (`Log(Add(1.0, x))`).
    pub at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub events: Vec<Event>,
}

impl Trace {
    pub fn record(&mut self, phase: &'static str, rewrite: &'static str, at: String) {
        if std::env::var_os("THEON_TRACE_REWRITES").is_some() {
            eprintln!("[theon rewrite] {phase}/{rewrite} at {at}");
        }
        self.events.push(Event { phase, rewrite, at });
    }
    /// How many times each rewrite fired, by name.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for e in &self.events {
            *m.entry(e.rewrite).or_default() += 1;
        }
        m
    }
    pub fn fired(&self, rewrite: &str) -> bool {
        self.events.iter().any(|e| e.rewrite == rewrite)
    }
    pub fn count(&self, rewrite: &str) -> usize {
        self.events.iter().filter(|e| e.rewrite == rewrite).count()
    }
}

impl fmt::Display for Trace {
    /// A summary line per rewrite, then every event.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rewrites fired: {}", self.events.len())?;
        for (name, n) in self.counts() {
            writeln!(f, "  {name} x{n}")?;
        }
        for e in &self.events {
            writeln!(f, "  {}/{} at {}", e.phase, e.rewrite, e.at)?;
        }
        Ok(())
    }
}
