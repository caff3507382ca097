#!/usr/bin/python3
"""Reference values for the metrics parity test (tests/metrics/sklearn_parity_test.cpp).

Writes JSON to argv[1]: a list of cases {name, k, y_true, y_pred, uf1, uar, accuracy, precision, recall, f1}
with scikit-learn's macro F1 over the DEFINED classes (a class is defined when it occurs in the labels or
the predictions: methods.md §2), macro recall over the classes that occur in the labels, accuracy, and the
per-class values (null where the class is undefined for that value). Run with Debian's /usr/bin/python3
(python3-sklearn). Deterministic: fixed seed, no clock.
"""
import json
import random
import sys
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, recall_score


def case(name, k, y_true, y_pred):
    assert len(y_true) == len(y_pred) > 0
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    f1_labels = sorted(set(y_true) | set(y_pred))
    recall_labels = sorted(set(y_true))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        uf1 = f1_score(t, p, labels=f1_labels, average="macro", zero_division=0)
        uar = recall_score(t, p, labels=recall_labels, average="macro", zero_division=0)
        prec, rec, f1, _ = precision_recall_fscore_support(t, p, labels=list(range(k)), average=None,
                                                           zero_division=0)
    support = [int(np.sum(t == c)) for c in range(k)]
    predicted = [int(np.sum(p == c)) for c in range(k)]
    return {
        "name": name,
        "k": k,
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "uf1": float(uf1),
        "uar": float(uar),
        "accuracy": float(accuracy_score(t, p)),
        "precision": [float(prec[c]) if predicted[c] > 0 else None for c in range(k)],
        "recall": [float(rec[c]) if support[c] > 0 else None for c in range(k)],
        "f1": [float(f1[c]) if support[c] + predicted[c] > 0 else None for c in range(k)],
    }


def main():
    cases = [
        case("all right", 3, [0, 1, 2, 0, 1, 2], [0, 1, 2, 0, 1, 2]),
        case("all wrong", 3, [0, 1, 2, 0, 1, 2], [1, 2, 0, 2, 0, 1]),
        case("all wrong two classes", 2, [0, 0, 1], [1, 1, 0]),
        case("single sample right", 3, [1], [1]),
        case("single sample wrong", 3, [1], [2]),
        case("class absent from labels but predicted", 3, [0, 0, 1, 1], [0, 2, 1, 1]),
        case("class absent from predictions", 3, [0, 1, 2, 2], [0, 1, 1, 0]),
        case("class absent from both", 3, [0, 1, 1, 0], [0, 1, 0, 0]),
        case("two classes absent from both", 5, [1, 3, 3, 1, 3], [1, 3, 1, 1, 3]),
        case("absent from labels and another absent from predictions", 4, [0, 0, 1, 2, 2], [0, 3, 1, 1, 1]),
        case("everything predicted as one class", 3, [0, 1, 2, 2, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0]),
        case("one class only, all right", 3, [2, 2, 2], [2, 2, 2]),
        case("one class only, all wrong", 3, [2, 2, 2], [0, 1, 0]),
        case("MEGC-like imbalance", 3, [0] * 20 + [1] * 5 + [2] * 3, [0] * 15 + [1] * 5 + [1] * 3 + [2] * 2 + [2] * 2 + [0]),
    ]
    rng = random.Random(20190514)  # fixed: the cases never change between runs
    while len(cases) < 64:
        i = len(cases)
        k = rng.choice([2, 3, 3, 3, 4, 5, 7])
        n = rng.choice([1, 2, 3, 5, 8, 13, 40, 120])
        present = rng.sample(range(k), rng.randint(1, k))  # some classes may be absent from the labels
        y_true = [rng.choice(present) for _ in range(n)]
        accuracy = rng.random()
        y_pred = [t if rng.random() < accuracy else rng.randrange(k) for t in y_true]
        cases.append(case("random %d (k=%d, n=%d)" % (i, k, n), k, y_true, y_pred))
    with open(sys.argv[1], "w") as f:
        json.dump(cases, f, indent=0)


if __name__ == "__main__":
    main()
