"""Peer benchmark: hand-written JAX mean-field ADVI for the Bayesian CNN on
scikit-learn's digits (theon's examples/bnn_digits.rs, the Bayesian fit).

Set-up (once):
    python3 -m venv "$HOME/peers-venv"
    "$HOME/peers-venv/bin/pip" install -q jax==0.10.2 jaxlib==0.10.2 numpy

Usage (from the repository root, so that data/digits/digits.npz is found):
    # one thread against one thread (theon's single-threaded runs):
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
        taskset -c 0 ~/peers-venv/bin/python benches/peers/jax_digits_cnn.py
    # XLA's default (all cores):
    ~/peers-venv/bin/python benches/peers/jax_digits_cnn.py
    # options: --steps 20000 --block 1000 --batch 100 --temperature 1.0
    #          --lr 0.01 --start-sigma 0.01 --draws 200 --seed 0 --dtype f64|f32

The model is theon's `examples/src/models.rs::digits_cnn` with
`nn::Prior::learned(nn::Scale::HalfNormal(1.0))` (frontends/nn/src/prior.rs,
frontends/nn/src/sequential.rs):

    x: images / 16, NCHW [n, 1, 8, 8]
    conv0: 3x3, 8 filters, 'same' padding, + bias [8, 1, 1], tanh
    max pool 2x2, stride 2                                   -> [n, 8, 4, 4]
    conv1: 3x3, 16 filters, 'same' padding, + bias [16, 1, 1], tanh
    flatten (row-major over C, H, W)                          -> [n, 256]
    dense0: [256, 10] + bias [10] -> logits
    y ~ Categorical(softmax(logits)), minibatches of 100 drawn with
        replacement, log-likelihood scaled by n_train / batch

    Weights non-centred (theon's default for a learned prior), one scale per
    layer: w = s * w_raw, w_raw ~ Normal(0, 1), s ~ HalfNormal(1) (free in
    log space, u = log s, with its log-Jacobian u); biases ~ Normal(0, 1).
    Conv weights are OIHW, dense weights [in, out].

ADVI as theon (PyMC) does it: mean-field Gaussian over every unconstrained
entry, sigma = softplus(rho), one reparameterised draw per step,

    loss = -(N/B) log lik + T * (log q - log prior - log Jacobian)

with log q evaluated at the draw (PyMC's form; its expectation is minus the
entropy), temperature T (`--temperature`, 1 = exact posterior), Adam
(beta1 0.9, beta2 0.999, eps 1e-8, bias correction folded into the step
size, as theon's optimizer). Starts: q's means at the model's initial point
(w_raw: Glorot-normal draws, sd sqrt(2 / (fan_in + fan_out)) with Keras'
conv fans (channels * taps); biases 0; log scales log 1 = 0), every sigma
`--start-sigma` (0.01).

The training loop is jitted: `jax.lax.fori_loop` over `--block` steps per
call (minibatch indices, q's draw, loss, gradient and Adam update inside).
The block function is compiled ahead of time (`compile_s`, lower + compile);
every block is then timed on its own (block_until_ready) and
`us_per_step_median` is the median over blocks of block_time / block_steps.
`fit_s` is the wall time of the whole fit: compile plus every block (theon's
fit_s likewise includes compiling its step function); `train_s` is the
blocks only.

Split: the digits' fixed stratified split, a third of every class held out
(rounded), from a NumPy `RandomState(0)` permutation (the same recipe as
theon's `stratified_split`, not the same permutation: theon's RNG differs),
fixed whatever `--seed`. `--seed` seeds the Glorot starts, the minibatches
and q's draws.

After the fit: the posterior predictive on the test set from `--draws`
(200) draws of q (mean over draws of the softmax probabilities); accuracy,
NLL and the expected calibration error with 15 equal-width confidence bins
(bin i holds confidences in (i/15, (i+1)/15], as theon's
examples/src/calibration.rs). `predict_ms` is the median of 5 calls of the
jitted predictive.

The last line printed is one JSON object.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--block", type=int, default=1000,
                    help="steps per jitted fori_loop block")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--start-sigma", type=float, default=0.01)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["f64", "f32"], default="f64")
    ap.add_argument("--data", default=None,
                    help="digits archive (default: data/digits/digits.npz of the repository)")
    a = ap.parse_args()
    for flag in ("steps", "block", "batch", "draws"):
        if getattr(a, flag) <= 0:
            ap.error(f"--{flag} must be positive")
    if not (a.temperature > 0 and math.isfinite(a.temperature)):
        ap.error("--temperature must be positive and finite")
    if not (a.start_sigma > 0 and math.isfinite(a.start_sigma)):
        ap.error("--start-sigma must be positive and finite")
    return a


args = parse_args()

import jax  # noqa: E402

if args.dtype == "f64":
    jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

DT = jnp.float64 if args.dtype == "f64" else jnp.float32
HALF_LN_2PI = 0.5 * math.log(2.0 * math.pi)
HALF_LN_2_OVER_PI = 0.5 * math.log(2.0 / math.pi)
N_CLASSES = 10


# ---------------------------------------------------------------- data ----

def load_digits(path):
    d = np.load(path)
    x = d["x"].astype(np.float64) / 16.0
    y = d["y"].astype(np.int64)
    return x.reshape(-1, 1, 8, 8), y


def stratified_split(labels, test_fraction, seed):
    order = np.random.RandomState(seed).permutation(len(labels))
    train, test = [], []
    for c in np.unique(labels):
        rows = order[labels[order] == c]
        n_test = int(round(len(rows) * test_fraction))
        test.extend(rows[:n_test])
        train.extend(rows[n_test:])
    return np.sort(np.array(train)), np.sort(np.array(test))


# --------------------------------------------------------------- model ----

# (name, shape, kind, fans) in the order theon's Sequential builds them.
LAYERS = [
    ("conv0", (8, 1, 3, 3), (1 * 9, 8 * 9)),
    ("conv1", (16, 8, 3, 3), (8 * 9, 16 * 9)),
    ("dense0", (256, 10), (256, 10)),
]
BIAS_SHAPES = {"conv0": (8, 1, 1), "conv1": (16, 1, 1), "dense0": (10,)}


def initial_point(key):
    """The model's initial point in unconstrained space (a dict of arrays)."""
    u = {}
    keys = jax.random.split(key, len(LAYERS))
    for k, (name, shape, (fi, fo)) in zip(keys, LAYERS):
        sd = math.sqrt(2.0 / max(fi + fo, 1))
        u[f"{name}.w_raw"] = sd * jax.random.normal(k, shape, DT)
        u[f"{name}.w_scale_log"] = jnp.zeros((), DT)
        u[f"{name}.b"] = jnp.zeros(BIAS_SHAPES[name], DT)
    return u


def conv_same(x, w):
    return lax.conv_general_dilated(
        x, w, window_strides=(1, 1), padding="SAME",
        dimension_numbers=("NCHW", "OIHW", "NCHW"))


def max_pool2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max,
                             (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def weights(u, name):
    return u[f"{name}.w_raw"] * jnp.exp(u[f"{name}.w_scale_log"])


def logits_fn(u, x):
    h = jnp.tanh(conv_same(x, weights(u, "conv0")) + u["conv0.b"])
    h = max_pool2(h)
    h = jnp.tanh(conv_same(h, weights(u, "conv1")) + u["conv1.b"])
    h = h.reshape(h.shape[0], -1)
    return h @ weights(u, "dense0") + u["dense0.b"]


def log_prior_plus_jac(u):
    """log p(w_raw, s, b) + log|d s / d u| in unconstrained coordinates."""
    total = jnp.zeros((), DT)
    for name, _, _ in LAYERS:
        raw = u[f"{name}.w_raw"]
        total += jnp.sum(-0.5 * raw * raw - HALF_LN_2PI)
        ls = u[f"{name}.w_scale_log"]
        s = jnp.exp(ls)
        total += HALF_LN_2_OVER_PI - 0.5 * s * s + ls  # HalfNormal(1) + Jacobian
        b = u[f"{name}.b"]
        total += jnp.sum(-0.5 * b * b - HALF_LN_2PI)
    return total


# ---------------------------------------------------------------- ADVI ----

def softplus_inv(x):
    return x + math.log(-math.expm1(-x))


def draw(q, key):
    """One reparameterised draw of q and log q at it (PyMC's form)."""
    names = sorted(q["mu"])
    keys = jax.random.split(key, len(names))
    z, logq = {}, jnp.zeros((), DT)
    for k, n in zip(keys, names):
        sigma = jax.nn.softplus(q["rho"][n])
        eps = jax.random.normal(k, q["mu"][n].shape, DT)
        z[n] = q["mu"][n] + sigma * eps
        logq += jnp.sum(-0.5 * eps * eps - HALF_LN_2PI - jnp.log(sigma))
    return z, logq


def make_block(n_train, batch, temperature, lr, n_steps):
    scale = n_train / batch
    b1, b2, eps = 0.9, 0.999, 1e-8

    def loss_fn(q, key, xb, yb):
        z, logq = draw(q, key)
        logits = logits_fn(z, xb)
        loglik = jnp.sum(jnp.take_along_axis(
            jax.nn.log_softmax(logits, axis=-1), yb[:, None], axis=-1))
        kl = logq - log_prior_plus_jac(z)
        return -scale * loglik + temperature * kl

    grad_fn = jax.value_and_grad(loss_fn)

    def block(q, m, v, t, key, xs, ys):
        def step(_, carry):
            q, m, v, t, key, loss_sum = carry
            key, k_idx, k_q = jax.random.split(key, 3)
            idx = jax.random.randint(k_idx, (batch,), 0, n_train)
            loss, g = grad_fn(q, k_q, xs[idx], ys[idx])
            t1 = t + 1.0
            a = lr * jnp.sqrt(1.0 - b2 ** t1) / (1.0 - b1 ** t1)
            m = jax.tree.map(lambda m_, g_: b1 * m_ + (1.0 - b1) * g_, m, g)
            v = jax.tree.map(lambda v_, g_: b2 * v_ + (1.0 - b2) * g_ * g_, v, g)
            q = jax.tree.map(lambda p, m_, v_: p - a * m_ / (jnp.sqrt(v_) + eps), q, m, v)
            return q, m, v, t1, key, loss_sum + loss

        zero = jnp.zeros((), DT)
        q, m, v, t, key, loss_sum = lax.fori_loop(
            0, n_steps, step, (q, m, v, t, key, zero))
        return q, m, v, t, key, loss_sum / n_steps

    return block


def make_predictive(n_draws):
    def predictive(q, key, x):
        keys = jax.random.split(key, n_draws)

        def one(k):
            z, _ = draw(q, k)
            return jax.nn.softmax(logits_fn(z, x), axis=-1)

        # lax.map, not vmap: vmapping the convolution over per-draw weights
        # becomes a grouped convolution, which XLA's CPU backend runs far
        # slower (measured on a loaded 2-core machine: 40 s per call with
        # vmap, 1.6 s with lax.map).
        return jnp.mean(lax.map(one, keys), axis=0)

    return jax.jit(predictive)


def scores(p, labels, n_bins=15):
    p = np.asarray(p, dtype=np.float64)
    pred = p.argmax(axis=1)
    conf = p.max(axis=1)
    hit = pred == labels
    nll = -np.mean(np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-300)))
    b = np.clip(np.ceil(conf * n_bins).astype(np.int64), 1, n_bins) - 1
    ece = 0.0
    for i in range(n_bins):
        sel = b == i
        if sel.any():
            ece += sel.mean() * abs(hit[sel].mean() - conf[sel].mean())
    return float(hit.mean()), float(nll), float(ece), float(conf.mean())


# ---------------------------------------------------------------- main ----

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data_path = args.data or os.path.join(repo, "data", "digits", "digits.npz")
x_all, y_all = load_digits(data_path)
train, test = stratified_split(y_all, 1.0 / 3.0, 0)
if args.batch > len(train):
    sys.exit(f"--batch {args.batch}: the training set has {len(train)} images")
x_train_dev = jnp.asarray(x_all[train], DT)
y_train_dev = jnp.asarray(y_all[train], jnp.int32)
x_test_dev = jnp.asarray(x_all[test], DT)
y_test = y_all[test]
n_train = len(train)
print(f"digits: {n_train} training and {len(test)} test images, {args.dtype}, "
      f"minibatches of {args.batch}; jax {jax.__version__} on {jax.devices()}")

key = jax.random.PRNGKey(args.seed)
k_init, k_fit, k_pred = jax.random.split(key, 3)
mu0 = initial_point(k_init)
rho0 = softplus_inv(args.start_sigma)
q = {"mu": mu0, "rho": {n: jnp.full(a.shape, rho0, DT) for n, a in mu0.items()}}
m = jax.tree.map(jnp.zeros_like, q)
v = jax.tree.map(jnp.zeros_like, q)
t = jnp.zeros((), DT)
n_params = sum(int(a.size) for a in mu0.values())

n_full, rest = divmod(args.steps, args.block)
sizes = [args.block] * n_full + ([rest] if rest else [])

fit_start = time.perf_counter()
compiled = {}
compile_s = 0.0
for n in sorted(set(sizes), reverse=True):
    t0 = time.perf_counter()
    fn = jax.jit(make_block(n_train, args.batch, args.temperature, args.lr, n))
    compiled[n] = fn.lower(q, m, v, t, k_fit, x_train_dev, y_train_dev).compile()
    dt = time.perf_counter() - t0
    if n == sizes[0]:
        compile_s = dt
    else:
        print(f"(compiled the {n}-step remainder block in {dt:.2f} s)")
print(f"compile: {compile_s:.2f} s ({n_params} parameters, blocks of {args.block} steps)")

block_us, losses = [], []
state = (q, m, v, t, k_fit)
done = 0
train_start = time.perf_counter()
for n in sizes:
    t0 = time.perf_counter()
    *state, loss = compiled[n](*state, x_train_dev, y_train_dev)
    loss = float(jax.block_until_ready(loss))
    dt = time.perf_counter() - t0
    block_us.append(dt / n * 1e6)
    losses.append(loss)
    done += n
    if not math.isfinite(loss):
        sys.exit(f"step {done}: the mean loss of the block is {loss}")
    print(f"steps {done:>7}: mean loss {loss:12.3f}  {dt / n * 1e6:8.1f} us/step")
fit_end = time.perf_counter()
q = state[0]
train_s = fit_end - train_start
fit_s = fit_end - fit_start

predictive = make_predictive(args.draws)
probs = jax.block_until_ready(predictive(q, k_pred, x_test_dev))
pred_times = []
for _ in range(5):
    t0 = time.perf_counter()
    jax.block_until_ready(predictive(q, k_pred, x_test_dev))
    pred_times.append(time.perf_counter() - t0)
accuracy, nll, ece, confidence = scores(probs, y_test)
scales = {name: float(jnp.exp(q["mu"][f"{name}.w_scale_log"])) for name, _, _ in LAYERS}
print(f"accuracy {accuracy:.4f}  NLL {nll:.4f}  ECE {ece:.4f}  confidence {confidence:.3f}  "
      f"(q's mean prior scales: " + ", ".join(f"{k} {s:.3f}" for k, s in scales.items()) + ")")

print(json.dumps({
    "script": "jax_digits_cnn",
    "jax_version": jax.__version__,
    "dtype": args.dtype,
    "seed": args.seed,
    "steps": args.steps,
    "block": args.block,
    "batch": args.batch,
    "temperature": args.temperature,
    "lr": args.lr,
    "draws": args.draws,
    "compile_s": round(compile_s, 3),
    "us_per_step_median": round(float(np.median(block_us)), 2),
    "fit_s": round(fit_s, 3),
    "train_s": round(train_s, 3),
    "predict_ms": round(float(np.median(pred_times)) * 1e3, 2),
    "accuracy": round(accuracy, 4),
    "nll": round(nll, 4),
    "ece": round(ece, 4),
    "final_block_loss": round(losses[-1], 3),
    "threads": os.environ.get("XLA_FLAGS", "default (XLA_FLAGS unset: all cores)"),
}))
