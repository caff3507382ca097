#!/usr/bin/python3
"""Writes tests/stats/expected.json: paired t-test and Wilcoxon signed-rank results computed by SciPy, the
independent reference for tests/stats/stats_test.cpp.

Run with Debian's python3 (python3-scipy 1.10.1):  /usr/bin/python3 tests/stats/gen_expected.py
The output is checked in; rerun only when the cases below change.

Wilcoxon method: merx drops zero differences, then uses the exact distribution when n <= 25 and no |d| are
tied, else the normal approximation with continuity correction and tie correction (issue 7). SciPy 1.10's
method='auto' differs (exact up to n = 50 even with ties, approx as soon as a zero is present), so this
script applies merx's rule explicitly: it drops the zeros itself and passes method='exact' or 'approx'.
With the zeros already dropped, zero_method='wilcox' changes nothing but is passed as the issue says.
"""
import json
import os
import warnings

import numpy as np
import scipy
from scipy import stats


def case(name, a, b):
    a = [float(x) for x in a]
    b = [float(x) for x in b]
    d = np.array(a) - np.array(b)
    nz = d[d != 0]
    out = {"name": name, "a": a, "b": b}
    # paired t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = stats.ttest_rel(a, b)
    tt = {"mean_difference": float(np.mean(d)) if len(d) else 0.0}
    if len(d) >= 2 and not np.isnan(t.statistic):
        ci = t.confidence_interval(0.95)
        # JSON has no infinity: a constant non-zero difference gives t = +/-inf, written as a string.
        stat = float(t.statistic) if np.isfinite(t.statistic) else ("inf" if t.statistic > 0 else "-inf")
        tt.update(t=stat, p=float(t.pvalue), df=float(t.df), ci_low=float(ci.low), ci_high=float(ci.high))
    else:
        tt.update(t=None, p=None)
    out["ttest_rel"] = tt
    # Wilcoxon
    w = {"n": int(len(nz)), "n_zero": int(len(d) - len(nz))}
    if len(nz) == 0:
        w.update(p=None)
    else:
        ties = len(np.unique(np.abs(nz))) < len(nz)
        exact = len(nz) <= 25 and not ties
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sample size too small for normal approximation"
            r = stats.wilcoxon(nz, zero_method="wilcox", alternative="two-sided", correction=True,
                               method="exact" if exact else "approx")
        w.update(exact=bool(exact), ties=bool(ties), statistic=float(r.statistic), p=float(r.pvalue))
        if not exact:
            w["z"] = float(r.zstatistic)
    out["wilcoxon"] = w
    return out


def main():
    rng = np.random.default_rng(20261130)
    cases = []
    # Hand-made small cases.
    cases.append(case("n1_positive", [0.6], [0.5]))
    cases.append(case("n2_mixed", [0.6, 0.4], [0.5, 0.45]))
    cases.append(case("all_zero_differences", [0.5, 0.4, 0.3], [0.5, 0.4, 0.3]))
    cases.append(case("one_nonzero_among_zeros", [0.5, 0.4, 0.3], [0.5, 0.4, 0.2]))
    cases.append(case("constant_positive_difference", [0.5, 0.75, 0.25], [0.25, 0.5, 0.0]))
    cases.append(case("ties_and_zeros", [1, 2, 3, 4, 5, 6, 7, 8], [0, 1, 3, 2, 5, 4, 8, 6]))
    cases.append(case("centre_statistic", [1, 2, 3, 4], [2, 0, 0, 8]))  # R+ = 2+3 = 5 = 4*5/4
    # n = 1..30 continuous (no ties, exact up to 25), rounded to 2 decimals (ties), and with zeros.
    for n in range(1, 31):
        a = rng.uniform(0.2, 0.8, n)
        b = a - rng.normal(0.03, 0.05, n)
        cases.append(case(f"continuous_n{n}", a, b))
        a2 = np.round(rng.uniform(0.2, 0.8, n), 2)
        b2 = np.round(a2 - rng.normal(0.02, 0.04, n), 2)
        cases.append(case(f"rounded_n{n}", a2, b2))
        if n >= 3:
            a3 = rng.uniform(0.2, 0.8, n)
            b3 = a3 - rng.normal(0.0, 0.05, n)
            zeros = rng.choice(n, size=max(1, n // 5), replace=False)
            b3[zeros] = a3[zeros]
            cases.append(case(f"zeros_n{n}", a3, b3))
    # The `merx db compare` fixture of tests/dbtools/compare_test.cpp: target-scope UF1 per (target, seed),
    # in pair order (targets casme2, samm, smic; seeds 1, 2, 3). Keep in sync with that file.
    fixture = {
        "erm": [0.50, 0.52, 0.47, 0.40, 0.43, 0.41, 0.55, 0.51, 0.53],
        "brl": [0.56, 0.55, 0.52, 0.41, 0.47, 0.40, 0.60, 0.55, 0.58],
        "coral": [0.50, 0.54, 0.46, 0.42, 0.43, 0.43, 0.55, 0.50, 0.55],
    }
    cases.append(case("compare_brl_vs_erm", fixture["brl"], fixture["erm"]))
    cases.append(case("compare_coral_vs_erm", fixture["coral"], fixture["erm"]))
    # The seed unit (issue 16): per seed, the mean over the three targets.
    seed_mean = {k: np.array(v).reshape(3, 3).mean(axis=0) for k, v in fixture.items()}
    cases.append(case("compare_seed_brl_vs_erm", seed_mean["brl"], seed_mean["erm"]))
    cases.append(case("compare_seed_coral_vs_erm", seed_mean["coral"], seed_mean["erm"]))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected.json")
    with open(path, "w") as f:
        json.dump({"generator": "tests/stats/gen_expected.py", "scipy": scipy.__version__, "cases": cases}, f,
                  indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
