"""Peer benchmark: nutpie (PyMC front end, numba backend) on the eight-schools model.

Set-up:  pip install pymc nutpie

Usage:
    python eight_schools_nutpie.py              # non-centred parameterisation
    python eight_schools_nutpie.py --centered   # centred parameterisation

Times (a) nutpie.compile_pymc_model(model) and (b) nutpie.sample(...) with
draws=1000, tune=1000, chains=4, seed=0, then prints ONE JSON line with
summary statistics, divergences, min bulk ESS and gradient-evaluation counts.

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

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

DRAWS = 1000
TUNE = 1000
CHAINS = 4
SEED = 0


def build_model(centered: bool):
    import pymc as pm

    with pm.Model() as model:
        mu = pm.Normal("mu", mu=0.0, sigma=5.0)
        tau = pm.HalfCauchy("tau", beta=5.0)
        if centered:
            theta = pm.Normal("theta", mu=mu, sigma=tau, shape=8)
        else:
            theta_t = pm.Normal("theta_t", mu=0.0, sigma=1.0, shape=8)
            theta = pm.Deterministic("theta", mu + tau * theta_t)
        pm.Normal("y", mu=theta, sigma=SIGMA, observed=Y)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--centered", action="store_true", help="use the centred parameterisation"
    )
    args = parser.parse_args()

    warnings.filterwarnings("ignore")

    import arviz as az
    import nutpie

    model = build_model(args.centered)

    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    t1 = time.perf_counter()
    idata = nutpie.sample(
        compiled,
        draws=DRAWS,
        tune=TUNE,
        chains=CHAINS,
        seed=SEED,
        progress_bar=False,
    )
    t2 = time.perf_counter()

    compile_s = t1 - t0
    sample_s = t2 - t1
    total_s = t2 - t0

    summ = az.summary(idata, var_names=["mu", "tau"], kind="all", round_to="none")

    free_vars = [rv.name for rv in model.free_RVs]
    ess_vars = list(dict.fromkeys(free_vars + ["theta"]))
    stats = nutpie_common.run_stats(idata, ess_vars)
    ess_bulk_min = stats["ess_bulk_min"]
    r_hat_max = stats["r_hat_max"]
    divergences = stats["divergences"]

    # Gradient evaluations: one per leapfrog step (n_steps), summed over all
    # chains; warm-up included when nutpie stored it (save_warmup=True default).
    n_grad_evals = stats["n_steps"]
    n_grad_evals_scope = stats["n_steps_scope"]

    out = {
        "model": "eight_schools_centered" if args.centered else "eight_schools_noncentered",
        "draws": DRAWS,
        "tune": TUNE,
        "chains": CHAINS,
        "seed": SEED,
        "cores_used": nutpie_common.default_cores(CHAINS),
        "compile_s": compile_s,
        "sample_s": sample_s,
        "total_s": total_s,
        "mu_mean": float(summ.loc["mu", "mean"]),
        "mu_sd": float(summ.loc["mu", "sd"]),
        "mu_ess_bulk": float(summ.loc["mu", "ess_bulk"]),
        "mu_r_hat": float(summ.loc["mu", "r_hat"]),
        "tau_mean": float(summ.loc["tau", "mean"]),
        "tau_sd": float(summ.loc["tau", "sd"]),
        "tau_ess_bulk": float(summ.loc["tau", "ess_bulk"]),
        "tau_r_hat": float(summ.loc["tau", "r_hat"]),
        "divergences": divergences,
        "ess_bulk_min": ess_bulk_min,
        "ess_bulk_min_over": ess_vars,
        "r_hat_max": r_hat_max,
        "ess_per_s": ess_bulk_min / total_s,
        "ess_per_s_sampling": ess_bulk_min / sample_s,
        "n_grad_evals": n_grad_evals,
        "n_grad_evals_scope": n_grad_evals_scope,
        "grad_evals_per_s": (n_grad_evals / sample_s) if n_grad_evals else None,
        **nutpie_common.environment(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
