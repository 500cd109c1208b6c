#!/usr/bin/env python3
"""Write data/digits/digits.npz from scikit-learn's bundled digits data.

sklearn.datasets.load_digits(): 1797 8x8 grayscale images, integer pixels
0..16, 10 classes. Writes two int64 arrays with np.savez_compressed:
  x  (1797, 64)  each row is one image, row-major 8x8
  y  (1797,)     the digit, 0..9
Run from anywhere (the output path is found from this file's location):

    python3 scripts/reference/gen_digits.py

The array values are the same under any NumPy / scikit-learn version that
bundles this data. The .npz bytes are NOT guaranteed to be identical across
NumPy (or zlib) versions, because the zip headers and compression may differ.
Made with scikit-learn 1.9.1, NumPy 2.4.6.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

out = Path(__file__).resolve().parents[2] / "data" / "digits" / "digits.npz"
d = load_digits()
x = d.data.astype(np.int64)  # load_digits gives float64 holding whole numbers
y = d.target.astype(np.int64)
assert x.shape == (1797, 64) and y.shape == (1797,)
assert np.array_equal(x, d.data) and np.array_equal(x.reshape(-1, 8, 8), d.images)
out.parent.mkdir(parents=True, exist_ok=True)
np.savez_compressed(out, x=x, y=y)

with np.load(out) as f:  # reload and check
    assert sorted(f.files) == ["x", "y"]
    assert f["x"].dtype == np.int64 and f["y"].dtype == np.int64
    assert np.array_equal(f["x"], x) and np.array_equal(f["y"], d.target)
print(f"{out}: {out.stat().st_size} bytes")
print("class counts:", np.bincount(y).tolist())
print("pixel sum:", int(x.sum()))
