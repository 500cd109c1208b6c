"""Reference MCMC diagnostics from ArviZ for tests/reference_diagnostics.rs.

Deterministic draws (NumPy seeded) of a few chain sets that stress each
diagnostic, with ArviZ's rank-normalized split R-hat, bulk and tail ESS,
ESS of the mean and MCSE of the mean. Run from the repository root:

    pip install arviz==0.23.4 numpy scipy
    python3 scripts/reference/gen_diagnostics.py

Writes tests/data/reference/diagnostics.csv (one row per case; draws are
chain-major, space-separated, repr() floats).
"""

import arviz as az
import numpy as np

rng = np.random.default_rng(20261127)


def ar1(n_chains, n_draws, phi):
    x = np.zeros((n_chains, n_draws))
    e = rng.standard_normal((n_chains, n_draws))
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi * phi)
    for t in range(1, n_draws):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


cases = {
    "iid_normal": rng.standard_normal((4, 200)),
    "ar1_phi_0.9": ar1(4, 300, 0.9),
    "ar1_phi_-0.3": ar1(4, 200, -0.3),
    "shifted_chains": rng.standard_normal((4, 200)) + 0.6 * np.arange(4)[:, None],
    "cauchy": rng.standard_cauchy((4, 200)),
    "two_short_chains": rng.standard_normal((2, 20)),
    "ties": np.round(rng.standard_normal((4, 100)) * 2) / 2,
    "one_chain": ar1(1, 400, 0.5),
}

rows = ["case,chains,draws,values,rhat,ess_bulk,ess_tail,ess_mean,mcse_mean"]
for name, x in cases.items():
    c, n = x.shape
    ds = az.convert_to_dataset(x[:, :, None] if False else x)
    rhat = float(az.rhat(ds)["x"]) if c > 1 else float("nan")
    ess_bulk = float(az.ess(ds, method="bulk")["x"])
    ess_tail = float(az.ess(ds, method="tail")["x"])
    ess_mean = float(az.ess(ds, method="mean")["x"])
    mcse_mean = float(az.mcse(ds, method="mean")["x"])
    values = " ".join(repr(float(v)) for v in x.ravel())
    rows.append(
        f"{name},{c},{n},{values},{rhat!r},{ess_bulk!r},{ess_tail!r},{ess_mean!r},{mcse_mean!r}"
    )
    print(f"{name}: rhat {rhat:.6f} ess_bulk {ess_bulk:.3f} ess_tail {ess_tail:.3f} "
          f"ess_mean {ess_mean:.3f} mcse_mean {mcse_mean:.6f}")

with open("tests/data/reference/diagnostics.csv", "w") as f:
    f.write("\n".join(rows) + "\n")
print("arviz", az.__version__, "numpy", np.__version__)
