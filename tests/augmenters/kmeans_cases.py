#!/usr/bin/python3
"""Reference values for the au_gan K-means test (tests/augmenters/kmeans_test.cpp).

Writes tests/augmenters/kmeans_cases.json (checked in; rerun after changing a case):
a list of cases {name, n, dim, k, x [n*dim], init [k*dim], centres [k*dim], labels [n], inertia} where
centres, labels and inertia are scikit-learn's KMeans(init=init, n_init=1, algorithm="lloyd", tol=0,
max_iter=300) on x. Run with Debian's /usr/bin/python3 (python3-sklearn, python3-numpy). Deterministic.
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans


def case(name, x, init_rows):
    x = np.asarray(x, dtype=np.float64)
    init = x[init_rows].copy()
    km = KMeans(n_clusters=len(init_rows), init=init, n_init=1, algorithm="lloyd", tol=0.0, max_iter=300)
    km.fit(x)
    counts = np.bincount(km.labels_, minlength=len(init_rows))
    assert (counts > 0).all(), name + ": an empty cluster (relocation rules differ; pick another case)"
    return {
        "name": name,
        "n": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "k": len(init_rows),
        "x": [float(v) for v in x.ravel()],
        "init": [float(v) for v in init.ravel()],
        "centres": [float(v) for v in km.cluster_centers_.ravel()],
        "labels": [int(v) for v in km.labels_],
        "inertia": float(km.inertia_),
        "sklearn_n_iter": int(km.n_iter_),
    }


def main():
    rng = np.random.default_rng(20261130)
    cases = []
    # 2-D, small enough to check by eye.
    cases.append(case("two_d_k2", [[0, 0], [0, 1], [1, 0], [5, 5], [5, 6], [6, 5], [2.5, 2.4], [3, 3]], [0, 1]))
    # 12-D AU-like vectors (0..5), three separated patterns plus noise, k = 3 from poor initial rows.
    centres = np.array([[4, 3, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0],
                        [0, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0],
                        [0, 0, 4, 0, 0, 3, 0, 0, 0, 0, 2, 3]], dtype=np.float64)
    x = np.clip(np.repeat(centres, 10, axis=0) + rng.normal(0, 0.6, (30, 12)), 0, 5).round(3)
    cases.append(case("au12_k3", x, [0, 1, 2]))
    # Overlapping clusters: several Lloyd iterations.
    x = np.clip(rng.normal(2.5, 1.2, (40, 12)), 0, 5).round(3)
    cases.append(case("au12_overlap_k4", x, [0, 5, 10, 15]))
    # Uniform data, k = 5.
    x = rng.uniform(0, 5, (60, 12)).round(3)
    cases.append(case("uniform_k5", x, [3, 14, 27, 41, 58]))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "kmeans_cases.json")
    with open(out, "w") as f:
        json.dump({"generator": "tests/augmenters/kmeans_cases.py", "sklearn": sklearn.__version__,
                   "numpy": np.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
