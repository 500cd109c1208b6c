#!/usr/bin/env python3
"""Reference log-densities, gradients and delicate elementwise functions.

Writes tests/data/reference/densities.csv and tests/data/reference/functions.csv
(paths relative to the repository root, found from this file's location).
The file format is described in tests/data/reference/README.md.

Everything is computed in mpmath (50 significant digits) from closed forms
(gradients analytically).  Checks, all asserted:
  * log-densities against scipy.stats (1e-12 relative; the rows where scipy
    is known to be off carry a `scipy_known` reason and are listed in the
    script's report),
  * gradients against high-precision finite differences of the same mpmath
    log-density,
  * the elementwise functions against scipy.special (float64, 4 ulp),
  * both tables recomputed at 120 digits round to the same floats.
No randomness is used: running the script twice gives byte-identical files.

Run from the repository root:  python3 scripts/reference/gen_reference.py
"""

import csv
import io
import math
import os
import sys

import mpmath
import numpy as np
import scipy
import scipy.special as sps
import scipy.stats as st
from mpmath import mp, mpf

mp.dps = 50

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "reference")

INF = float("inf")
NAN = float("nan")
U64 = mpf(2) ** -53  # unit roundoff of float64

# ---------------------------------------------------------------------------
# Correct rounding of an mpmath number to float64 / float32.
# ---------------------------------------------------------------------------

_NP = {"float64": np.float64, "float32": np.float32}
_INT = {"float64": np.int64, "float32": np.int32}
_MAXHALF = {  # |v| at or beyond this rounds to infinity (max + half an ulp)
    "float64": mpf(2) ** 1024 - mpf(2) ** 970,
    "float32": mpf(2) ** 128 - mpf(2) ** 103,
}


def round_to(v, dtype="float64"):
    """The dtype value nearest to the mpf v (ties to even), as a Python float."""
    v = mpf(v)
    if mp.isnan(v):
        return NAN
    if mp.isinf(v):
        return INF if v > 0 else -INF
    if v == 0:
        return 0.0
    if abs(v) >= _MAXHALF[dtype]:
        return INF if v > 0 else -INF
    t = _NP[dtype]
    c = t(float(v)) if abs(v) < mpf(2) ** 1024 else t(INF if v > 0 else -INF)
    cands = {c, np.nextafter(c, t(-INF)), np.nextafter(c, t(INF))}
    best = None
    for k in sorted(cands):
        if not np.isfinite(k):
            continue
        d = abs(mpf(float(k)) - v)
        if best is None or d < best[0]:
            best = (d, k)
        elif d == best[0]:  # tie: the even one
            if int(np.array(k, dtype=t).view(_INT[dtype])) % 2 == 0:
                best = (d, k)
    r = float(best[1])
    if r == 0.0 and v < 0:
        r = -0.0
    return r


def fmt(v, dtype="float64"):
    """repr() of the correctly rounded value; 'inf', '-inf', 'nan' as such."""
    return repr(round_to(v, dtype))


def fmt_in(v):
    """An input (already a float) as repr."""
    return repr(float(v))


def sci(v):
    """A tolerance, two significant digits."""
    return "%.2g" % float(v)


# ---------------------------------------------------------------------------
# E: an mpmath value with a running bound on the absolute rounding error of a
# straightforward float64 evaluation of the same formula (in units of the
# unit roundoff u = 2^-53).  Inputs are exact (error 0).  Used only to
# recommend tolerances for ill-conditioned rows.
# ---------------------------------------------------------------------------


class E:
    __slots__ = ("v", "e")

    def __init__(self, v, e=0):
        self.v = mpf(v)
        self.e = mpf(e)

    def __add__(self, o):
        o = lift(o)
        v = self.v + o.v
        return E(v, self.e + o.e + abs(v))

    __radd__ = __add__

    def __sub__(self, o):
        o = lift(o)
        v = self.v - o.v
        return E(v, self.e + o.e + abs(v))

    def __rsub__(self, o):
        return lift(o) - self

    def __mul__(self, o):
        o = lift(o)
        v = self.v * o.v
        return E(v, abs(o.v) * self.e + abs(self.v) * o.e + abs(v))

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = lift(o)
        v = self.v / o.v
        return E(v, self.e / abs(o.v) + abs(v) * o.e / abs(o.v) + abs(v))

    def __rtruediv__(self, o):
        return lift(o) / self

    def __neg__(self):
        return E(-self.v, self.e)

    def __abs__(self):
        return E(abs(self.v), self.e)


def lift(x):
    return x if isinstance(x, E) else E(x)


def const(v):
    """A rounded constant such as log(pi)."""
    v = mpf(v)
    return E(v, abs(v))


def elog(a):
    a = lift(a)
    if a.v == 0:
        return E(-mp.inf)
    v = mp.log(a.v)
    return E(v, a.e / abs(a.v) + 2 * abs(v))


def elog1p(a):
    a = lift(a)
    if a.v == -1:
        return E(-mp.inf)
    v = mp.log1p(a.v)
    return E(v, a.e / abs(1 + a.v) + 2 * abs(v))


def elgamma(a):
    a = lift(a)
    v = mp.loggamma(a.v)
    return E(v, abs(mp.digamma(a.v)) * a.e + 2 * abs(v) + 2)


def edigamma(a):
    a = lift(a)
    v = mp.digamma(a.v)
    return E(v, abs(mp.psi(1, a.v)) * a.e + 2 * abs(v) + 2)


def epow(b, c):
    b, c = lift(b), lift(c)
    v = mp.power(b.v, c.v)
    eb = abs(c.v * mp.power(b.v, c.v - 1)) * b.e if b.v != 0 else 0
    ec = abs(v * mp.log(b.v)) * c.e if b.v > 0 else 0
    return E(v, eb + ec + 2 * abs(v))


def esigmoid(a):
    a = lift(a)
    v = 1 / (1 + mp.exp(-a.v))
    return E(v, abs(v * (1 - v)) * a.e + 2 * abs(v))


def elogsigmoid(a):
    """log(sigmoid(a)) = -log1p(exp(-a)), a stable evaluation."""
    a = lift(a)
    if mp.isinf(a.v):
        return E(0) if a.v > 0 else E(-mp.inf)
    v = -mp.log1p(mp.exp(-a.v))
    return E(v, abs(1 / (1 + mp.exp(a.v))) * a.e + 2 * abs(v))


def xlogy(c, x):
    """c * log(x), 0 where c == 0 (also at x == 0)."""
    c = lift(c)
    if c.v == 0:
        return E(0)
    return c * elog(x)


def xlog1py(c, y):
    c = lift(c)
    if c.v == 0:
        return E(0)
    return c * elog1p(y)


def init_consts():
    """Rounded constants, at the current working precision."""
    global LOG_PI, LOG_2, HALF_LOG_2PI, HALF_LOG_2_OVER_PI
    LOG_PI = const(mp.log(mp.pi))
    LOG_2 = const(mp.log(2))
    HALF_LOG_2PI = const(mp.log(2 * mp.pi) / 2)
    HALF_LOG_2_OVER_PI = const(mp.log(2 / mp.pi) / 2)


init_consts()


# ---------------------------------------------------------------------------
# Results of a log-density evaluation
# ---------------------------------------------------------------------------


class Res:
    """lp: E (or E(+-inf)); gx: E / list of E / None; g: {name: E | list | None}."""

    def __init__(self, lp, gx=None, g=None, flags=(), omitted=(), comment=""):
        self.lp = lp if isinstance(lp, E) else E(lp)
        self.gx = gx
        self.g = dict(g or {})
        self.flags = list(flags)
        self.omitted = list(omitted)
        self.comment = comment


def invalid(comment=""):
    return Res(E(-mp.inf), flags=["invalid_param"], comment=comment)


def outside():
    return Res(E(-mp.inf), flags=["outside_support"])


def boundary_inf(v, comment):
    """A value in the support where the density is 0 or infinite."""
    flag = "zero_density" if v < 0 else "infinite_density"
    return Res(E(v), flags=["boundary", flag], comment=comment)


def is_int(v):
    return mp.isfinite(v) and v == mp.floor(v)


# ---------------------------------------------------------------------------
# Log-densities (PyMC parameterizations) with analytic gradients.
# x and scalar parameters are E; vector parameters lists of E.
# ---------------------------------------------------------------------------


def d_normal(x, P):
    mu, s = P["mu"], P["sigma"]
    if not s.v > 0:
        return invalid("sigma > 0")
    if mp.isinf(x.v):
        return Res(E(-mp.inf), flags=["x_infinite"])
    z = (x - mu) / s
    lp = -(0.5 * (z * z)) - elog(s) - HALF_LOG_2PI
    return Res(lp, -(z / s), {"mu": z / s, "sigma": (z * z - 1) / s})


def d_halfnormal(x, P):
    s = P["sigma"]
    if not s.v > 0:
        return invalid("sigma > 0")
    if x.v < 0:
        return outside()
    r = x / s
    lp = HALF_LOG_2_OVER_PI - elog(s) - 0.5 * (r * r)
    flags = ["one_sided"] if x.v == 0 else []
    return Res(lp, -(r / s), {"sigma": (r * r - 1) / s}, flags)


def _student(x, nu, mu, s):
    z = (x - mu) / s
    z2 = z * z
    half_np1 = (nu + 1) * 0.5
    lp = (elgamma(half_np1) - elgamma(nu * 0.5) - 0.5 * elog(nu * const(mp.pi))
          - elog(s) - half_np1 * elog1p(z2 / nu))
    q = nu + z2
    gx = -((nu + 1) * z / (s * q))
    gs = (-1 + (nu + 1) * z2 / q) / s
    gnu = (0.5 * edigamma(half_np1) - 0.5 * edigamma(nu * 0.5) - 0.5 / nu
           - 0.5 * elog1p(z2 / nu) + (nu + 1) * z2 / (2 * nu * q))
    return lp, gx, gs, gnu


def d_studentt(x, P):
    nu, mu, s = P["nu"], P["mu"], P["sigma"]
    if not (nu.v > 0 and s.v > 0):
        return invalid("nu > 0 and sigma > 0")
    lp, gx, gs, gnu = _student(x, nu, mu, s)
    return Res(lp, gx, {"nu": gnu, "mu": -gx, "sigma": gs})


def d_halfstudentt(x, P):
    nu, s = P["nu"], P["sigma"]
    if not (nu.v > 0 and s.v > 0):
        return invalid("nu > 0 and sigma > 0")
    if x.v < 0:
        return outside()
    lp, gx, gs, gnu = _student(x, nu, E(0), s)
    flags = ["one_sided"] if x.v == 0 else []
    return Res(LOG_2 + lp, gx, {"nu": gnu, "sigma": gs}, flags)


def d_laplace(x, P):
    mu, b = P["mu"], P["b"]
    if not b.v > 0:
        return invalid("b > 0")
    d = x - mu
    lp = -elog(2 * b) - abs(d) / b
    gb = (-1 + abs(d) / b) / b
    if d.v == 0:
        return Res(lp, None, {"mu": None, "b": gb}, omitted=["x", "mu"],
                   comment="x == mu: |x - mu| has no derivative")
    sg = 1 if d.v > 0 else -1
    return Res(lp, -(sg / b), {"mu": sg / b, "b": gb})


def d_uniform(x, P):
    lo, hi = P["lower"], P["upper"]
    if not lo.v < hi.v:
        return invalid("lower < upper")
    if x.v < lo.v or x.v > hi.v:
        return outside()
    w = hi - lo
    lp = -elog(w)
    g = {"lower": 1 / w, "upper": -(1 / w)}
    gx = E(0)
    om = []
    if x.v == lo.v:
        gx, g["lower"], om = None, None, ["x", "lower"]
    if x.v == hi.v:
        gx, g["upper"], om = None, None, ["x", "upper"]
    if om:
        return Res(lp, gx, g, ["boundary"], om,
                   "x on a bound: logp jumps to -inf there")
    return Res(lp, gx, g)


def d_beta(x, P):
    a, b = P["alpha"], P["beta"]
    if not (a.v > 0 and b.v > 0):
        return invalid("alpha > 0 and beta > 0")
    if x.v < 0 or x.v > 1:
        return outside()
    ta = xlogy(a - 1, x)
    tb = xlog1py(b - 1, -x)
    lbeta = elgamma(a) + elgamma(b) - elgamma(a + b)
    if mp.isinf(ta.v) or mp.isinf(tb.v):
        v = ta.v if mp.isinf(ta.v) else tb.v
        return boundary_inf(v, "x on the boundary of [0 1]")
    lp = ta + tb - lbeta
    gx = (a - 1) / x if a.v != 1 else E(0)
    gx = gx - ((b - 1) / (1 - x) if b.v != 1 else E(0))
    psab = edigamma(a + b)
    g = {"alpha": None, "beta": None}
    om = []
    if x.v > 0:
        g["alpha"] = elog(x) - edigamma(a) + psab
    else:
        om.append("alpha")
    if x.v < 1:
        g["beta"] = elog1p(-x) - edigamma(b) + psab
    else:
        om.append("beta")
    if om:
        return Res(lp, gx, g, ["boundary", "one_sided"], om,
                   "d/d%s = -inf (log x or log1p(-x) at the boundary)" % om[0])
    return Res(lp, gx, g)


def d_gamma(x, P):
    a, b = P["alpha"], P["beta"]
    if not (a.v > 0 and b.v > 0):
        return invalid("alpha > 0 and beta > 0")
    if x.v < 0:
        return outside()
    ta = xlogy(a - 1, x)
    if mp.isinf(ta.v):
        return boundary_inf(ta.v, "x == 0")
    lp = a * elog(b) - elgamma(a) + ta - b * x
    gx = ((a - 1) / x if a.v != 1 else E(0)) - b
    gb = a / b - x
    if x.v == 0:
        return Res(lp, gx, {"alpha": None, "beta": gb}, ["boundary", "one_sided"],
                   ["alpha"], "d/dalpha = -inf (log x at x == 0)")
    return Res(lp, gx, {"alpha": elog(b) - edigamma(a) + elog(x), "beta": gb})


def d_exponential(x, P):
    lam = P["lam"]
    if not lam.v > 0:
        return invalid("lam > 0")
    if x.v < 0:
        return outside()
    lp = elog(lam) - lam * x
    flags = ["one_sided"] if x.v == 0 else []
    return Res(lp, -lam, {"lam": 1 / lam - x}, flags)


def d_cauchy(x, P):
    al, be = P["alpha"], P["beta"]
    if not be.v > 0:
        return invalid("beta > 0")
    z = (x - al) / be
    z2 = z * z
    lp = -LOG_PI - elog(be) - elog1p(z2)
    gx = -(2 * z / (be * (1 + z2)))
    return Res(lp, gx, {"alpha": -gx, "beta": (-1 + 2 * z2 / (1 + z2)) / be})


def d_halfcauchy(x, P):
    be = P["beta"]
    if not be.v > 0:
        return invalid("beta > 0")
    if x.v < 0:
        return outside()
    z = x / be
    z2 = z * z
    lp = LOG_2 - LOG_PI - elog(be) - elog1p(z2)
    gx = -(2 * z / (be * (1 + z2)))
    flags = ["one_sided"] if x.v == 0 else []
    return Res(lp, gx, {"beta": (-1 + 2 * z2 / (1 + z2)) / be}, flags)


def d_lognormal(x, P):
    mu, s = P["mu"], P["sigma"]
    if not s.v > 0:
        return invalid("sigma > 0")
    if x.v < 0:
        return outside()
    if x.v == 0:
        return boundary_inf(-mp.inf, "x == 0 (PyMC: value > 0)")
    y = elog(x)
    z = (y - mu) / s
    lp = -y - elog(s) - HALF_LOG_2PI - 0.5 * (z * z)
    return Res(lp, -((1 + z / s) / x), {"mu": z / s, "sigma": (z * z - 1) / s})


def d_inversegamma(x, P):
    a, b = P["alpha"], P["beta"]
    if not (a.v > 0 and b.v > 0):
        return invalid("alpha > 0 and beta > 0")
    if x.v < 0:
        return outside()
    if x.v == 0:
        return boundary_inf(-mp.inf, "x == 0 (PyMC: value > 0)")
    lx = elog(x)
    lp = a * elog(b) - elgamma(a) - (a + 1) * lx - b / x
    gx = -((a + 1) / x) + b / (x * x)
    return Res(lp, gx, {"alpha": elog(b) - edigamma(a) - lx, "beta": a / b - 1 / x})


def d_weibull(x, P):
    a, b = P["alpha"], P["beta"]
    if not (a.v > 0 and b.v > 0):
        return invalid("alpha > 0 and beta > 0")
    if x.v < 0:
        return outside()
    if x.v == 0:
        if a.v < 1:
            return boundary_inf(mp.inf, "x == 0 with alpha < 1")
        if a.v > 1:
            return boundary_inf(-mp.inf, "x == 0 with alpha > 1")
        return Res(-elog(b), -(1 / b), {"alpha": None, "beta": -(1 / b)},
                   ["boundary", "one_sided"], ["alpha"],
                   "d/dalpha = -inf (log x at x == 0); PyMC computes 0*log(0) = nan here")
    r = x / b
    lr = elog(r)
    ra = epow(r, a)
    lp = elog(a) - elog(b) + (a - 1) * lr - ra
    gx = (a - 1) / x - a * ra / x
    ga = 1 / a + lr - ra * lr
    gb = (-a + a * ra) / b
    return Res(lp, gx, {"alpha": ga, "beta": gb})


def d_bernoulli(x, P):
    k = x.v
    if "logit_p" in P:
        l = P["logit_p"]
        if mp.isnan(l.v):
            return invalid("logit_p not nan")
        if k not in (0, 1):
            return outside()
        flags = ["limit"] if mp.isinf(l.v) else []
        if k == 1:
            lp = elogsigmoid(l)
            g = esigmoid(-l) if not mp.isinf(l.v) else E(0 if l.v > 0 else 1)
        else:
            lp = elogsigmoid(-l)
            g = -esigmoid(l) if not mp.isinf(l.v) else E(0 if l.v < 0 else -1)
        if mp.isinf(lp.v):
            return Res(lp, flags=["zero_mass"])
        c = "gradient is the limit as logit_p -> +-inf" if flags else ""
        return Res(lp, None, {"logit_p": g}, flags, comment=c)
    p = P["p"]
    if not (0 <= p.v <= 1):
        return invalid("0 <= p <= 1")
    if k not in (0, 1):
        return outside()
    if k == 1:
        if p.v == 0:
            return Res(E(-mp.inf), flags=["zero_mass"])
        lp, g = elog(p), 1 / p
    else:
        if p.v == 1:
            return Res(E(-mp.inf), flags=["zero_mass"])
        lp, g = elog1p(-p), -(1 / (1 - p))
    flags = ["one_sided"] if p.v in (0, 1) else []
    return Res(lp, None, {"p": g}, flags)


def d_binomial(x, P):
    n, p = P["n"], P["p"]
    if not (n.v >= 0 and is_int(n.v) and 0 <= p.v <= 1):
        return invalid("n a non-negative integer and 0 <= p <= 1")
    k = x.v
    if not (is_int(k) and 0 <= k <= n.v):
        return outside()
    if (p.v == 0 and k > 0) or (p.v == 1 and k < n.v):
        return Res(E(-mp.inf), flags=["zero_mass"])
    nk = n - x
    lp = (elgamma(n + 1) - elgamma(x + 1) - elgamma(nk + 1)
          + xlogy(x, p) + xlog1py(nk, -p))
    g = (x / p if k != 0 else E(0)) - (nk / (1 - p) if nk.v != 0 else E(0))
    flags = ["one_sided"] if p.v in (0, 1) else []
    return Res(lp, None, {"p": g}, flags)


def _lse(l):
    """(max, log(sum(exp(l - max)))) of a vector of E, with an error bound for
    logsumexp computed as max + log(sum(exp(l - max)))."""
    m = max(t.v for t in l)
    s = mp.fsum(mp.exp(t.v - m) for t in l)
    r = mp.log(s)
    e = abs(m + r) + abs(m) + mp.fsum(mp.exp(t.v - m) / s * abs(t.v - m) for t in l) + 4
    return m, r, e


def d_categorical(x, P):
    k = x.v
    if "logit_p" in P:
        l = P["logit_p"]
        K = len(l)
        if not (is_int(k) and 0 <= k < K):
            return outside()
        k = int(k)
        m, r, _ = _lse(l)
        # (l_k - max) - log(sum(exp(l - max))), the stable log-softmax: the
        # error bound is for that formula (l_k - logsumexp(l) is not
        # acceptable at l = [1e308, 1e308])
        v = (l[k].v - m) - r
        lp = E(v, 2 * abs(l[k].v - m) + 2 * abs(r) + abs(v) + 4)
        g = []
        for i in range(K):
            s = mp.exp((l[i].v - m) - r)
            g.append(E((1 if i == k else 0) - s, abs(s) * (abs(l[i].v - m) + 4) + 2))
        return Res(lp, None, {"logit_p": g})
    p = P["p"]
    K = len(p)
    tot = mp.fsum(t.v for t in p)
    if any(not (0 <= t.v <= 1) for t in p) or abs(tot - 1) > mpf("1e-8") + mpf("1e-5"):
        return invalid("0 <= p <= 1 and sum(p) == 1")
    if not (is_int(k) and 0 <= k < K):
        return outside()
    k = int(k)
    if p[k].v == 0:
        return Res(E(-mp.inf), flags=["zero_mass"])
    g = [1 / p[i] if i == k else E(0) for i in range(K)]
    return Res(elog(p[k]), None, {"p": g})


def d_poisson(x, P):
    mu = P["mu"]
    if not mu.v >= 0:
        return invalid("mu >= 0")
    k = x.v
    if not (is_int(k) and k >= 0):
        return outside()
    if mu.v == 0 and k > 0:
        return Res(E(-mp.inf), flags=["zero_mass"])
    lp = xlogy(x, mu) - mu - elgamma(x + 1)
    g = (x / mu if k != 0 else E(0)) - 1
    flags = ["one_sided"] if mu.v == 0 else []
    return Res(lp, None, {"mu": g}, flags)


def d_negbinomial(x, P):
    mu, a = P["mu"], P["alpha"]
    if not (mu.v > 0 and a.v > 0):
        return invalid("mu > 0 and alpha > 0")
    k = x.v
    if not (is_int(k) and k >= 0):
        return outside()
    s = mu + a
    lr = elog(a / s)
    lp = (elgamma(x + a) - elgamma(a) - elgamma(x + 1) + a * lr + xlogy(x, mu / s))
    gmu = (x / mu if k != 0 else E(0)) - (x + a) / s
    ga = edigamma(x + a) - edigamma(a) + lr + (mu - x) / s
    return Res(lp, None, {"mu": gmu, "alpha": ga})


def d_dirichlet(x, P):
    a = P["a"]
    if any(not t.v > 0 for t in a):
        return invalid("a > 0")
    if any(t.v < 0 or t.v > 1 for t in x):
        return outside()
    terms = [xlogy(ai - 1, xi) for ai, xi in zip(a, x)]
    infs = [t.v for t in terms if mp.isinf(t.v)]
    if infs:
        return boundary_inf(infs[0], "a component of x is 0")
    asum = E(0)
    for ai in a:
        asum = asum + ai
    lp = E(0)
    for t in terms:
        lp = lp + t
    for ai in a:
        lp = lp - elgamma(ai)
    lp = lp + elgamma(asum)
    gx = [(ai - 1) / xi if ai.v != 1 else E(0) for ai, xi in zip(a, x)]
    if any(xi.v == 0 for xi in x):
        return Res(lp, gx, {"a": None}, ["boundary", "one_sided"], ["a"],
                   "d/da_i = -inf where x_i == 0")
    psum = edigamma(asum)
    return Res(lp, gx, {"a": [elog(xi) - edigamma(ai) + psum for ai, xi in zip(a, x)]})


def d_mvnormal(x, P):
    mu, Lf = P["mu"], P["chol"]
    K = len(mu)
    L = [[Lf[i * K + j] for j in range(K)] for i in range(K)]
    if any(L[i][i].v == 0 for i in range(K)):
        return invalid("chol has a zero on its diagonal (singular covariance)")
    assert all(L[i][i].v > 0 for i in range(K)), "grid: positive diagonals only"
    r = [x[i] - mu[i] for i in range(K)]
    y = []
    for i in range(K):  # L y = r (lower triangle only)
        acc = r[i]
        for j in range(i):
            acc = acc - L[i][j] * y[j]
        y.append(acc / L[i][i])
    w = [None] * K
    for i in reversed(range(K)):  # L^T w = y
        acc = y[i]
        for j in range(i + 1, K):
            acc = acc - L[j][i] * w[j]
        w[i] = acc / L[i][i]
    lp = -(K * HALF_LOG_2PI)
    for i in range(K):
        lp = lp - elog(L[i][i])
    q = E(0)
    for yi in y:
        q = q + yi * yi
    lp = lp - 0.5 * q
    gL = []
    for i in range(K):
        for j in range(K):
            if j > i:
                gL.append(E(0))
            elif j == i:
                gL.append(w[i] * y[j] - 1 / L[i][i])
            else:
                gL.append(w[i] * y[j])
    return Res(lp, [-t for t in w], {"mu": list(w), "chol": gL})


# ---------------------------------------------------------------------------
# scipy counterparts.  Each returns (scipy value, mpmath reference to compare
# it with); the reference is the mpmath log-density at the parameters scipy
# actually sees when a reparameterization rounds (e.g. scale = 1/beta).
# ---------------------------------------------------------------------------


def _mp(dist, x, params):
    return DISTS[dist][0](to_e(x), {k: to_e(v) for k, v in params}).lp.v


def _sp_plain_gamma(x, P):
    return st.gamma.logpdf(x, P["alpha"], scale=1.0 / P["beta"])


def _sp_plain_exponential(x, P):
    return st.expon.logpdf(x, scale=1.0 / P["lam"])


def _sp_plain_lognormal(x, P):
    return st.lognorm.logpdf(x, P["sigma"], scale=math.exp(P["mu"]))


def _sp_plain_negbinomial(x, P):
    mu, a = P["mu"], P["alpha"]
    return st.nbinom.logpmf(x, a, a / (mu + a))


def _sp_plain_uniform(x, P):
    return st.uniform.logpdf(x, P["lower"], P["upper"] - P["lower"])


def _sp_plain_mvnormal(x, P):
    K = len(P["mu"])
    L = np.array(P["chol"]).reshape(K, K)
    try:
        return st.multivariate_normal(np.array(P["mu"]), L @ L.T).logpdf(np.array(x))
    except (ValueError, np.linalg.LinAlgError):
        return NAN


def sp_normal(x, P, own):
    return st.norm.logpdf(x, P["mu"], P["sigma"]), own


def sp_halfnormal(x, P, own):
    return st.halfnorm.logpdf(x, scale=P["sigma"]), own


def sp_studentt(x, P, own):
    return st.t.logpdf(x, P["nu"], P["mu"], P["sigma"]), own


def sp_halfstudentt(x, P, own):
    if x < 0:
        return -INF, own
    return math.log(2) + st.t.logpdf(x, P["nu"], 0.0, P["sigma"]), own


def sp_laplace(x, P, own):
    return st.laplace.logpdf(x, P["mu"], P["b"]), own


def sp_uniform(x, P, own):
    if not mp.isfinite(own):
        return _sp_plain_uniform(x, P), own
    lo, hi = P["lower"], P["upper"]
    w = hi - lo
    ref = -mp.log(mpf(w)) if math.isfinite(w) and w > 0 else own
    return st.uniform.logpdf(x, lo, w), ref


def sp_beta(x, P, own):
    return st.beta.logpdf(x, P["alpha"], P["beta"]), own


def sp_gamma(x, P, own):
    if not mp.isfinite(own):
        return _sp_plain_gamma(x, P), own
    scale = 1.0 / P["beta"]
    ref = _mp("Gamma", x, [("alpha", P["alpha"]), ("beta", 1 / mpf(scale))])
    return st.gamma.logpdf(x, P["alpha"], scale=scale), ref


def sp_exponential(x, P, own):
    if not mp.isfinite(own):
        return _sp_plain_exponential(x, P), own
    scale = 1.0 / P["lam"]
    ref = _mp("Exponential", x, [("lam", 1 / mpf(scale))])
    return st.expon.logpdf(x, scale=scale), ref


def sp_cauchy(x, P, own):
    return st.cauchy.logpdf(x, P["alpha"], P["beta"]), own


def sp_halfcauchy(x, P, own):
    return st.halfcauchy.logpdf(x, scale=P["beta"]), own


def sp_lognormal(x, P, own):
    if not mp.isfinite(own):
        return _sp_plain_lognormal(x, P), own
    scale = math.exp(P["mu"])
    ref = _mp("LogNormal", x, [("mu", mp.log(mpf(scale))), ("sigma", P["sigma"])])
    return st.lognorm.logpdf(x, P["sigma"], scale=scale), ref


def sp_inversegamma(x, P, own):
    return st.invgamma.logpdf(x, P["alpha"], scale=P["beta"]), own


def sp_weibull(x, P, own):
    return st.weibull_min.logpdf(x, P["alpha"], scale=P["beta"]), own


def sp_bernoulli(x, P, own):
    if "logit_p" in P:
        l = P["logit_p"]
        if x not in (0.0, 1.0):
            return -INF, own
        return float(sps.log_expit(l if x == 1 else -l)), own
    return st.bernoulli.logpmf(x, P["p"]), own


def sp_binomial(x, P, own):
    return st.binom.logpmf(x, P["n"], P["p"]), own


def sp_categorical(x, P, own):
    K = len(P.get("p", P.get("logit_p")))
    if not (x == math.floor(x) and 0 <= x < K):
        return -INF, own  # scipy has no categorical; outside the support
    k = int(x)
    if "logit_p" in P:
        return float(sps.log_softmax(np.array(P["logit_p"]))[k]), own
    p = np.array(P["p"])
    onehot = np.zeros(len(p))
    onehot[k] = 1
    return st.multinomial.logpmf(onehot, 1, p), own


def sp_poisson(x, P, own):
    return st.poisson.logpmf(x, P["mu"]), own


def sp_negbinomial(x, P, own):
    if not mp.isfinite(own):
        return _sp_plain_negbinomial(x, P), own
    mu, a = P["mu"], P["alpha"]
    p = a / (mu + a)
    n, pe, k = mpf(a), mpf(p), mpf(x)
    ref = (mp.loggamma(k + n) - mp.loggamma(n) - mp.loggamma(k + 1)
           + n * mp.log(pe) + (k * mp.log1p(-pe) if k else 0))
    return st.nbinom.logpmf(x, a, p), ref


def sp_dirichlet(x, P, own):
    try:
        return st.dirichlet.logpdf(np.array(x), np.array(P["a"])), own
    except ValueError:
        return NAN, own


def sp_mvnormal(x, P, own):
    if not mp.isfinite(own):
        return _sp_plain_mvnormal(x, P), own
    mu = np.array(P["mu"])
    K = len(mu)
    L = np.array(P["chol"]).reshape(K, K)
    C = L @ L.T
    Cm = mpmath.matrix([[mpf(float(C[i, j])) for j in range(K)] for i in range(K)])
    r = mpmath.matrix([mpf(x[i]) - mpf(P["mu"][i]) for i in range(K)])
    try:
        sol = mp.lu_solve(Cm, r)
    except ZeroDivisionError:  # L L^T underflows or is singular in float64
        return _sp_plain_mvnormal(x, P), own
    quad = mp.fsum(r[i] * sol[i] for i in range(K))
    ref = -K * mp.log(2 * mp.pi) / 2 - mp.log(mp.det(Cm)) / 2 - quad / 2
    return st.multivariate_normal(mu, C).logpdf(np.array(x)), ref


# name -> (density, scipy, discrete x?, parameters that get no gradient)
DISTS = {
    "Normal": (d_normal, sp_normal, False, ()),
    "HalfNormal": (d_halfnormal, sp_halfnormal, False, ()),
    "StudentT": (d_studentt, sp_studentt, False, ()),
    "Laplace": (d_laplace, sp_laplace, False, ()),
    "Uniform": (d_uniform, sp_uniform, False, ()),
    "Beta": (d_beta, sp_beta, False, ()),
    "Gamma": (d_gamma, sp_gamma, False, ()),
    "Exponential": (d_exponential, sp_exponential, False, ()),
    "Bernoulli": (d_bernoulli, sp_bernoulli, True, ()),
    "Binomial": (d_binomial, sp_binomial, True, ("n",)),
    "Categorical": (d_categorical, sp_categorical, True, ()),
    "Poisson": (d_poisson, sp_poisson, True, ()),
    "Cauchy": (d_cauchy, sp_cauchy, False, ()),
    "HalfCauchy": (d_halfcauchy, sp_halfcauchy, False, ()),
    "LogNormal": (d_lognormal, sp_lognormal, False, ()),
    "HalfStudentT": (d_halfstudentt, sp_halfstudentt, False, ()),
    "InverseGamma": (d_inversegamma, sp_inversegamma, False, ()),
    "Weibull": (d_weibull, sp_weibull, False, ()),
    "NegativeBinomial": (d_negbinomial, sp_negbinomial, True, ()),
    "Dirichlet": (d_dirichlet, sp_dirichlet, False, ()),
    "MvNormal": (d_mvnormal, sp_mvnormal, False, ()),
}


def to_e(v):
    if isinstance(v, (list, tuple)):
        return [E(mpf(t)) for t in v]
    return E(mpf(v))


# ---------------------------------------------------------------------------
# The grid.  Each case: (dist, [(param, value)], x, comment).  Values are
# Python floats (vectors: lists), so the reference is for exactly the float64
# numbers printed in the CSV.
# ---------------------------------------------------------------------------

def C(dist, params, x, comment="", scipy_known=None):
    """scipy_known: why scipy's value differs from the reference here (the
    script fails on any other disagreement)."""
    return (dist, params, x, comment, scipy_known)


TINY, HUGE = 1e-200, 1e200

CASES = [
    # Normal(mu, sigma)
    C("Normal", [("mu", 0.0), ("sigma", 1.0)], 0.0),
    C("Normal", [("mu", 0.0), ("sigma", 1.0)], 1.0),
    C("Normal", [("mu", 0.0), ("sigma", 1.0)], -1.5),
    C("Normal", [("mu", 1.5), ("sigma", 2.5)], -0.3),
    C("Normal", [("mu", -3.0), ("sigma", 0.1)], -2.95),
    C("Normal", [("mu", 0.0), ("sigma", 1.0)], 10.0),
    C("Normal", [("mu", 0.0), ("sigma", 1.0)], -40.0),
    C("Normal", [("mu", 0.0), ("sigma", 1.0)], 1e10),
    C("Normal", [("mu", 0.0), ("sigma", 1.0)], 1e154, "far tail: z^2 = 1e308 still finite"),
    C("Normal", [("mu", 0.0), ("sigma", TINY)], 0.0),
    C("Normal", [("mu", 0.0), ("sigma", TINY)], TINY),
    C("Normal", [("mu", 0.0), ("sigma", TINY)], -3e-200),
    C("Normal", [("mu", 0.0), ("sigma", HUGE)], 0.0),
    C("Normal", [("mu", 0.0), ("sigma", HUGE)], 1e200),
    C("Normal", [("mu", 1e300), ("sigma", 1e300)], -1e300),
    C("Normal", [("mu", 1e300), ("sigma", 1.0)], 1e300),
    C("Normal", [("mu", 2.0), ("sigma", 1.0)], INF),
    C("Normal", [("mu", 2.0), ("sigma", 1.0)], -INF),
    C("Normal", [("mu", 0.0), ("sigma", 0.0)], 0.0),
    C("Normal", [("mu", 0.0), ("sigma", -1.0)], 0.5),
    C("Normal", [("mu", 0.0), ("sigma", -INF)], 0.5),
    # HalfNormal(sigma)
    C("HalfNormal", [("sigma", 1.0)], 0.0),
    C("HalfNormal", [("sigma", 1.0)], -0.0, "-0.0 is in the support (x >= 0)"),
    C("HalfNormal", [("sigma", 1.0)], 0.5),
    C("HalfNormal", [("sigma", 1.0)], 1.0),
    C("HalfNormal", [("sigma", 2.5)], 3.0),
    C("HalfNormal", [("sigma", 1.0)], 40.0),
    C("HalfNormal", [("sigma", 1.0)], 1e150),
    C("HalfNormal", [("sigma", TINY)], 0.0),
    C("HalfNormal", [("sigma", TINY)], 3e-200),
    C("HalfNormal", [("sigma", HUGE)], 1e200),
    C("HalfNormal", [("sigma", HUGE)], 1.0),
    C("HalfNormal", [("sigma", 0.5)], 0.25),
    C("HalfNormal", [("sigma", 3.0)], 1e-300),
    C("HalfNormal", [("sigma", 1.0)], 1e154),
    C("HalfNormal", [("sigma", 1e-300)], 1e-300),
    C("HalfNormal", [("sigma", 1.0)], -1.0),
    C("HalfNormal", [("sigma", 1.0)], -1e-300),
    C("HalfNormal", [("sigma", 0.0)], 1.0),
    C("HalfNormal", [("sigma", -1.0)], 1.0),
    # StudentT(nu, mu, sigma)
    C("StudentT", [("nu", 1.0), ("mu", 0.0), ("sigma", 1.0)], 0.0),
    C("StudentT", [("nu", 1.0), ("mu", 0.0), ("sigma", 1.0)], 1.0),
    C("StudentT", [("nu", 2.5), ("mu", 1.0), ("sigma", 2.0)], -0.5),
    C("StudentT", [("nu", 3.0), ("mu", 0.0), ("sigma", 1.0)], 10.0),
    C("StudentT", [("nu", 30.0), ("mu", -2.0), ("sigma", 0.5)], -1.0),
    C("StudentT", [("nu", 0.01), ("mu", 0.0), ("sigma", 1.0)], 1.0),
    C("StudentT", [("nu", 1e6), ("mu", 0.0), ("sigma", 1.0)], 1.0),
    C("StudentT", [("nu", 1e12), ("mu", 0.0), ("sigma", 1.0)], 1.0,
      "lgamma(nu/2 + 1/2) - lgamma(nu/2) cancels"),
    C("StudentT", [("nu", 1.0), ("mu", 0.0), ("sigma", 1.0)], 1e300,
      "far tail: z^2 overflows float64", "scipy overflows (z^2) to -inf"),
    C("StudentT", [("nu", 4.0), ("mu", 0.0), ("sigma", 1.0)], -1e100),
    C("StudentT", [("nu", 5.0), ("mu", 0.0), ("sigma", 1.0)], -3.0),
    C("StudentT", [("nu", 1.0), ("mu", 0.0), ("sigma", 1.0)], -1e10),
    C("StudentT", [("nu", 2.0), ("mu", 0.0), ("sigma", TINY)], 0.0),
    C("StudentT", [("nu", 2.0), ("mu", 0.0), ("sigma", TINY)], 2e-200),
    C("StudentT", [("nu", 2.0), ("mu", 0.0), ("sigma", HUGE)], 0.0),
    C("StudentT", [("nu", 2.0), ("mu", 0.0), ("sigma", HUGE)], 3e200),
    C("StudentT", [("nu", 1.0), ("mu", 1e300), ("sigma", 1.0)], 1e300),
    C("StudentT", [("nu", 0.0), ("mu", 0.0), ("sigma", 1.0)], 1.0),
    C("StudentT", [("nu", -1.0), ("mu", 0.0), ("sigma", 1.0)], 1.0),
    C("StudentT", [("nu", 3.0), ("mu", 0.0), ("sigma", 0.0)], 1.0),
    C("StudentT", [("nu", 3.0), ("mu", 0.0), ("sigma", -2.0)], 1.0),
    # Laplace(mu, b)
    C("Laplace", [("mu", 0.0), ("b", 1.0)], 0.0),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], 1.0),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], -1.0),
    C("Laplace", [("mu", 2.0), ("b", 0.5)], 3.25),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], 0.5),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], -0.25),
    C("Laplace", [("mu", -3.0), ("b", 2.0)], 10.0),
    C("Laplace", [("mu", 5.0), ("b", 0.1)], 5.3),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], 1e-300),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], 1e300, "", "scipy takes log(pdf): -inf"),
    C("Laplace", [("mu", 0.0), ("b", 1e-300)], 1e-300),
    C("Laplace", [("mu", 1.0), ("b", HUGE)], 1.0),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], 700.0),
    C("Laplace", [("mu", 0.0), ("b", 1.0)], -1e300, "", "scipy takes log(pdf): -inf"),
    C("Laplace", [("mu", 0.0), ("b", TINY)], 0.0),
    C("Laplace", [("mu", 0.0), ("b", TINY)], 5e-200),
    C("Laplace", [("mu", 0.0), ("b", HUGE)], -1e200),
    C("Laplace", [("mu", 1e300), ("b", 1e300)], 0.0),
    C("Laplace", [("mu", 0.0), ("b", 0.0)], 1.0),
    C("Laplace", [("mu", 0.0), ("b", -1.0)], 1.0),
    # Uniform(lower, upper)
    C("Uniform", [("lower", 0.0), ("upper", 1.0)], 0.5),
    C("Uniform", [("lower", 0.0), ("upper", 1.0)], 0.0),
    C("Uniform", [("lower", 0.0), ("upper", 1.0)], 1.0),
    C("Uniform", [("lower", -3.0), ("upper", 5.5)], 2.0),
    C("Uniform", [("lower", 0.0), ("upper", 1.0)], 0.25),
    C("Uniform", [("lower", -1.0), ("upper", 1.0)], 0.999),
    C("Uniform", [("lower", -0.5), ("upper", 0.5)], -0.0),
    C("Uniform", [("lower", -5.0), ("upper", -2.0)], -3.0),
    C("Uniform", [("lower", 0.0), ("upper", 1e-300)], 5e-301),
    C("Uniform", [("lower", 1e10), ("upper", 10000000001.0)], 10000000000.5),
    C("Uniform", [("lower", 0.0), ("upper", 1.0)], -1e-300),
    C("Uniform", [("lower", 0.0), ("upper", 1.0)], 1.0000000000000002),
    C("Uniform", [("lower", 0.0), ("upper", 1.0)], -INF),
    C("Uniform", [("lower", -1e300), ("upper", 1e300)], 0.0),
    C("Uniform", [("lower", 1e-300), ("upper", 2e-300)], 1.5e-300),
    C("Uniform", [("lower", -1.7e308), ("upper", 1.7e308)], 0.0,
      "upper - lower overflows float64", "scipy: scale = upper - lower overflows: -inf"),
    C("Uniform", [("lower", 1.0), ("upper", 1.0000000000000002)], 1.0000000000000002),
    C("Uniform", [("lower", 1.0), ("upper", 0.0)], 0.5),
    C("Uniform", [("lower", 2.0), ("upper", -2.0)], 0.0),
    # Beta(alpha, beta)
    C("Beta", [("alpha", 2.0), ("beta", 3.0)], 0.3),
    C("Beta", [("alpha", 0.5), ("beta", 0.5)], 0.5),
    C("Beta", [("alpha", 0.5), ("beta", 0.5)], 1e-300),
    C("Beta", [("alpha", 2.0), ("beta", 3.0)], 0.9999999999999999),
    C("Beta", [("alpha", 1.0), ("beta", 1.0)], 0.5),
    C("Beta", [("alpha", 1.0), ("beta", 1.0)], 0.0),
    C("Beta", [("alpha", 1.0), ("beta", 1.0)], 1.0),
    C("Beta", [("alpha", 1.0), ("beta", 3.0)], 0.0),
    C("Beta", [("alpha", 1.0), ("beta", 3.0)], 0.25),
    C("Beta", [("alpha", 3.0), ("beta", 1.0)], 1.0),
    C("Beta", [("alpha", 0.5), ("beta", 2.0)], 0.0),
    C("Beta", [("alpha", 2.0), ("beta", 0.5)], 1.0),
    C("Beta", [("alpha", 2.0), ("beta", 2.0)], 0.0),
    C("Beta", [("alpha", 2.0), ("beta", 5.0)], 1.0),
    C("Beta", [("alpha", 1e-10), ("beta", 1.0)], 0.5),
    C("Beta", [("alpha", 100.0), ("beta", 200.0)], 0.3333333333333333),
    C("Beta", [("alpha", 1e10), ("beta", 1e10)], 0.5, "lbeta cancels", "scipy loses digits to the same cancellation"),
    C("Beta", [("alpha", 2.0), ("beta", 3.0)], -0.1),
    C("Beta", [("alpha", 2.0), ("beta", 3.0)], 1.5),
    C("Beta", [("alpha", 0.0), ("beta", 1.0)], 0.5),
    C("Beta", [("alpha", -1.0), ("beta", 1.0)], 0.5),
    C("Beta", [("alpha", 1.0), ("beta", -1.0)], 0.5),
    # Gamma(alpha shape, beta rate)
    C("Gamma", [("alpha", 2.0), ("beta", 1.0)], 1.0),
    C("Gamma", [("alpha", 0.5), ("beta", 2.0)], 0.1),
    C("Gamma", [("alpha", 1.0), ("beta", 1.0)], 10.0, "d/dalpha = log(10) - digamma(1)"),
    C("Gamma", [("alpha", 1.0), ("beta", 1.0)], 0.0),
    C("Gamma", [("alpha", 1.0), ("beta", 3.5)], 0.0),
    C("Gamma", [("alpha", 0.5), ("beta", 1.0)], 0.0),
    C("Gamma", [("alpha", 3.0), ("beta", 1.0)], 0.0),
    C("Gamma", [("alpha", 2.0), ("beta", 1.0)], 1e-300),
    C("Gamma", [("alpha", 2.0), ("beta", 1.0)], 700.0),
    C("Gamma", [("alpha", 2.0), ("beta", 1.0)], 1e300),
    C("Gamma", [("alpha", 1e-10), ("beta", 1.0)], 1.0),
    C("Gamma", [("alpha", 1e10), ("beta", 1e10)], 1.0,
      "alpha*log(beta) - lgamma(alpha) cancels", "scipy loses digits to the same cancellation"),
    C("Gamma", [("alpha", 5.0), ("beta", TINY)], 1e200),
    C("Gamma", [("alpha", 5.0), ("beta", HUGE)], 1e-200),
    C("Gamma", [("alpha", 2.0), ("beta", 1.0)], -1.0),
    C("Gamma", [("alpha", 2.0), ("beta", 1.0)], -1e-300),
    C("Gamma", [("alpha", 0.0), ("beta", 1.0)], 1.0),
    C("Gamma", [("alpha", -1.0), ("beta", 1.0)], 1.0),
    C("Gamma", [("alpha", 2.0), ("beta", 0.0)], 1.0),
    C("Gamma", [("alpha", 2.0), ("beta", -2.0)], 1.0),
    # Exponential(lam)
    C("Exponential", [("lam", 1.0)], 0.0),
    C("Exponential", [("lam", 1.0)], 1.0),
    C("Exponential", [("lam", 2.5)], 0.3),
    C("Exponential", [("lam", 1.0)], 0.5),
    C("Exponential", [("lam", 0.1)], 20.0),
    C("Exponential", [("lam", 2.0)], 400.0),
    C("Exponential", [("lam", 3.0)], 1e-300),
    C("Exponential", [("lam", 1e-10)], 1.0),
    C("Exponential", [("lam", 1e10)], 1e-10),
    C("Exponential", [("lam", 1.0)], 745.0),
    C("Exponential", [("lam", 1.0)], 1e300),
    C("Exponential", [("lam", TINY)], 1e200),
    C("Exponential", [("lam", HUGE)], 1e-200),
    C("Exponential", [("lam", HUGE)], 0.0),
    C("Exponential", [("lam", 1.0)], -0.0, "-0.0 is in the support (x >= 0)"),
    C("Exponential", [("lam", 1.0)], -1.0),
    C("Exponential", [("lam", 0.0)], 1.0),
    C("Exponential", [("lam", -1.0)], 1.0),
    # Bernoulli(p)
    C("Bernoulli", [("p", 0.3)], 0.0),
    C("Bernoulli", [("p", 0.3)], 1.0),
    C("Bernoulli", [("p", 0.0)], 0.0),
    C("Bernoulli", [("p", 0.0)], 1.0),
    C("Bernoulli", [("p", 1.0)], 1.0),
    C("Bernoulli", [("p", 1.0)], 0.0),
    C("Bernoulli", [("p", 1e-300)], 1.0),
    C("Bernoulli", [("p", 1e-300)], 0.0),
    C("Bernoulli", [("p", 0.9999999999999999)], 0.0),
    C("Bernoulli", [("p", 0.5)], 2.0),
    C("Bernoulli", [("p", 0.5)], -1.0),
    C("Bernoulli", [("p", 0.5)], 0.5),
    C("Bernoulli", [("p", 1.1)], 1.0),
    C("Bernoulli", [("p", -0.1)], 0.0),
    # Bernoulli(logit_p)
    C("Bernoulli", [("logit_p", 0.0)], 0.0),
    C("Bernoulli", [("logit_p", 0.0)], 1.0),
    C("Bernoulli", [("logit_p", 2.5)], 1.0),
    C("Bernoulli", [("logit_p", -2.5)], 1.0),
    C("Bernoulli", [("logit_p", 40.0)], 1.0),
    C("Bernoulli", [("logit_p", 40.0)], 0.0),
    C("Bernoulli", [("logit_p", 800.0)], 1.0),
    C("Bernoulli", [("logit_p", 800.0)], 0.0),
    C("Bernoulli", [("logit_p", -800.0)], 1.0),
    C("Bernoulli", [("logit_p", INF)], 1.0,
      "PyMC convention; theon's constructor rejects a constant infinite logit"),
    C("Bernoulli", [("logit_p", INF)], 0.0),
    C("Bernoulli", [("logit_p", -INF)], 0.0),
    C("Bernoulli", [("logit_p", 1.0)], 2.0),
    # Binomial(n, p)
    C("Binomial", [("n", 10.0), ("p", 0.3)], 3.0),
    C("Binomial", [("n", 10.0), ("p", 0.3)], 0.0),
    C("Binomial", [("n", 10.0), ("p", 0.3)], 10.0),
    C("Binomial", [("n", 1.0), ("p", 0.5)], 1.0),
    C("Binomial", [("n", 20.0), ("p", 0.9)], 15.0),
    C("Binomial", [("n", 0.0), ("p", 0.5)], 0.0),
    C("Binomial", [("n", 10.0), ("p", 0.0)], 0.0),
    C("Binomial", [("n", 10.0), ("p", 0.0)], 1.0),
    C("Binomial", [("n", 10.0), ("p", 1.0)], 10.0),
    C("Binomial", [("n", 10.0), ("p", 1.0)], 9.0),
    C("Binomial", [("n", 1000.0), ("p", 0.5)], 500.0),
    C("Binomial", [("n", 1000000.0), ("p", 1e-6)], 1.0),
    C("Binomial", [("n", 1e9), ("p", 0.25)], 250000000.0, "lgamma terms cancel", "scipy loses digits to the same cancellation"),
    C("Binomial", [("n", 5.0), ("p", 1e-300)], 5.0),
    C("Binomial", [("n", 10.0), ("p", 0.3)], -1.0),
    C("Binomial", [("n", 10.0), ("p", 0.3)], 11.0),
    C("Binomial", [("n", 10.0), ("p", 0.3)], 2.5),
    C("Binomial", [("n", 10.0), ("p", 1.5)], 3.0),
    C("Binomial", [("n", 10.0), ("p", -0.5)], 3.0),
    C("Binomial", [("n", -1.0), ("p", 0.5)], 0.0),
    # Categorical(p)
    C("Categorical", [("p", [0.2, 0.3, 0.5])], 0.0),
    C("Categorical", [("p", [0.2, 0.3, 0.5])], 1.0),
    C("Categorical", [("p", [0.2, 0.3, 0.5])], 2.0),
    C("Categorical", [("p", [0.25, 0.25, 0.25, 0.25])], 3.0),
    C("Categorical", [("p", [1.0, 0.0, 0.0])], 0.0),
    C("Categorical", [("p", [1.0, 0.0, 0.0])], 1.0),
    C("Categorical", [("p", [1e-300, 1.0])], 0.0),
    C("Categorical", [("p", [0.2, 0.3, 0.5])], 3.0),
    C("Categorical", [("p", [0.2, 0.3, 0.5])], -1.0),
    C("Categorical", [("p", [0.2, 0.3, 0.5])], 1.5),
    C("Categorical", [("p", [0.1, 0.2, 0.3])], 0.0, "p sums to 0.6"),
    C("Categorical", [("p", [-0.5, 1.0, 0.5])], 1.0, "negative p"),
    C("Categorical", [("p", [0.5, 0.7, -0.2])], 0.0, "sums to 1 but has a negative entry"),
    C("Categorical", [("p", [0.5, 0.5, 0.5])], 0.0, "p sums to 1.5"),
    # Categorical(logit_p)
    C("Categorical", [("logit_p", [0.0, 0.0, 0.0])], 1.0),
    C("Categorical", [("logit_p", [1.0, 2.0, 3.0])], 2.0),
    C("Categorical", [("logit_p", [1.0, 2.0, 3.0])], 0.0),
    C("Categorical", [("logit_p", [800.0, 800.0])], 0.0),
    C("Categorical", [("logit_p", [1e308, 1e308])], 1.0),
    C("Categorical", [("logit_p", [1e300, 1e300, 0.0])], 2.0),
    C("Categorical", [("logit_p", [1e300, 1e300, 0.0])], 0.0),
    C("Categorical", [("logit_p", [0.0, -1000.0])], 1.0),
    C("Categorical", [("logit_p", [0.0, -1000.0])], 0.0),
    C("Categorical", [("logit_p", [-1000.0, -1000.0, -1001.0])], 2.0),
    C("Categorical", [("logit_p", [1.0, 2.0, 3.0])], 3.0),
    # Poisson(mu)
    C("Poisson", [("mu", 3.0)], 2.0),
    C("Poisson", [("mu", 3.0)], 0.0),
    C("Poisson", [("mu", 0.5)], 1.0),
    C("Poisson", [("mu", 20.0)], 15.0),
    C("Poisson", [("mu", 1e-10)], 2.0),
    C("Poisson", [("mu", 700.0)], 700.0),
    C("Poisson", [("mu", 0.0)], 0.0),
    C("Poisson", [("mu", 0.0)], 1.0),
    C("Poisson", [("mu", 1e-300)], 0.0),
    C("Poisson", [("mu", 1e-300)], 1.0),
    C("Poisson", [("mu", 5.0)], 100.0),
    C("Poisson", [("mu", 100.0)], 0.0),
    C("Poisson", [("mu", 1e6)], 1e6, "k*log(mu) - lgamma(k+1) cancels", "scipy loses digits to the same cancellation"),
    C("Poisson", [("mu", 1e10)], 1e10, "k*log(mu) - lgamma(k+1) cancels", "scipy loses digits to the same cancellation"),
    C("Poisson", [("mu", 2.5)], 1e15),
    C("Poisson", [("mu", 3.0)], -1.0),
    C("Poisson", [("mu", 3.0)], 2.5),
    C("Poisson", [("mu", -1.0)], 1.0),
    C("Poisson", [("mu", -1e-300)], 0.0),
    # Cauchy(alpha loc, beta scale)
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], 0.0),
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], 1.0),
    C("Cauchy", [("alpha", 2.0), ("beta", 0.5)], -3.0),
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], -1.0),
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], 5.0),
    C("Cauchy", [("alpha", 1.5), ("beta", 2.5)], 0.3),
    C("Cauchy", [("alpha", 3.0), ("beta", 0.01)], 3.001),
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], -1e10),
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], 1e154),
    C("Cauchy", [("alpha", 0.0), ("beta", TINY)], 0.0),
    C("Cauchy", [("alpha", 0.0), ("beta", HUGE)], 0.0),
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], 1e-300),
    C("Cauchy", [("alpha", 0.0), ("beta", 1.0)], 1e300, "far tail: z^2 overflows float64"),
    C("Cauchy", [("alpha", 0.0), ("beta", TINY)], 1e-200),
    C("Cauchy", [("alpha", 0.0), ("beta", HUGE)], 3e200),
    C("Cauchy", [("alpha", -1e300), ("beta", 1e300)], 1e300),
    C("Cauchy", [("alpha", 0.0), ("beta", 0.0)], 1.0),
    C("Cauchy", [("alpha", 0.0), ("beta", -1.0)], 1.0),
    # HalfCauchy(beta)
    C("HalfCauchy", [("beta", 1.0)], 0.0),
    C("HalfCauchy", [("beta", 1.0)], 1.0),
    C("HalfCauchy", [("beta", 2.5)], 0.3),
    C("HalfCauchy", [("beta", 1.0)], 0.5),
    C("HalfCauchy", [("beta", 1.0)], 10.0),
    C("HalfCauchy", [("beta", 0.1)], 100.0),
    C("HalfCauchy", [("beta", 1.0)], 1e150),
    C("HalfCauchy", [("beta", TINY)], 0.0),
    C("HalfCauchy", [("beta", 1.0)], -0.0, "-0.0 is in the support (x >= 0)"),
    C("HalfCauchy", [("beta", 1.0)], -1e-300),
    C("HalfCauchy", [("beta", 1.0)], 1e300, "far tail: z^2 overflows float64",
      "scipy overflows (z^2) to -inf"),
    C("HalfCauchy", [("beta", TINY)], 1e-200),
    C("HalfCauchy", [("beta", HUGE)], 0.0),
    C("HalfCauchy", [("beta", HUGE)], 5e200),
    C("HalfCauchy", [("beta", 1.0)], -1.0),
    C("HalfCauchy", [("beta", 0.0)], 1.0),
    C("HalfCauchy", [("beta", -1.0)], 1.0),
    # LogNormal(mu, sigma)
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], 1.0),
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], 0.5),
    C("LogNormal", [("mu", 1.5), ("sigma", 0.3)], 5.0),
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], 2.0),
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], 10.0),
    C("LogNormal", [("mu", -1.0), ("sigma", 2.0)], 0.01),
    C("LogNormal", [("mu", 0.0), ("sigma", 0.1)], 1.1),
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], 1e-305),
    C("LogNormal", [("mu", 1.0), ("sigma", 1.0)], -0.0),
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], 1e-300),
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], 1e300),
    C("LogNormal", [("mu", 700.0), ("sigma", 1.0)], 1e304),
    C("LogNormal", [("mu", 0.0), ("sigma", TINY)], 1.0, "", "scipy: sigma^2 underflows: nan"),
    C("LogNormal", [("mu", 0.0), ("sigma", HUGE)], 1e300, "", "scipy: s*x overflows: -inf"),
    C("LogNormal", [("mu", -2.0), ("sigma", 0.5)], 0.0),
    C("LogNormal", [("mu", 0.0), ("sigma", 1.0)], -1.0),
    C("LogNormal", [("mu", 0.0), ("sigma", 0.0)], 1.0),
    C("LogNormal", [("mu", 0.0), ("sigma", -1.0)], 1.0),
    # HalfStudentT(nu, sigma)
    C("HalfStudentT", [("nu", 1.0), ("sigma", 1.0)], 0.0),
    C("HalfStudentT", [("nu", 3.0), ("sigma", 1.0)], 1.0),
    C("HalfStudentT", [("nu", 2.5), ("sigma", 2.0)], 0.7),
    C("HalfStudentT", [("nu", 1.0), ("sigma", 1.0)], 0.5),
    C("HalfStudentT", [("nu", 5.0), ("sigma", 2.0)], 3.0),
    C("HalfStudentT", [("nu", 2.0), ("sigma", 1.0)], 1e10),
    C("HalfStudentT", [("nu", 100.0), ("sigma", 1.0)], 0.5),
    C("HalfStudentT", [("nu", 1.0), ("sigma", 1.0)], -0.0, "-0.0 is in the support (x >= 0)"),
    C("HalfStudentT", [("nu", 2.0), ("sigma", TINY)], 0.0),
    C("HalfStudentT", [("nu", 30.0), ("sigma", 1.0)], 5.0),
    C("HalfStudentT", [("nu", 0.01), ("sigma", 1.0)], 1.0),
    C("HalfStudentT", [("nu", 1e6), ("sigma", 1.0)], 1.0),
    C("HalfStudentT", [("nu", 1.0), ("sigma", 1.0)], 1e300, "far tail: z^2 overflows float64",
      "scipy overflows (z^2) to -inf"),
    C("HalfStudentT", [("nu", 1.0), ("sigma", TINY)], 1e-200),
    C("HalfStudentT", [("nu", 1.0), ("sigma", HUGE)], 1e200),
    C("HalfStudentT", [("nu", 3.0), ("sigma", 1.0)], -1.0),
    C("HalfStudentT", [("nu", 0.0), ("sigma", 1.0)], 1.0),
    C("HalfStudentT", [("nu", 3.0), ("sigma", -1.0)], 1.0),
    # InverseGamma(alpha, beta)
    C("InverseGamma", [("alpha", 2.0), ("beta", 1.0)], 1.0),
    C("InverseGamma", [("alpha", 3.0), ("beta", 0.5)], 0.2),
    C("InverseGamma", [("alpha", 1.0), ("beta", 1.0)], 1.0),
    C("InverseGamma", [("alpha", 0.5), ("beta", 2.0)], 10.0),
    C("InverseGamma", [("alpha", 2.0), ("beta", 1.0)], 0.5),
    C("InverseGamma", [("alpha", 5.0), ("beta", 2.0)], 0.3),
    C("InverseGamma", [("alpha", 0.5), ("beta", 1.0)], 1e-3),
    C("InverseGamma", [("alpha", 1.0), ("beta", 1.0)], 1e10),
    C("InverseGamma", [("alpha", 3.0), ("beta", HUGE)], 1e200),
    C("InverseGamma", [("alpha", 2.0), ("beta", 1.0)], -0.0),
    C("InverseGamma", [("alpha", 2.0), ("beta", 1.0)], 1e-150),
    C("InverseGamma", [("alpha", 2.0), ("beta", 1.0)], 1e300),
    C("InverseGamma", [("alpha", 1e-10), ("beta", 1.0)], 1.0),
    C("InverseGamma", [("alpha", 1e10), ("beta", 1e10)], 1.0,
      "alpha*log(beta) - lgamma(alpha) cancels", "scipy loses digits to the same cancellation"),
    C("InverseGamma", [("alpha", 2.0), ("beta", TINY)], 1e-200),
    C("InverseGamma", [("alpha", 2.0), ("beta", 1.0)], 0.0),
    C("InverseGamma", [("alpha", 2.0), ("beta", 1.0)], -1.0),
    C("InverseGamma", [("alpha", 0.0), ("beta", 1.0)], 1.0),
    C("InverseGamma", [("alpha", 2.0), ("beta", -1.0)], 1.0),
    # Weibull(alpha shape, beta scale)
    C("Weibull", [("alpha", 2.0), ("beta", 1.0)], 1.0),
    C("Weibull", [("alpha", 1.5), ("beta", 2.0)], 0.5),
    C("Weibull", [("alpha", 1.0), ("beta", 1.0)], 10.0),
    C("Weibull", [("alpha", 2.0), ("beta", 1.0)], 0.5),
    C("Weibull", [("alpha", 3.0), ("beta", 2.0)], 1.5),
    C("Weibull", [("alpha", 0.5), ("beta", 1.0)], 4.0),
    C("Weibull", [("alpha", 10.0), ("beta", 1.0)], 1.1),
    C("Weibull", [("alpha", 1.0), ("beta", 1.0)], 1e-300),
    C("Weibull", [("alpha", 1.0), ("beta", 1.0)], 700.0),
    C("Weibull", [("alpha", 1.0), ("beta", 2.5)], 0.0),
    C("Weibull", [("alpha", 0.5), ("beta", 1.0)], 0.0),
    C("Weibull", [("alpha", 2.0), ("beta", 1.0)], 0.0),
    C("Weibull", [("alpha", 2.0), ("beta", 1.0)], 30.0),
    C("Weibull", [("alpha", 5.0), ("beta", 1.0)], 1e60),
    C("Weibull", [("alpha", 0.5), ("beta", 1.0)], 1e-300),
    C("Weibull", [("alpha", 0.5), ("beta", TINY)], 1e-200),
    C("Weibull", [("alpha", 2.0), ("beta", HUGE)], 1e200),
    C("Weibull", [("alpha", 2.0), ("beta", 1.0)], -1.0),
    C("Weibull", [("alpha", 0.0), ("beta", 1.0)], 1.0),
    C("Weibull", [("alpha", 2.0), ("beta", -1.0)], 1.0),
    # NegativeBinomial(mu, alpha): n = alpha, p = alpha / (mu + alpha)
    C("NegativeBinomial", [("mu", 3.0), ("alpha", 2.0)], 0.0),
    C("NegativeBinomial", [("mu", 3.0), ("alpha", 2.0)], 5.0),
    C("NegativeBinomial", [("mu", 0.5), ("alpha", 0.5)], 1.0),
    C("NegativeBinomial", [("mu", 10.0), ("alpha", 1.0)], 10.0),
    C("NegativeBinomial", [("mu", 1.0), ("alpha", 1.0)], 3.0),
    C("NegativeBinomial", [("mu", 0.1), ("alpha", 10.0)], 2.0),
    C("NegativeBinomial", [("mu", 1e-300), ("alpha", 1.0)], 0.0),
    C("NegativeBinomial", [("mu", 1e-300), ("alpha", 1.0)], 1.0),
    C("NegativeBinomial", [("mu", 5.0), ("alpha", 1e-10)], 0.0),
    C("NegativeBinomial", [("mu", 5.0), ("alpha", 1e-10)], 3.0),
    C("NegativeBinomial", [("mu", 5.0), ("alpha", 1e8)], 5.0, "lgamma terms cancel", "scipy loses digits to the same cancellation"),
    C("NegativeBinomial", [("mu", 5.0), ("alpha", 1e12)], 5.0,
      "exact NB value; PyMC switches to Poisson(mu) for alpha > 1e10", "scipy loses digits to the same cancellation"),
    C("NegativeBinomial", [("mu", 1e6), ("alpha", 3.0)], 1e6, "lgamma terms cancel", "scipy loses digits to the same cancellation"),
    C("NegativeBinomial", [("mu", 2.0), ("alpha", 3.0)], 200.0),
    C("NegativeBinomial", [("mu", 3.0), ("alpha", 2.0)], -1.0),
    C("NegativeBinomial", [("mu", 3.0), ("alpha", 2.0)], 1.5),
    C("NegativeBinomial", [("mu", 0.0), ("alpha", 2.0)], 0.0, "PyMC requires mu > 0"),
    C("NegativeBinomial", [("mu", -1.0), ("alpha", 2.0)], 0.0),
    C("NegativeBinomial", [("mu", 3.0), ("alpha", 0.0)], 0.0),
    C("NegativeBinomial", [("mu", 3.0), ("alpha", -1.0)], 1.0),
    # Dirichlet(a)
    C("Dirichlet", [("a", [1.0, 1.0, 1.0])], [0.2, 0.3, 0.5]),
    C("Dirichlet", [("a", [2.0, 3.0, 4.0])], [0.2, 0.3, 0.5]),
    C("Dirichlet", [("a", [1.0, 1.0])], [0.5, 0.5]),
    C("Dirichlet", [("a", [3.0, 2.0])], [0.625, 0.375]),
    C("Dirichlet", [("a", [0.1, 0.2, 0.3, 0.4])], [0.125, 0.25, 0.25, 0.375]),
    C("Dirichlet", [("a", [2.0, 2.0, 2.0])], [1e-300, 0.5, 0.5]),
    C("Dirichlet", [("a", [5.0, 1.0])], [1.0, 0.0]),
    C("Dirichlet", [("a", [0.5, 0.5])], [0.3, 0.7]),
    C("Dirichlet", [("a", [0.5, 0.5])], [1e-300, 1.0]),
    C("Dirichlet", [("a", [1.0, 2.0, 3.0])], [0.0, 0.375, 0.625]),
    C("Dirichlet", [("a", [0.5, 1.0, 1.0])], [0.0, 0.5, 0.5], "",
      "scipy rejects x_i == 0 with a_i < 1"),
    C("Dirichlet", [("a", [2.0, 1.0, 1.0])], [0.0, 0.5, 0.5]),
    C("Dirichlet", [("a", [100.0, 200.0, 300.0])], [0.125, 0.375, 0.5]),
    C("Dirichlet", [("a", [1e-3, 1e-3, 1e-3])], [0.25, 0.25, 0.5]),
    C("Dirichlet", [("a", [1e10, 1e10])], [0.5, 0.5], "lgamma terms cancel", "scipy loses digits to the same cancellation"),
    C("Dirichlet", [("a", [2.0, 3.0, 4.0])], [-0.125, 0.625, 0.5], "",
      "scipy raises outside the simplex"),
    C("Dirichlet", [("a", [2.0, 3.0, 4.0])], [1.25, -0.125, -0.125], "",
      "scipy raises outside the simplex"),
    C("Dirichlet", [("a", [0.0, 1.0, 1.0])], [0.2, 0.3, 0.5]),
    C("Dirichlet", [("a", [-1.0, 2.0, 3.0])], [0.2, 0.3, 0.5]),
    # MvNormal(mu, chol): chol is the K x K lower Cholesky factor, row-major
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [1.0, 0.0, 0.0, 1.0])], [0.0, 0.0]),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [1.0, 0.0, 0.0, 1.0])], [1.0, -1.0]),
    C("MvNormal", [("mu", [1.0, -1.0]), ("chol", [2.0, 0.0, 0.5, 1.5])], [0.3, 0.7]),
    C("MvNormal", [("mu", [1.0]), ("chol", [2.0])], [0.0]),
    C("MvNormal", [("mu", [1.0, -1.0]), ("chol", [2.0, 0.0, 0.5, 1.5])], [-4.0, 3.5]),
    C("MvNormal", [("mu", [0.0, 1.0, 2.0, 3.0]),
                   ("chol", [1.0, 0.0, 0.0, 0.0, 0.5, 2.0, 0.0, 0.0,
                             -0.25, 0.125, 0.75, 0.0, 1.5, -1.0, 0.5, 3.0])],
      [0.5, 0.5, 0.5, 0.5]),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [1.0, 0.0, 0.5, 1e-10])], [0.5, 0.3],
      "L L^T is singular in float64: use chol directly", "scipy needs L L^T: singular: nan"),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [1.0, 0.0, 0.0, 1.0])], [1e150, 0.0]),
    C("MvNormal", [("mu", [0.5, -1.0, 2.0]),
                   ("chol", [1.5, 0.0, 0.0, -0.4, 0.8, 0.0, 0.25, 0.6, 1.2])],
      [0.0, 0.5, 1.0]),
    C("MvNormal", [("mu", [0.0, 0.0, 0.0]),
                   ("chol", [1.0, 0.0, 0.0, 0.999, 0.01, 0.0, 0.5, 0.5, 0.1])],
      [0.1, 0.2, -0.3], "nearly singular covariance",
      "scipy (eigendecomposition of L L^T) loses digits"),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [TINY, 0.0, 0.0, TINY])], [0.0, 0.0],
      "L L^T underflows: use chol directly", "scipy needs L L^T: underflows: nan"),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [TINY, 0.0, 5e-201, TINY])], [1e-200, -2e-200],
      "L L^T underflows: use chol directly", "scipy needs L L^T: underflows: nan"),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [HUGE, 0.0, 0.0, HUGE])], [1e200, 0.0],
      "L L^T overflows: use chol directly", "scipy needs L L^T: overflows: nan"),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [1.0, 0.0, 0.0, 1.0])], [1e100, -1e100]),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [1.0, 0.0, 0.5, 0.0])], [0.1, 0.2]),
    C("MvNormal", [("mu", [0.0, 0.0]), ("chol", [0.0, 0.0, 0.0, 1.0])], [0.1, 0.2]),
]

# ---------------------------------------------------------------------------
# Density rows
# ---------------------------------------------------------------------------


def fmt_vec(v):
    if isinstance(v, (list, tuple)):
        return " ".join(fmt_in(t) for t in v)
    return fmt_in(v)


def fmt_evec(v):
    if isinstance(v, list):
        return " ".join(fmt(t.v) for t in v)
    return fmt(v.v)


def max_abs(v):
    if isinstance(v, list):
        return max(abs(t.v) for t in v)
    return abs(v.v)


def numeric_check(dist, x, params, res, discrete):
    """Compare the analytic gradients with central (or one-sided) differences
    of the mpmath log-density.  The step is 1e-30 times the smallest nonzero
    magnitude among the inputs (so it is small against every length scale of
    the row), and the working precision is raised to match.  Returns the
    number of checked components."""
    fn = DISTS[dist][0]
    checked = 0
    targets = []
    if not discrete and res.gx is not None:
        targets.append(("x", None))
    for name, _ in params:
        if res.g.get(name) is not None:
            targets.append((name, name))
    mags = []
    for v in [x] + [val for _, val in params]:
        for t in (v if isinstance(v, list) else [v]):
            if t != 0 and math.isfinite(t):
                mags.append(abs(mpf(t)))
    if not mags:
        return 0
    smallest = min(mags)
    f0mag = max(abs(res.lp.v), 1)
    for label, pname in targets:
        base = x if pname is None else dict(params)[pname]
        ana = res.gx if pname is None else res.g[pname]
        vec = isinstance(base, list)
        n = len(base) if vec else 1
        for i in range(n):
            v0 = mpf(base[i] if vec else base)
            a = ana[i].v if vec else ana.v
            if v0 == 0 or mp.isinf(v0):
                continue
            h = min(abs(v0), smallest) * mpf(10) ** -30
            dps = 90 + int(mp.ceil(mp.log10(abs(v0) / h))) + int(mp.ceil(mp.log10(f0mag)))
            with mp.workdps(dps):
                def f(dv):
                    if vec:
                        nb = [mpf(t) for t in base]
                        nb[i] = v0 + dv
                    else:
                        nb = v0 + dv
                    if pname is None:
                        xx, pp = nb, params
                    else:
                        xx = x
                        pp = [(k, nb if k == pname else val) for k, val in params]
                    return fn(to_e(xx), {k: to_e(val) for k, val in pp}).lp.v

                fp, fm, f0 = f(h), f(-h), f(0)
                if mp.isfinite(fp) and mp.isfinite(fm):
                    num = (fp - fm) / (2 * h)
                elif mp.isfinite(fm):
                    num = (f0 - fm) / h
                elif mp.isfinite(fp):
                    num = (fp - f0) / h
                else:
                    continue
                scale = abs(a) + (abs(f0) + 1) / abs(v0)
                if not abs(num - a) <= mpf(10) ** -25 * scale:
                    raise AssertionError("gradient check failed: %s %s %s d/d%s[%d]: "
                                         "analytic %s numeric %s"
                                         % (dist, params, x, label, i, a, num))
                checked += 1
    return checked


def density_rows(report, check=True):
    rows = []
    counts = {}
    for idx, (dist, params, x, comment, known) in enumerate(CASES):
        fn, spfn, discrete, no_grad = DISTS[dist]
        P = {k: to_e(v) for k, v in params}
        res = fn(to_e(x), P)
        lp = res.lp.v
        flags = list(res.flags)
        notes = []
        gx_s, gp_s = "", ""
        finite = mp.isfinite(lp)
        if finite:
            assert abs(lp) < _MAXHALF["float64"], (dist, params, x, "logp overflows")
            if not discrete and res.gx is not None:
                assert max_abs(res.gx) < _MAXHALF["float64"], (dist, params, x, "grad_x")
                gx_s = fmt_evec(res.gx)
            parts = []
            for name, _ in params:
                if name in no_grad:
                    continue
                g = res.g.get(name)
                if g is None:
                    continue
                assert max_abs(g) < _MAXHALF["float64"], (dist, params, x, name)
                parts.append("%s=%s" % (name, fmt_evec(g)))
            gp_s = ";".join(parts)
            # recommended tolerances where the defaults are not enough
            if 4 * U64 * res.lp.e > mpf("1e-12") * abs(lp):
                notes.append("atol_logp=" + sci(4 * U64 * res.lp.e))
            grads = []
            if not discrete and res.gx is not None:
                grads.append(("x", res.gx))
            for name, _ in params:
                if name not in no_grad and res.g.get(name) is not None:
                    grads.append((name, res.g[name]))
            for name, g in grads:
                comps = g if isinstance(g, list) else [g]
                need = [8 * U64 * t.e for t in comps if 8 * U64 * t.e > mpf("1e-10") * abs(t.v)]
                if need:
                    notes.append("atol_grad_%s=%s" % (name, sci(max(need))))
            if check:
                report["grad_checked"] += numeric_check(dist, x, params, res, discrete)
        if res.omitted:
            flags.append("omitted_grad=" + " ".join(res.omitted))
        # scipy cross-check
        if "invalid_param" not in flags:
            Pf = dict(params)
            with np.errstate(all="ignore"):
                s_val, ref = spfn(x, Pf, lp)
            s_val = float(s_val)
            ref = mpf(ref)
            if math.isfinite(s_val) and mp.isfinite(ref):
                rel = abs(mpf(s_val) - ref) / max(abs(ref), mpf("1e-300"))
                ok = rel <= mpf("1e-12")
            else:
                ok = not math.isnan(s_val) and mpf(s_val) == ref
                rel = None
            report["scipy_compared"] += 1
            if not ok:
                msg = "%s %s x=%s: mpmath %s scipy %r%s" % (
                    dist, ";".join("%s=%s" % (k, fmt_vec(v)) for k, v in params),
                    fmt_vec(x), fmt(ref), s_val,
                    "" if rel is None else " (rel diff %.1e)" % float(rel))
                report["scipy_diff"].append((known, msg))
        comment_all = "; ".join(c for c in (res.comment, comment) if c)
        comment_all = comment_all.replace(";", " /")
        items = flags + notes
        if comment_all:
            items.append("comment=" + comment_all)
        row = [dist, ";".join("%s=%s" % (k, fmt_vec(v)) for k, v in params),
               fmt_vec(x), fmt(lp), gx_s, gp_s, ";".join(items)]
        for f in row:
            assert "," not in f and "\n" not in f and '"' not in f, row
        rows.append(row)
        counts[dist] = counts.get(dist, 0) + 1
    return rows, counts


# ---------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------

EPS = {"float64": mpf(2) ** -52, "float32": mpf(2) ** -23}


def as_dtype(v, dtype):
    """The input v in dtype (None if it overflows there)."""
    r = float(_NP[dtype](v))
    if math.isinf(r) and not math.isinf(v):
        return None
    return r


def f_logaddexp(xs):
    a, b = (mpf(t) for t in xs)
    if a == -mp.inf and b == -mp.inf:
        return mpf(-mp.inf), None, "grad undefined: both inputs -inf"
    if a == mp.inf and b == mp.inf:
        return mpf(mp.inf), None, "grad undefined: both inputs +inf"
    if mp.isinf(a) or mp.isinf(b):
        v = max(a, b) if (a == mp.inf or b == mp.inf) else (b if a == -mp.inf else a)
        ga = mpf(1) if (a == mp.inf or b == -mp.inf) else mpf(0)
        return v, [ga, 1 - ga], "grad is the limit"
    m = max(a, b)
    v = m + mp.log1p(mp.exp(-abs(a - b)))
    ga = 1 / (1 + mp.exp(b - a))
    gb = 1 / (1 + mp.exp(a - b))
    return v, [ga, gb], ""


def _softmax(xs):
    x = [mpf(t) for t in xs]
    m = max(x)
    e = [mp.exp(t - m) if not mp.isinf(t) else mpf(0) for t in x]
    s = mp.fsum(e)
    return x, m, [t / s for t in e], mp.log(s)


def f_softmax(xs):
    x, m, sm, _ = _softmax(xs)
    g = [mpf(i + 1) for i in range(len(x))]
    gs = mp.fsum(gi * si for gi, si in zip(g, sm))
    return sm, [si * (gi - gs) for gi, si in zip(g, sm)], ""


def f_log_softmax(xs):
    x, m, sm, lse = _softmax(xs)
    g = [mpf(i + 1) for i in range(len(x))]
    tot = mp.fsum(g)
    val = [t - m - lse if not mp.isinf(t) else mpf(-mp.inf) for t in x]
    return val, [gi - si * tot for gi, si in zip(g, sm)], ""


def f_expm1(xs):
    x = mpf(xs[0])
    return mp.expm1(x), mp.exp(x), ""


def f_digamma(xs):
    x = xs[0]
    if x == 0:
        # scipy.special.psi: psi(+0.0) = -inf, psi(-0.0) = +inf; trigamma(+-0) = +inf
        neg = math.copysign(1.0, x) < 0
        return (mpf(mp.inf) if neg else mpf(-mp.inf)), mpf(mp.inf), \
            "pole at 0: sign follows the sign of zero (scipy psi)"
    xm = mpf(x)
    if xm < 0 and xm == mp.floor(xm):
        return mpf(mp.nan), mpf(mp.inf), "pole at a negative integer: scipy psi gives nan and polygamma(1) inf"
    return mp.digamma(xm), mp.psi(1, xm), ""


def f_lgamma(xs):
    x = xs[0]
    if x == 0:
        neg = math.copysign(1.0, x) < 0
        return mpf(mp.inf), (mpf(mp.inf) if neg else mpf(-mp.inf)), \
            "pole: lgamma(+-0) = inf / grad = digamma(+-0) = -+inf (scipy psi)"
    xm = mpf(x)
    if xm < 0 and xm == mp.floor(xm):
        return mpf(mp.inf), mpf(mp.nan), "pole at a negative integer: grad = digamma = nan (scipy psi)"
    return mp.log(abs(mp.gamma(xm))), mp.digamma(xm), ""


def f_xlogx(xs):
    x = mpf(xs[0])
    if x == 0:
        return mpf(0), mpf(-mp.inf), "value 0 by convention / grad is the limit log(x) + 1 -> -inf"
    return x * mp.log(x), mp.log(x) + 1, ""


def sp_func(expr, xs):
    """scipy's float64 value of the expression (for the cross-check)."""
    with np.errstate(all="ignore"):
        if expr == "logaddexp":
            return [float(sps.logsumexp(np.array(xs)))]
        if expr == "softmax":
            return list(sps.softmax(np.array(xs)))
        if expr == "log_softmax":
            return list(sps.log_softmax(np.array(xs)))
        if expr == "expm1":
            return [float(sps.expm1(xs[0]))]
        if expr == "digamma":
            return [float(sps.psi(xs[0]))]
        if expr == "lgamma":
            return [float(sps.gammaln(xs[0]))]
        if expr == "xlogx":
            return [float(sps.xlogy(xs[0], xs[0]))]


FUNCS = {
    "logaddexp": f_logaddexp,
    "softmax": f_softmax,
    "log_softmax": f_log_softmax,
    "expm1": f_expm1,
    "digamma": f_digamma,
    "lgamma": f_lgamma,
    "xlogx": f_xlogx,
}

F_CASES = {
    "logaddexp": [
        [0.0, 0.0], [1.0, 2.0], [-3.5, 2.25], [800.0, 800.0], [-800.0, -800.0],
        [100.0, 100.0], [1e308, 0.0], [1e308, 1e308], [-1e308, 1e308], [1e38, 1e38],
        [0.0, -30.0], [0.0, -1000.0], [-1000.0, 0.0], [1e-300, -1e-300],
        [-INF, 0.0], [0.0, -INF], [-INF, -INF], [INF, 0.0], [INF, INF], [-INF, INF],
    ],
    "softmax": [
        [1.0, 2.0, 3.0], [-1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [0.0, -30.0],
        [1e308, 1e308], [800.0, 800.0], [100.0, 100.0], [1e300, 1e300, 0.0],
        [1e38, 1e38, 0.0], [0.0, -1000.0], [1000.0, 0.0], [-INF, 0.0],
    ],
    "log_softmax": [
        [1.0, 2.0, 3.0], [-1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [0.0, -30.0],
        [1e308, 1e308], [800.0, 800.0], [100.0, 100.0], [1e300, 1e300, 0.0],
        [1e38, 1e38, 0.0], [0.0, -1000.0], [1000.0, 0.0], [-INF, 0.0],
    ],
    "expm1": [[-40.0], [-1.0], [-1e-10], [-0.0], [0.0], [1e-10], [1e-30], [0.5],
              [88.0], [700.0], [710.0]],
    "digamma": [[0.0], [-0.0], [1.0], [0.5], [1e-300], [1e-30], [1e300], [1e30],
                [1.4616321449683622], [-0.5], [-1.5], [-10.3], [-100.7], [-1.0]],
    "lgamma": [[0.0], [-0.0], [1.0], [2.0], [0.5], [3.5], [1e-300], [1e-30], [1e300],
               [1e30], [-0.5], [-1.5], [-10.3], [-100.7], [-1.0]],
    "xlogx": [[5e-324], [1e-310], [1e-45], [1e-40], [0.0], [1e-300], [1e-38], [0.5],
              [1.0], [2.718281828459045], [1e300], [1e38]],
}


def ulp_spec(expr, xs, value, grad, dtype):
    """(value tolerance, grad tolerance) strings."""
    eps = EPS[dtype]
    K = len(xs)

    def cond_ulps(f, df, base):
        # ulps allowed for an argument-reducing implementation at x < 0:
        # 4 x the condition number |x f'(x) / f(x)|, at least `base`
        x = mpf(xs[0])
        if f == 0 or not mp.isfinite(f) or not mp.isfinite(df):
            return base
        return max(base, int(mp.ceil(4 * abs(x * df / f))))

    if expr == "logaddexp":
        return "value_ulp=2", "grad_ulp=4"
    if expr == "softmax":
        return "value_ulp=4", "grad_ulp=8;grad_atol=" + sci(8 * eps * K * K)
    if expr == "log_softmax":
        return ("value_ulp=4;value_atol=" + sci(4 * eps * (1 + mp.log(K))),
                "grad_ulp=8;grad_atol=" + sci(8 * eps * K * (K + 1) / 2))
    if expr == "expm1":
        return "value_ulp=2", "grad_ulp=2"
    x = xs[0]
    pole = x <= 0 and x == math.floor(x)
    if expr == "digamma":
        if x < 0 and not pole:
            return ("value_ulp=%d" % cond_ulps(value, grad, 8),
                    "grad_ulp=%d" % cond_ulps(grad, mp.psi(2, mpf(x)), 8))
        return "value_ulp=4", "grad_ulp=8"
    if expr == "lgamma":
        if value == 0:
            return "value_atol=" + sci(2 * eps), "grad_ulp=8"
        if x < 0 and not pole:
            return ("value_ulp=%d" % cond_ulps(value, grad, 8),
                    "grad_ulp=%d" % cond_ulps(grad, mp.psi(1, mpf(x)), 8))
        return "value_ulp=4", "grad_ulp=8"
    if expr == "xlogx":
        return "value_ulp=2", "grad_ulp=2"
    raise KeyError(expr)


def function_rows(report):
    rows = []
    counts = {}
    for dtype in ("float32", "float64"):
        for expr, cases in F_CASES.items():
            for xs in cases:
                with np.errstate(over="ignore"):
                    xd = [as_dtype(t, dtype) for t in xs]
                if any(t is None for t in xd):
                    continue  # the input does not exist in this dtype
                if any(a == 0 and b != 0 for a, b in zip(xd, xs)):
                    continue  # underflows to zero in this dtype
                if dtype == "float64" and expr in ("logaddexp", "softmax", "log_softmax") \
                        and any(abs(t) == 1e38 for t in xs):
                    continue  # float32-range variant; the float64 rows use 1e308
                value, grad, why = FUNCS[expr](xd)
                vals = value if isinstance(value, list) else [value]
                grads = None if grad is None else (grad if isinstance(grad, list) else [grad])
                vs = [round_to(v, dtype) for v in vals]
                gs = None if grads is None else [round_to(g, dtype) for g in grads]
                vt, gt = ulp_spec(expr, xd, vals[0] if len(vals) == 1 else None,
                                  grads[0] if grads and len(grads) == 1 else None, dtype)
                # specials are exact (inf, nan, 0): say so
                if all(v == 0 or not math.isfinite(v) for v in vs):
                    vt = "value_exact"
                if gs is not None and all(g == 0 or not math.isfinite(g) for g in gs):
                    gt = "grad_exact"
                items = [vt] + ([gt] if gs is not None else [])
                if why:
                    items.append("comment=" + why.replace(";", " /"))
                if dtype == "float64":
                    spv = sp_func(expr, xd)
                    for a, b in zip(spv, vs):
                        same = (a == b) or (math.isnan(a) and math.isnan(b))
                        if not same and math.isfinite(a) and math.isfinite(b):
                            ulp = abs(b - np.nextafter(b, INF)) if b != 0 else 5e-324
                            same = abs(a - b) <= 4 * ulp
                            if not same:
                                diff = float(abs(mpf(a) - mpf(b)))
                                same = "value_atol=" in vt and diff <= float(vt.split("value_atol=")[1])
                        if not same:
                            report["func_diff"].append("%s(%s) float64: mpmath %r scipy %r"
                                                       % (expr, " ".join(fmt_in(t) for t in xd), b, a))
                    report["func_compared"] += 1
                row = [expr, dtype, " ".join(fmt_in(t) for t in xd),
                       " ".join(repr(v) for v in vs),
                       "" if gs is None else " ".join(repr(g) for g in gs),
                       ";".join(items)]
                for f in row:
                    assert "," not in f and "\n" not in f, row
                rows.append(row)
                counts[(expr, dtype)] = counts.get((expr, dtype), 0) + 1
    return rows, counts


def write_csv(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    report = {"scipy_diff": [], "scipy_compared": 0, "grad_checked": 0,
              "func_diff": [], "func_compared": 0}
    drows, dcounts = density_rows(report)
    frows, fcounts = function_rows(report)
    # The same tables at 120 digits must round to the same floats.
    with mp.workdps(120):
        init_consts()
        scratch = {"scipy_diff": [], "scipy_compared": 0, "grad_checked": 0,
                   "func_diff": [], "func_compared": 0}
        hi_d, _ = density_rows(scratch, check=False)
        hi_f, _ = function_rows(scratch)
    init_consts()
    for lo, hi in zip(drows + frows, hi_d + hi_f):
        assert lo == hi, "50 digits are not enough:\n%s\n%s" % (lo, hi)
    write_csv(os.path.join(OUT, "densities.csv"),
              ["dist", "params", "x", "logp", "grad_x", "grad_params", "note"], drows)
    write_csv(os.path.join(OUT, "functions.csv"),
              ["expr", "dtype", "x", "value", "grad", "note"], frows)

    print("versions: python %s, mpmath %s, scipy %s, numpy %s"
          % (sys.version.split()[0], mpmath.__version__, scipy.__version__, np.__version__))
    print("densities.csv: %d rows" % len(drows))
    for k, v in dcounts.items():
        print("  %-17s %d" % (k, v))
    print("functions.csv: %d rows" % len(frows))
    for (e, d), v in fcounts.items():
        print("  %-12s %-8s %d" % (e, d, v))
    print("gradient components checked against finite differences: %d" % report["grad_checked"])
    print("scipy log-density comparisons: %d, differing by > 1e-12 relative: %d"
          % (report["scipy_compared"], len(report["scipy_diff"])))
    unexpected = []
    for known, msg in report["scipy_diff"]:
        print("  [%s] %s" % ("known: " + known if known else "UNEXPECTED", msg))
        if not known:
            unexpected.append(msg)
    print("scipy.special comparisons (float64): %d, differing: %d"
          % (report["func_compared"], len(report["func_diff"])))
    for msg in report["func_diff"]:
        print("  " + msg)
    assert not unexpected, "scipy and mpmath disagree on rows without scipy_known"
    stale = [c for c in CASES if c[4]]
    assert len(stale) == len(report["scipy_diff"]), "a scipy_known row now agrees with scipy"
    assert not report["func_diff"], "scipy.special and mpmath disagree"


if __name__ == "__main__":
    main()
