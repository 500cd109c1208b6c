//! Rewrite rules written as data: s-expression patterns.
//!
//! ```text
//! (log (add 1 ?x))  =>  (log1p ?x)
//! ```
//! Op names are the elementwise ops' names (`log`, `add`, `sigmoid`, ...);
//! `where` is the three-way select; `?x` binds any value (the same name must bind the same value); a number
//! matches a constant whose every element equals it and, on the right,
//! makes a scalar constant of the matched value's dtype. Commutative ops
//! match their operands in either order. The engine rejects a result whose
//! type differs from the original (e.g. a broadcasting constant dropped).

use super::patch::{Patch, Ref};
use crate::graph::{Graph, NodeId, Value};
use crate::op::{BinaryOp, ConstValue, Op, UnaryOp};
use rustc_hash::FxHashMap;
use theon_runtime::{DType, Tensor};

#[derive(Clone, Debug, PartialEq)]
pub enum Pat {
    Var(String),
    Num(f64),
    Unary(UnaryOp, Box<Pat>),
    Binary(BinaryOp, Box<Pat>, Box<Pat>),
    /// `(where ?cond ?then ?else)`.
    Where(Box<Pat>, Box<Pat>, Box<Pat>),
}

/// A named rule `lhs => rhs`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: &'static str,
    pub lhs: Pat,
    pub rhs: Pat,
}

impl Rule {
    /// Parse a rule; panics on a malformed pattern (rules are compile-time
    /// data of this crate, covered by tests).
    pub fn new(name: &'static str, lhs: &str, rhs: &str) -> Rule {
        let parse = |s: &str| parse(s).unwrap_or_else(|e| panic!("rule {name}: {e}"));
        Rule {
            name,
            lhs: parse(lhs),
            rhs: parse(rhs),
        }
    }

    /// The op at the root of the left side (what the rule tracks).
    pub fn root_op(&self) -> Option<Op> {
        match &self.lhs {
            Pat::Unary(u, _) => Some(Op::Unary(*u)),
            Pat::Binary(b, _, _) => Some(Op::Binary(*b)),
            Pat::Where(..) => Some(Op::Where),
            _ => None,
        }
    }

    /// Try the rule at node `n`.
    pub fn apply(&self, g: &Graph, n: NodeId) -> Option<Patch> {
        let mut env = FxHashMap::default();
        let root = Value::of(n);
        if !matches(g, &self.lhs, root, &mut env) {
            return None;
        }
        let dtype = g.ty(root).dtype;
        let mut p = Patch::new();
        let out = build(&self.rhs, &env, dtype, &mut p);
        p.replace(root, out);
        Some(p)
    }
}

fn matches(g: &Graph, pat: &Pat, v: Value, env: &mut FxHashMap<String, Value>) -> bool {
    match pat {
        Pat::Var(name) => match env.get(name) {
            Some(bound) => *bound == v,
            None => {
                env.insert(name.clone(), v);
                true
            }
        },
        Pat::Num(x) => match g.op(v.node) {
            Op::Constant(c) => c.splat() == Some(*x),
            _ => false,
        },
        Pat::Unary(u, a) => match g.op(v.node) {
            Op::Unary(w) if w == u => matches(g, a, g.input(v.node, 0), env),
            _ => false,
        },
        Pat::Binary(b, l, r) => match g.op(v.node) {
            Op::Binary(w) if w == b => {
                let (x, y) = (g.input(v.node, 0), g.input(v.node, 1));
                let saved = env.clone();
                if matches(g, l, x, env) && matches(g, r, y, env) {
                    return true;
                }
                *env = saved;
                b.is_commutative() && matches(g, l, y, env) && matches(g, r, x, env)
            }
            _ => false,
        },
        Pat::Where(c, a, b) => {
            matches!(g.op(v.node), Op::Where)
                && matches(g, c, g.input(v.node, 0), env)
                && matches(g, a, g.input(v.node, 1), env)
                && matches(g, b, g.input(v.node, 2), env)
        }
    }
}

fn build(pat: &Pat, env: &FxHashMap<String, Value>, dtype: DType, p: &mut Patch) -> Ref {
    match pat {
        Pat::Var(name) => Ref::Old(env[name]),
        Pat::Num(x) => p.add(
            Op::Constant(ConstValue::new(Tensor::full(*x, dtype, &[]))),
            &[],
        ),
        Pat::Unary(u, a) => {
            let a = build(a, env, dtype, p);
            p.add(Op::Unary(*u), &[a])
        }
        Pat::Binary(b, l, r) => {
            let (l, r) = (build(l, env, dtype, p), build(r, env, dtype, p));
            p.add(Op::Binary(*b), &[l, r])
        }
        Pat::Where(c, a, b) => {
            let c = build(c, env, dtype, p);
            let (a, b) = (build(a, env, dtype, p), build(b, env, dtype, p));
            p.add(Op::Where, &[c, a, b])
        }
    }
}

/// Parse one s-expression pattern.
pub fn parse(s: &str) -> Result<Pat, String> {
    let tokens: Vec<String> = s
        .replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut pos = 0;
    let p = parse_at(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("trailing tokens in '{s}'"));
    }
    Ok(p)
}

fn parse_at(t: &[String], pos: &mut usize) -> Result<Pat, String> {
    let tok = t.get(*pos).ok_or("unexpected end")?.clone();
    *pos += 1;
    if let Some(name) = tok.strip_prefix('?') {
        return Ok(Pat::Var(name.to_string()));
    }
    if let Ok(x) = tok.parse::<f64>() {
        return Ok(Pat::Num(x));
    }
    if tok != "(" {
        return Err(format!("unexpected '{tok}'"));
    }
    let op = t.get(*pos).ok_or("missing op")?.clone();
    *pos += 1;
    let mut args = Vec::new();
    while t.get(*pos).map(String::as_str) != Some(")") {
        args.push(parse_at(t, pos)?);
    }
    *pos += 1;
    if let Some(u) = UnaryOp::ALL.iter().find(|u| u.name() == op) {
        let [a]: [Pat; 1] = args
            .try_into()
            .map_err(|_| format!("{op} takes one argument"))?;
        return Ok(Pat::Unary(*u, Box::new(a)));
    }
    if let Some(b) = BinaryOp::ALL.iter().find(|b| b.name() == op) {
        let [l, r]: [Pat; 2] = args
            .try_into()
            .map_err(|_| format!("{op} takes two arguments"))?;
        return Ok(Pat::Binary(*b, Box::new(l), Box::new(r)));
    }
    if op == "where" {
        let [c, a, b]: [Pat; 3] = args
            .try_into()
            .map_err(|_| "where takes three arguments".to_string())?;
        return Ok(Pat::Where(Box::new(c), Box::new(a), Box::new(b)));
    }
    Err(format!("unknown op '{op}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_patterns() {
        let p = parse("(log (add 1 ?x))").unwrap();
        assert_eq!(
            p,
            Pat::Unary(
                UnaryOp::Log,
                Box::new(Pat::Binary(
                    BinaryOp::Add,
                    Box::new(Pat::Num(1.0)),
                    Box::new(Pat::Var("x".into()))
                ))
            )
        );
        assert!(parse("(log ?x ?y)").is_err());
        assert!(parse("(frobnicate ?x)").is_err());
        assert!(parse("(log ?x))").is_err());
    }
}
