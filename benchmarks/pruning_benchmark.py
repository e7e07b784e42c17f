"""Benchmark: early stopping against the paper's staged elimination on a 10-class problem, in one run.

    python benchmarks/pruning_benchmark.py

Trains the default DiffusionClassifier on 10 overlapping Gaussian blobs in 2D and classifies a
held-out set three ways on the same nested plan of 500 trials per class: every class on all 500
(Algorithm 1), the paper's CIFAR-10 schedule ``trials=(50, 500), to_keep=(5, 1)``
(Algorithm 2: 2,750 evaluations per point), and per-point early stopping (at most 500 trials).
Prints accuracy, exact denoiser evaluations per point and seconds for each
(target: early stopping needs at least 3 x fewer evaluations than staged, at equal accuracy).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split

from toyclf import DiffusionClassifier
from toyclf.pruning import EarlyStopping, StagedElimination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=6000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, y = make_blobs(args.n_samples + args.n_test, centers=10, cluster_std=1.0, random_state=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.n_test, stratify=y, random_state=args.seed)
    start = time.perf_counter()
    clf = DiffusionClassifier(random_state=args.seed).fit(X_train, y_train)
    print(
        f"10 blobs, {len(X_train)} training / {len(X_test)} test points; training {time.perf_counter() - start:.1f} s"
    )

    rules = {
        "all 500 trials (Algorithm 1)": None,
        "staged (50, 500), (5, 1) (Algorithm 2)": StagedElimination((50, 500), (5, 1)),
        "early stopping, at most 500": EarlyStopping(),
    }
    results = {}
    for name, rule in rules.items():
        start = time.perf_counter()
        errors, trials = clf.set_params(n_trials=500, pruning=rule).class_errors(X_test, return_trials=True)
        seconds = time.perf_counter() - start
        predicted = clf.classes_[np.argmin(errors, axis=1)]
        results[name] = (np.mean(predicted == y_test), trials.sum(1).mean(), seconds, predicted)
    reference = results["all 500 trials (Algorithm 1)"][3]
    print(f"{'':40s} accuracy  agreement  evaluations/point  seconds")
    for name, (accuracy, evaluations, seconds, predicted) in results.items():
        agreement = np.mean(predicted == reference)
        print(f"{name:40s} {accuracy:8.4f}  {100 * agreement:8.2f}%  {evaluations:17.1f}  {seconds:7.1f}")

    staged, early = results["staged (50, 500), (5, 1) (Algorithm 2)"], results["early stopping, at most 500"]
    ratio = staged[1] / early[1]
    print(
        f"\nearly stopping: {ratio:.1f} x fewer evaluations than staged elimination (target >= 3) "
        f"{'PASS' if ratio >= 3 else 'FAIL'}, accuracy {early[0]:.4f} vs {staged[0]:.4f} "
        f"({'PASS' if early[0] >= staged[0] - 0.002 else 'FAIL'}: equal within 0.2 points)"
    )


if __name__ == "__main__":
    main()
