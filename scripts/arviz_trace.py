#!/usr/bin/env python3
"""Read a theon trace (.npz from `Trace::save_npz`) into ArviZ and print its
posterior group and each variable's mean. Usage: python3 scripts/arviz_trace.py target/bnn_moons/trace.npz

Each array is (chain, draw, ...); members named `sample_stats/<name>` (NUTS
traces: diverging, step_size, n_steps, tree_depth, energy, mean_tree_accept)
form the sample_stats group; `energy` is what ArviZ's `bfmi` reads. ArviZ 1.x takes the groups as one dict,
`az.from_dict({"posterior": ...})`; ArviZ 0.x took keyword groups,
`az.from_dict(posterior=...)` (and would read the 1.x form as one variable
named "posterior"), so the version decides.
"""
import sys

import arviz as az
import numpy as np


def load(path):
    arrays = dict(np.load(path))
    prefix = "sample_stats/"
    stats = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    posterior = {k: v for k, v in arrays.items() if not k.startswith(prefix)}
    groups = {"posterior": posterior}
    if stats:
        groups["sample_stats"] = stats
    if int(az.__version__.split(".")[0]) >= 1:
        return az.from_dict(groups)
    # ArviZ 0.x: keyword groups (its first positional argument *is* the
    # posterior group).
    return az.from_dict(**groups)


if __name__ == "__main__":
    data = load(sys.argv[1])
    print(data.posterior)
    # Posterior means by variable (a check that the draws arrived).
    for name, values in data.posterior.data_vars.items():
        print(name, float(values.mean()))
    if "sample_stats" in data.groups():
        print("divergences", int(data.sample_stats["diverging"].sum()))
        if "energy" in data.sample_stats:
            print("bfmi per chain", az.bfmi(data))
        print(az.summary(data, kind="diagnostics"))
