#!/usr/bin/env python3
"""Generates compiler/src/codegen/math/coeffs.rs: every polynomial used by the kernels, fitted with
the Remez exchange in compiler/tools/remez.py (mpmath, 60 digits).  Coefficients are in
increasing degree order.  Run from the repository root: python3 compiler/tools/gen_coeffs.py > compiler/src/codegen/math/coeffs.rs"""
import sys, math
sys.argv = ['x']
exec(open(__file__.replace('gen_coeffs.py', 'remez.py')).read().split("if __name__")[0])

out = []
def emit(name, doc, c, err):
    out.append(f"/// {doc}\n/// Remez max weighted error {float(err):.3e} (2^{math.log2(float(err)):.2f}).")
    out.append(f"pub const {name}: [f64; {len(c)}] = [")
    for x in c:
        out.append(f"    {float(x)!r},")
    out.append("];\n")

L = LN2 / 2 * mpf('1.0001')
for n, tag in ((10, 'F64'), (6, 'F32')):
    c, err, _ = remez(q_exp, lambda r: 1 / q_exp(r), -L, L, n)
    emit(f"EXP_Q_{tag}", "Q(r) ~ (e^r - 1 - r)/r^2 on [-ln2/2, ln2/2], relative error.\n/// exp(r) = 1 + r + r^2 Q(r), expm1(r) = r + r^2 Q(r).", c, err)

zlog = ((sqrt(2) - 1) / (sqrt(2) + 1)) ** 2 * mpf('1.0001')
for n, tag in ((7, 'F64'), (3, 'F32')):
    c, err, _ = remez(u_log, lambda z: 1 / u_log(z), 0, zlog, n)
    emit(f"LOG_U_{tag}", "U(z) ~ (2 atanh(s)/s - 2)/z, z = s^2 in [0, (3-2sqrt2)^2], relative error.\n/// log(1+f) = f - f^2/2 + s (f^2/2 + z U(z)), s = f/(2+f) (fdlibm's decomposition).", c, err)

z9 = mpf(1) / 9 * mpf('1.0001')
for n, tag in ((10, 'F64'),):
    c, err, _ = remez(u_log, lambda z: 1 / u_log(z), 0, z9, n)
    emit(f"LOG1P_U_{tag}", "Same U(z) as LOG_U but on z in [0, 1/9] (f in [0, 1]: softplus' log1p(e^-|x|)).", c, err)

z04 = mpf('0.04') * mpf('1.0001')
c, err, _ = remez(u_log, lambda z: 1 / u_log(z), 0, z04, 3)
emit("LOG1PK_U_F32", "U(z) on z in [0, 0.04] (F32 softplus: f in [-1/4, 1/2] after the k split).", c, err)

for n, tag in ((8, 'F64'), (3, 'F32')):
    c, err, _ = remez(t_log, lambda z: 1 / t_log(z), 0, zlog, n)
    emit(f"POWLOG_T_{tag}", "t(z) ~ (U(z) - 2/3)/z on [0, (3-2sqrt2)^2], relative error (pow's double-word log).", c, err)

smax = (pi / 2 * mpf('1.0001')) ** 2
for n, tag in ((8, 'F64'),):
    c, err, _ = remez(s_sin, lambda v: -1 / s_sin(v), 0, smax, n)
    emit(f"SIN_S_{tag}", "S(s) ~ (sin(r) - r)/r^3, s = r^2 in [0, (pi/2)^2], relative error.\n/// sin(r) = r + r^3 S(r^2).", c, err)

# quadrant (pi/2) reduction, used for F32 sin/cos
s4 = (pi / 4 * mpf('1.0001')) ** 2
def c_cos(v):
    if v < mpf('1e-30'):
        return -mpf(1) / 2 + v / 24
    r = sqrt(v)
    return (cos(r) - 1) / v
c, err, _ = remez(s_sin, lambda v: -1 / s_sin(v), 0, s4, 3)
emit("SIN4_S_F32", "S(s) ~ (sin(r) - r)/r^3, s = r^2 in [0, (pi/4)^2], relative error (F32 quadrant reduction).", c, err)
c, err, _ = remez(c_cos, lambda v: 1 / abs(c_cos(v)), 0, s4, 4)
emit("COS4_C_F32", "C(s) ~ (cos(r) - 1)/r^2, s = r^2 in [0, (pi/4)^2], relative error; cos r = 1 + s C(s).", c, err)

for T, n, tag in ((1.0, 12, 'F64'), (0.75, 6, 'F32')):
    c, err, _ = remez(p_erf, lambda z: 1 / p_erf(z), 0, mpf(T) ** 2, n)
    c[0] -= 1  # stored as P - 1: erf(x) = x + x (P(z) - 1), no rounding error on the leading 1
    emit(f"ERF_A_{tag}", f"P(z) - 1 with P(z) ~ erf(x)/x, z = x^2 in [0, {T}^2], relative error of P.", c, err)

for T, X, cc, n, tag in ((1, 6, 4, 12, 'F64'), (0.75, 4, 2, 6, 'F32')):
    T = mpf(T); X = mpf(X); cc = mpf(cc)
    ta = cc / (cc + X); tb = cc / (cc + T); t0 = (ta + tb) / 2
    t0 = mpf(float(t0))
    xt = lambda u: cc * (1 - (u + t0)) / (u + t0)
    f = lambda u: g_erfcx(xt(u))
    w = lambda u: exp(-xt(u) ** 2) / erf(xt(u))
    c, err, _ = remez(f, w, ta - t0, tb - t0, n, grid=3000)
    cond = max(sum(abs(cj) * abs(u) ** j for j, cj in enumerate(c)) / f(u) for u in (ta - t0, tb - t0))
    emit(f"ERF_B_{tag}", f"G(u) ~ erfcx(x) = e^(x^2) erfc(x) in u = t - ERF_B_T0_{tag}, t = {float(cc)}/({float(cc)} + x), x in [{float(T)}, {float(X)}];\n/// weight e^(-x^2)/erf(x), i.e. the error of erf(x) = 1 - e^(-x^2) G relative to erf(x).\n/// Evaluation condition number sum|c_i u^i|/G <= {float(cond):.2f}.", c, err)
    out.append(f"pub const ERF_B_T0_{tag}: f64 = {float(t0)!r};\n")

# ---- multi-word constants: (hi, lo, lo2) with each word rounded to the format
import struct
def f32(x):
    return struct.unpack('f', struct.pack('f', float(x)))[0]
def trunc_fmt(v, fmt):
    """v rounded toward zero to the format (so every remainder keeps v's sign)."""
    if fmt == 'F64':
        w = float(v)
        if abs(mpf(w)) > abs(v):
            w = math.nextafter(w, 0.0)
        return w
    w = f32(v)
    if abs(mpf(w)) > abs(v):
        b = struct.unpack('I', struct.pack('f', w))[0] - 1
        w = struct.unpack('f', struct.pack('I', b))[0]
    return w
def split(c, fmt, parts, trunc=False):
    ws = []; rem = mpf(c)
    for i in range(parts):
        if trunc:
            w = trunc_fmt(rem, fmt)
        else:
            w = float(rem) if fmt == 'F64' else f32(rem)
        ws.append(w); rem -= mpf(w)
    return ws
def hi_bits(c, bits):
    # c rounded to `bits` significant bits
    e = mp.floor(mp.log(abs(c), 2))
    q = mpf(2) ** (e - bits + 1)
    return float(mp.nint(c / q) * q)
consts = [
    ("LN2", LN2, 2, "ln 2 split in words of the format (hi exact in the format)."),
    ("PI", pi, 3, "pi in three words, each truncated so all are positive (sin(-0) stays -0), Cody-Waite for sin."),
    ("PIO2", pi / 2, 3, "pi/2 in three positive (truncated) words: Cody-Waite for cos / F32 quadrants."),
    ("TWO_THIRDS", mpf(2) / 3, 2, "2/3 as a double-word constant (pow's log)."),
]
for name, c, parts, doc in consts:
    for tag in ('F64', 'F32'):
        ws = split(c, tag, parts, trunc=name.startswith('PI'))
        out.append(f"/// {doc}\npub const {name}_{tag}: [f64; {parts}] = [" + ", ".join(repr(w) for w in ws) + "];\n")
# ln2 with a short head so that k * head is exact (pow: k < 2^11 for F64, < 2^8 for F32)
for tag, bits in (('F64', 42), ('F32', 16)):
    h = hi_bits(LN2, bits); l = mpf(LN2) - mpf(h)
    l = float(l) if tag == 'F64' else f32(l)
    out.append(f"/// ln 2 = head + tail, head with {bits} significant bits so k*head is exact (pow).\npub const LN2_SHORT_{tag}: [f64; 2] = [{h!r}, {l!r}];\n")

print("//! Polynomial coefficients (increasing degree). GENERATED by compiler/tools/gen_coeffs.py")
print("//! (Remez exchange in mpmath, see compiler/tools/remez.py); do not edit by hand.\n")
print("#![allow(clippy::approx_constant, clippy::excessive_precision)]\n")
print("\n".join(out))
