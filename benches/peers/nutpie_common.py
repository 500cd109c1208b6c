"""Shared helpers for the nutpie peer benchmarks in this directory.

Importing this module pins the BLAS/OpenMP/numba thread pools to one thread
(environment variables, set only if not already set). It imports nothing
heavy, so a script must import it BEFORE NumPy (or anything that imports
NumPy) for the pinning to take effect:

    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import nutpie_common  # noqa: E402  (must precede numpy)
"""

import os

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def pin_threads() -> None:
    """Set every THREAD_ENV_VARS entry to "1" unless already set (idempotent)."""
    for var in THREAD_ENV_VARS:
        os.environ.setdefault(var, "1")


pin_threads()


def default_cores(chains: int) -> int:
    """Replicates nutpie.sample's default for cores=None."""
    try:
        available = os.process_cpu_count()  # Python >= 3.13
    except AttributeError:
        available = os.cpu_count()
    return min(chains, int(available))


def run_stats(idata, var_names) -> dict:
    """Convergence and cost statistics of a nutpie InferenceData.

    Returns a dict with
      ess_bulk_min    min bulk ESS over every element of var_names,
      r_hat_max       max R-hat over every element of var_names,
      divergences     divergent kept draws, summed over chains,
      n_steps_draws   leapfrog steps (= gradient evaluations) of the kept
                      draws, summed over chains (None if not recorded),
      n_steps_tuning  the same for the tuning draws, from
                      idata.warmup_sample_stats (None if not stored),
      n_steps         n_steps_draws + n_steps_tuning when both exist, else
                      n_steps_draws,
      n_steps_scope   "tuning_plus_draws", "kept_draws_only" or None.
    """
    import arviz as az

    var_names = list(var_names)
    ess = az.ess(idata, var_names=var_names, method="bulk")
    ess_bulk_min = float(min(float(ess[v].min()) for v in var_names))

    rhat = az.rhat(idata, var_names=var_names)
    r_hat_max = float(max(float(rhat[v].max()) for v in var_names))

    divergences = int(idata.sample_stats["diverging"].sum())

    # nutpie records `n_steps` per draw; with save_warmup=True (its default)
    # the tuning draws' stats are in idata.warmup_sample_stats.
    n_steps = n_steps_scope = n_steps_draws = n_steps_tuning = None
    if "n_steps" in idata.sample_stats:
        n_steps_draws = int(idata.sample_stats["n_steps"].sum())
        n_steps = n_steps_draws
        n_steps_scope = "kept_draws_only"
        if hasattr(idata, "warmup_sample_stats") and (
            "n_steps" in idata.warmup_sample_stats
        ):
            n_steps_tuning = int(idata.warmup_sample_stats["n_steps"].sum())
            n_steps = n_steps_draws + n_steps_tuning
            n_steps_scope = "tuning_plus_draws"

    return {
        "ess_bulk_min": ess_bulk_min,
        "r_hat_max": r_hat_max,
        "divergences": divergences,
        "n_steps": n_steps,
        "n_steps_scope": n_steps_scope,
        "n_steps_draws": n_steps_draws,
        "n_steps_tuning": n_steps_tuning,
    }


def environment():
    """The versions and thread settings every peer result reports."""
    import arviz as az
    import numpy as np
    import nutpie
    import pymc as pm

    return {
        "nutpie_version": nutpie.__version__,
        "pymc_version": pm.__version__,
        "numpy_version": np.__version__,
        "arviz_version": az.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_count": os.cpu_count(),
    }
