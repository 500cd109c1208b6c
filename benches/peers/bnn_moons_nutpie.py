"""Peer benchmark: nutpie (PyMC front end, numba backend) on the BNN-moons model.

Set-up:  pip install pymc nutpie

Usage:
    python bnn_moons_nutpie.py                      # draws=1000 tune=1000 chains=4 seed=0
    python bnn_moons_nutpie.py --draws 500 --chains 2

The model is the one of PyMC's "Variational Inference: Bayesian Neural
Networks" notebook, as theon builds it (examples/src/models.rs, `moons_bnn`):
a 2 -> 5 tanh -> 5 tanh -> 1 sigmoid network with NO biases,

    w_in_1  ~ Normal(0, 1), shape (2, 5)
    w_1_2   ~ Normal(0, 1), shape (5, 5)
    w_2_out ~ Normal(0, 1), shape (5,)
    p   = sigmoid(tanh(tanh(X @ w_in_1) @ w_1_2) @ w_2_out)
    out ~ Bernoulli(p), observed Y_train

on the repository's two-moons split in data/moons/ (plain CSV, no header;
500 training and 500 test points; see data/moons/README.md).

Times (a) nutpie.compile_pymc_model(model) and (b) nutpie.sample(...) with
the given draws/tune/chains/seed, then prints ONE JSON line with timings,
min bulk ESS over all 40 weights, max R-hat, divergences, leapfrog-step
counts and the test accuracy of the posterior-predictive mean probability
(p computed with NumPy for every kept draw, averaged over all draws of all
chains, thresholded at 0.5).

Gradient evaluations: nutpie records `n_steps` (leapfrog steps, one gradient
evaluation each) per draw. "n_steps" sums it over the kept draws of all
chains; with save_warmup=True (nutpie's default) the tuning draws'
stats are in `idata.warmup_sample_stats` and are added too
("n_steps_scope" says which was counted). "grad_evals_per_s_sampling" is that
total divided by the wall time of nutpie.sample (which also includes nutpie's
own start-up, initialisation and trace conversion).

Caveat: the BNN posterior is multimodal (each hidden unit's sign can be
flipped together with its outgoing weights, and hidden units within a layer
can be permuted), so different chains may settle in different, equivalent
modes. R-hat across chains is then expected to be large and the cross-chain
bulk ESS small; both are reported anyway. (With this small network and
N(0, 1) priors the chains can also hop between the symmetric modes through
the region near zero, in which case R-hat stays moderate.) Test accuracy is
invariant to these symmetries.

Thread settings: BLAS/OpenMP pools are pinned to one thread by importing
nutpie_common (next to this script) before NumPy. nutpie itself runs chains
on native threads; its default `cores` (min(chains, os.cpu_count())) is kept
and reported as "cores_used".
"""

import os
import sys

# The shared helpers live next to this script; make them importable from any
# working directory. nutpie_common pins the thread pools on import, so it
# must come before NumPy.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nutpie_common  # noqa: E402

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "data", "moons"))

WEIGHTS = ["w_in_1", "w_1_2", "w_2_out"]

DRAWS = 1000
TUNE = 1000
CHAINS = 4
SEED = 0


def load_split():
    """data/moons/*.csv: plain CSV, no header, float64; Y is 0.0 / 1.0."""

    def load(name):
        return np.loadtxt(os.path.join(DATA_DIR, name), delimiter=",", ndmin=2)

    x_train = load("X_train.csv")
    y_train = load("Y_train.csv")[:, 0]
    x_test = load("X_test.csv")
    y_test = load("Y_test.csv")[:, 0]
    assert x_train.shape == (500, 2) and x_test.shape == (500, 2)
    assert y_train.shape == (500,) and y_test.shape == (500,)
    return x_train, y_train, x_test, y_test


def build_model(x_train, y_train):
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        ann_input = pm.Data("ann_input", x_train)
        ann_output = pm.Data("ann_output", y_train)
        w_in_1 = pm.Normal("w_in_1", mu=0.0, sigma=1.0, shape=(2, 5))
        w_1_2 = pm.Normal("w_1_2", mu=0.0, sigma=1.0, shape=(5, 5))
        w_2_out = pm.Normal("w_2_out", mu=0.0, sigma=1.0, shape=(5,))
        act_1 = pt.tanh(pt.dot(ann_input, w_in_1))
        act_2 = pt.tanh(pt.dot(act_1, w_1_2))
        logit = pt.dot(act_2, w_2_out)
        # Bernoulli(p = sigmoid(logit)) parameterised by its logit: the same
        # log density as theon's `bernoulli(sigmoid(...))`, but computed as
        # y*logit - softplus(logit), which does not lose precision (or hit
        # log(0)) when sigmoid saturates.
        pm.Bernoulli("out", logit_p=logit, observed=ann_output)
    return model


def predict_proba(posterior, x):
    """Mean over all draws of p(x) = sigmoid(tanh(tanh(x w1) w2) w3)."""
    w1 = posterior["w_in_1"].values.reshape(-1, 2, 5)
    w2 = posterior["w_1_2"].values.reshape(-1, 5, 5)
    w3 = posterior["w_2_out"].values.reshape(-1, 5)
    a1 = np.tanh(np.einsum("ni,sij->snj", x, w1))
    a2 = np.tanh(np.einsum("snj,sjk->snk", a1, w2))
    logit = np.einsum("snk,sk->sn", a2, w3)
    p = 1.0 / (1.0 + np.exp(-logit))
    return p.mean(axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--tune", type=int, default=TUNE)
    parser.add_argument("--chains", type=int, default=CHAINS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    warnings.filterwarnings("ignore")

    import nutpie

    x_train, y_train, x_test, y_test = load_split()
    model = build_model(x_train, y_train)

    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    t1 = time.perf_counter()
    idata = nutpie.sample(
        compiled,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        progress_bar=False,
    )
    t2 = time.perf_counter()

    compile_s = t1 - t0
    sample_s = t2 - t1
    total_s = t2 - t0

    # ESS, R-hat, divergences and leapfrog steps (= gradient evaluations,
    # tuning included when nutpie stored it).
    stats = nutpie_common.run_stats(idata, WEIGHTS)

    p_test = predict_proba(idata.posterior, x_test)
    test_accuracy = float(np.mean((p_test > 0.5) == (y_test > 0.5)))
    p_train = predict_proba(idata.posterior, x_train)
    train_accuracy = float(np.mean((p_train > 0.5) == (y_train > 0.5)))

    out = {
        "model": "bnn_moons",
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "seed": args.seed,
        "cores_used": nutpie_common.default_cores(args.chains),
        "compile_s": compile_s,
        "sample_s": sample_s,
        "total_s": total_s,
        **stats,
        "ess_bulk_min_over": WEIGHTS,
        "ess_per_s": stats["ess_bulk_min"] / total_s,
        "ess_per_s_sampling": stats["ess_bulk_min"] / sample_s,
        "grad_evals_per_s_sampling": (stats["n_steps"] / sample_s) if stats["n_steps"] else None,
        "test_accuracy": test_accuracy,
        "train_accuracy": train_accuracy,
        **nutpie_common.environment(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
