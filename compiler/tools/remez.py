#!/usr/bin/env python3
"""Weighted minimax (Remez exchange) polynomial fits used for the kernels in
compiler/src/codegen/math/.  Run with `python3 compiler/tools/remez.py [name]`; needs mpmath only.

Each fit approximates f(v) ~ sum_j c_j v^j on [a, b] minimising
max |w(v) (f(v) - P(v))|.  The printed coefficients are the ones pasted into
the Rust sources (rounded to f64, or to f32 by the builder for F32)."""
import sys
from mpmath import mp, mpf, matrix, lu_solve, cos, pi, exp, expm1, atanh, sqrt, sin, erf, erfc, log, fabs

mp.dps = 60


def remez(f, w, a, b, n, iters=40, grid=3000, verbose=False):
    a = mpf(a); b = mpf(b)
    m = n  # number of coefficients (degree n-1)
    k = m + 1
    xs = [(a + b) / 2 - (b - a) / 2 * cos(pi * i / (k - 1)) for i in range(k)]
    # dense grid, clustered at the ends
    G = [(a + b) / 2 - (b - a) / 2 * cos(pi * i / (grid - 1)) for i in range(grid)]
    fG = [f(x) for x in G]
    wG = [w(x) for x in G]
    best = None
    for it in range(iters):
        A = matrix(k, k); rhs = matrix(k, 1)
        for i, x in enumerate(xs):
            p = mpf(1)
            for j in range(m):
                A[i, j] = p; p *= x
            A[i, m] = (-1) ** i / w(x)
            rhs[i] = f(x)
        sol = lu_solve(A, rhs)
        c = [sol[j] for j in range(m)]
        E = sol[m]

        def P(x):
            r = mpf(0)
            for cj in reversed(c):
                r = r * x + cj
            return r
        e = [wG[i] * (fG[i] - P(G[i])) for i in range(grid)]
        # local extrema of e (including endpoints)
        ext = []
        for i in range(grid):
            left = e[i - 1] if i > 0 else None
            right = e[i + 1] if i < grid - 1 else None
            v = e[i]
            if (left is None or abs(v) >= abs(left) or (v * left < 0)) and \
               (right is None or abs(v) >= abs(right) or (v * right < 0)):
                if (left is None or not (v * left > 0 and abs(left) > abs(v))) and \
                   (right is None or not (v * right > 0 and abs(right) > abs(v))):
                    ext.append(i)
        # merge same-sign neighbours keeping the largest
        merged = []
        for i in ext:
            if merged and (e[i] > 0) == (e[merged[-1]] > 0):
                if abs(e[i]) > abs(e[merged[-1]]):
                    merged[-1] = i
            else:
                merged.append(i)
        # trim to k points keeping the alternation with the largest values
        while len(merged) > k:
            if abs(e[merged[0]]) < abs(e[merged[-1]]):
                merged.pop(0)
            else:
                merged.pop()
        maxerr = max(abs(v) for v in e)
        if verbose:
            print(it, float(abs(E)), float(maxerr), len(merged), file=sys.stderr)
        if len(merged) < k:
            # not enough alternation points: keep old reference
            break
        xs = [G[i] for i in merged]
        best = (c, maxerr, E)
        if abs(maxerr - abs(E)) / maxerr < mpf('1e-6'):
            break
    return best


def show(name, c, maxerr, fmt='f64'):
    import math
    print(f"// {name}: max weighted error {float(maxerr):.3e} (2^{math.log2(float(maxerr)):.2f})")
    print("[" + ", ".join(repr(float(x)) for x in c) + "]")


def rounded_check(f, w, a, b, c, npts=20000):
    """max weighted error with coefficients rounded to f64 (exact evaluation)."""
    cr = [mpf(float(x)) for x in c]
    a = mpf(a); b = mpf(b)
    mx = mpf(0)
    for i in range(npts + 1):
        x = a + (b - a) * i / npts
        p = mpf(0)
        for cj in reversed(cr):
            p = p * x + cj
        v = abs(w(x) * (f(x) - p))
        mx = max(mx, v)
    return mx


# ---------------------------------------------------------------- targets
LN2 = log(2)


def q_exp(r):  # (e^r - 1 - r)/r^2
    if fabs(r) < mpf('1e-15'):
        return mpf(1) / 2 + r / 6 + r * r / 24
    return (expm1(r) - r) / (r * r)


def u_log(z):  # U(z) = (2 atanh(sqrt z)/sqrt z - 2)/z = 2/3 + 2/5 z + ...
    if z < mpf('1e-30'):
        return mpf(2) / 3 + mpf(2) / 5 * z
    s = sqrt(z)
    return (2 * atanh(s) / s - 2) / z


def t_log(z):  # (U(z) - 2/3)/z = 2/5 + 2/7 z + ...
    if z < mpf('1e-30'):
        return mpf(2) / 5 + mpf(2) / 7 * z
    return (u_log(z) - mpf(2) / 3) / z


def s_sin(s):  # (sin(sqrt s) - sqrt s)/s^1.5
    if s < mpf('1e-30'):
        return -mpf(1) / 6 + s / 120
    r = sqrt(s)
    return (sin(r) - r) / (s * r)


def w_sin(s):  # error in r^3 S relative to sin r
    if s < mpf('1e-30'):
        return s
    r = sqrt(s)
    return s * r / sin(r)


def p_erf(z):  # erf(sqrt z)/sqrt z
    if z < mpf('1e-30'):
        return 2 / sqrt(pi) * (1 - z / 3)
    r = sqrt(z)
    return erf(r) / r


def g_erfcx(x):
    return exp(x * x) * erfc(x)


FITS = {}


def fit(name):
    def deco(fn):
        FITS[name] = fn
        return fn
    return deco


@fit('exp')
def _():
    L = LN2 / 2 * mpf('1.0001')
    for n, tag in ((10, 'F64'), (5, 'F32')):
        c, err, _ = remez(q_exp, lambda r: 1 / q_exp(r), -L, L, n)
        show(f"EXP_Q {tag} (e^r-1-r)/r^2 on [-ln2/2, ln2/2], relative", c, err)
        print('   rounded:', float(rounded_check(q_exp, lambda r: 1 / q_exp(r), -L, L, c, 4000)))


@fit('log')
def _():
    zmax = ((sqrt(2) - 1) / (sqrt(2) + 1)) ** 2 * mpf('1.0001')
    for n, tag in ((7, 'F64'), (6, 'F64'), (3, 'F32'), (4, 'F32')):
        c, err, _ = remez(u_log, lambda z: 1 / u_log(z), 0, zmax, n)
        show(f"LOG_U {tag} n={n} on [0,{float(zmax):.5f}] relative", c, err)


@fit('log1p')
def _():
    zmax = mpf(1) / 9 * mpf('1.0001')
    for n, tag in ((10, 'F64'), (9, 'F64'), (11, 'F64'), (4, 'F32'), (5, 'F32')):
        c, err, _ = remez(u_log, lambda z: 1 / u_log(z), 0, zmax, n)
        show(f"LOG1P_U {tag} n={n} on [0,1/9] relative", c, err)


@fit('powlog')
def _():
    zmax = ((sqrt(2) - 1) / (sqrt(2) + 1)) ** 2 * mpf('1.0001')
    for n, tag in ((8, 'F64'), (7, 'F64'), (3, 'F32'), (4, 'F32')):
        c, err, _ = remez(t_log, lambda z: 1 / t_log(z), 0, zmax, n)
        show(f"POWLOG_T {tag} n={n} on [0,{float(zmax):.5f}] relative", c, err)


@fit('sin')
def _():
    smax = (pi / 2 * mpf('1.0001')) ** 2
    for n, tag in ((9, 'F64'), (8, 'F64'), (4, 'F32'), (5, 'F32')):
        c, err, _ = remez(s_sin, lambda v: -1 / s_sin(v), 0, smax, n)
        show(f"SIN_S {tag} n={n} on [0,(pi/2)^2] relative to S", c, err)


@fit('erfa')
def _():
    import math
    for T, ns, tag in ((1.0, (10, 11, 12), 'F64'), (1.0, (5, 6), 'F32')):
        for n in ns:
            c, err, _ = remez(p_erf, lambda z: 1 / p_erf(z), 0, mpf(T) ** 2, n)
            show(f"ERF_A {tag} T={T} n={n} erf(x)/x in z=x^2, relative", c, err)


@fit('erfb')
def _():
    # G(x) ~ erfcx(x) on [T, X] in the shifted variable u = x - x0; weight: error of
    # 1 - e^{-x^2} G relative to erf(x).
    args = sys.argv[2:]
    T = mpf(args[0]) if args else mpf(1)
    X = mpf(args[1]) if len(args) > 1 else mpf(6)
    ns = [int(v) for v in args[2:]] if len(args) > 2 else [14, 16, 18]
    x0 = (T + X) / 2
    f = lambda u: g_erfcx(u + x0)
    w = lambda u: exp(-(u + x0) ** 2) / erf(u + x0)
    for n in ns:
        c, err, _ = remez(f, w, T - x0, X - x0, n, grid=4000)
        show(f"ERF_B T={float(T)} X={float(X)} x0={float(x0)} n={n} erfcx(x0+u) weight e^-x^2/erf", c, err)



@fit('erfbt')
def _():
    # G(t) ~ erfcx(x) with t = c/(c + x), x in [T, X]; weight e^{-x^2}/erf(x).
    args = sys.argv[2:]
    T = mpf(args[0]); X = mpf(args[1]); cc = mpf(args[2])
    ns = [int(v) for v in args[3:]]
    xt = lambda t: cc * (1 - t) / t
    f = lambda t: g_erfcx(xt(t))
    w = lambda t: exp(-xt(t) ** 2) / erf(xt(t))
    ta = cc / (cc + X); tb = cc / (cc + T)
    for n in ns:
        c, err, _ = remez(f, w, ta, tb, n, grid=3000)
        show(f"ERF_BT T={float(T)} X={float(X)} c={float(cc)} n={n} erfcx(c(1-t)/t) in t, weight e^-x^2/erf", c, err)


if __name__ == '__main__':
    names = sys.argv[1:2] or list(FITS)
    for nm in names:
        FITS[nm]()
