#!/usr/bin/env python3
"""Read a theon trace (.npz from `Trace::save_npz`) into ArviZ and print its
posterior group and each variable's mean. Usage: python3 scripts/arviz_trace.py target/bnn_moons/trace.npz

Each array is (chain, draw, ...). ArviZ 1.x takes the groups as one dict,
`az.from_dict({"posterior": ...})`; ArviZ 0.x took keyword groups,
`az.from_dict(posterior=...)` (and would read the 1.x form as one variable
named "posterior"), so the version decides.
"""
import sys

import arviz as az
import numpy as np


def load(path):
    posterior = dict(np.load(path))
    if int(az.__version__.split(".")[0]) >= 1:
        return az.from_dict({"posterior": posterior})
    # ArviZ 0.x: its first positional argument *is* the posterior group.
    return az.from_dict(posterior=posterior)


if __name__ == "__main__":
    data = load(sys.argv[1])
    print(data.posterior)
    # Posterior means by variable (a check that the draws arrived).
    for name, values in data.posterior.data_vars.items():
        print(name, float(values.mean()))
