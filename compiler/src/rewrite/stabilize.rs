//! stabilize: replace numerically unstable forms by stable ones.
//!
//! The algebraic rules are data (s-expression patterns, see `pattern.rs`);
//! the one that needs op properties (logsumexp) is code. Patterns are
//! written against canonical forms (constants on the right, `x - c` as
//! `x + (-c)`), which canonicalize has produced.

use super::patch::Patch;
use super::pattern::Rule;
use super::{Ctx, LocalRewrite};
use crate::graph::{Graph, NodeId, Value};
use crate::op::{Op, ReduceOp, UnaryOp};

/// `(name, before, after)`: read as "before => after".
pub const RULES: &[(&str, &str, &str)] = &[
    ("log1p", "(log (add ?x 1))", "(log1p ?x)"),
    ("expm1", "(add (exp ?x) -1)", "(expm1 ?x)"),
    ("log_sigmoid", "(log (sigmoid ?x))", "(log_sigmoid ?x)"),
    (
        "log1p_neg_sigmoid",
        "(log1p (neg (sigmoid ?x)))",
        "(log_sigmoid (neg ?x))",
    ),
    (
        "one_minus_sigmoid",
        "(sub 1 (sigmoid ?x))",
        "(sigmoid (neg ?x))",
    ),
    ("log_exp", "(log (exp ?x))", "?x"),
    (
        "sigmoid_from_exp",
        "(reciprocal (add (exp (neg ?x)) 1))",
        "(sigmoid ?x)",
    ),
    (
        "softplus_from_log1p_exp",
        "(log1p (exp ?x))",
        "(softplus ?x)",
    ),
    (
        "log_sigmoid_from_softplus",
        "(neg (softplus (neg ?x)))",
        "(log_sigmoid ?x)",
    ),
    // Bernoulli log-likelihood with probabilities sigmoid(z), through logits:
    // y log σ(z) + (1 - y) log σ(-z) = y z - softplus(z).
    (
        "bernoulli_logits",
        "(add (mul ?y (log_sigmoid ?z)) (mul (sub 1 ?y) (log_sigmoid (neg ?z))))",
        "(sub (mul ?y ?z) (softplus ?z))",
    ),
    // The same as a select (PyMC's Bernoulli: switch(y, log p, log1p(-p))),
    // with one transcendental: select the argument, not the result.
    // (`where(c, z, 0) - softplus(z)` would be inf - inf at z = +inf.)
    (
        "bernoulli_select",
        "(where ?c (log_sigmoid ?z) (log_sigmoid (neg ?z)))",
        "(log_sigmoid (where ?c ?z (neg ?z)))",
    ),
    // log(exp(a) + exp(b)) = max(a, b) + log1p(exp(-|a - b|)); equal
    // arguments (infinite ones included, where a - b is NaN) give
    // a/2 + b/2 + ln 2 (the same value, with the gradient split evenly).
    (
        "logaddexp",
        "(log (add (exp ?a) (exp ?b)))",
        "(where (eq ?a ?b) (add (add (mul ?a 0.5) (mul ?b 0.5)) 0.6931471805599453) (add (maximum ?a ?b) (softplus (neg (abs (sub ?a ?b))))))",
    ),
];

/// log(sum(exp(x))) → logsumexp(x), over the same axes.
fn logsumexp(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let s = g.input(n, 0);
    let Op::Reduce {
        op: ReduceOp::Sum,
        axes,
        keepdims,
    } = g.op(s.node)
    else {
        return None;
    };
    let e = g.input(s.node, 0);
    if *g.op(e.node) != Op::Unary(UnaryOp::Exp) {
        return None;
    }
    let op = Op::Reduce {
        op: ReduceOp::LogSumExp,
        axes: axes.clone(),
        keepdims: *keepdims,
    };
    Some(Patch::with(Value::of(n), op, &[g.input(e.node, 0).into()]))
}

pub fn rewrites() -> Vec<LocalRewrite> {
    let mut v: Vec<LocalRewrite> = RULES
        .iter()
        .map(|(name, l, r)| LocalRewrite::rule(Rule::new(name, l, r)))
        .collect();
    v.push(LocalRewrite::code(
        "logsumexp",
        |op| *op == Op::Unary(UnaryOp::Log),
        logsumexp,
    ));
    v
}
