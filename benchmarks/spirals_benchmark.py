"""Benchmark: the diffusion classifier on the default spirals, against its targets, in one run.

    python benchmarks/spirals_benchmark.py            # the defaults of python -m toyclf.spirals

Prints, side by side on this machine:
- held-out accuracy of the diffusion classifier and of the tuned scikit-learn baselines
  (target: within 0.3 percentage points of the best baseline);
- training time (target: at most 20 s on 2 cores);
- the time of the 200 x 200 decision map with the defaults (early stopping, at most 256 trials per
  class; target: at most 10 s), also as a multiple of this machine's own 1024 x 1024 float32
  matrix-multiply time, its denoiser evaluations per point, and its agreement with the map from
  1024 trials per class (target: at least 99.5 %);
- the same for a fixed number of trials per point (64, the paper's way, and the 256 that early
  stopping may go up to): evaluations saved at equal agreement;
- the agreement of 64 fixed trials with the paper's independent Gaussian noise and with
  antithetic pairs, at equal cost (why the default draws the noise from a scrambled Sobol sequence);
- the cost-agreement frontier of early stopping: looser error rates and earlier first looks,
  down to tests that are no longer valid (error_rate 0.99), against a 2 s map.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from toyclf import DiffusionClassifier
from toyclf.lecture.experiments.comparison import baseline_classifiers, fit_and_score, format_table, make_split
from toyclf.mapping import make_grid
from toyclf.pruning import EarlyStopping
from toyclf.spirals import build_parser


def matmul_seconds(n: int = 1024, repeats: int = 20) -> float:
    """Median seconds of one n x n float32 matrix multiply on this machine (the unit of speed)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    defaults = build_parser().parse_args([])  # the command line's defaults are the benchmark's
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-trials", type=int, default=1024)
    args = parser.parse_args()

    unit = matmul_seconds()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"machine unit: one 1024x1024 float32 matmul = {unit * 1e3:.2f} ms ({2 * 1024**3 / unit / 1e9:.0f} GFLOP/s)")

    split = make_split(defaults.dataset, defaults.n_samples, defaults.n_test, random_state=defaults.seed)
    pruning = None if defaults.pruning == "none" else defaults.pruning
    diffusion = DiffusionClassifier(
        max_iter=defaults.steps, n_trials=defaults.trials, pruning=pruning, random_state=defaults.seed
    )
    results = [fit_and_score("diffusion classifier", diffusion, split)]
    results += [fit_and_score(name, clf, split) for name, clf in baseline_classifiers(defaults.seed).items()]
    print(format_table(results))

    best = max(results[1:], key=lambda r: r.accuracy)
    gap = 100 * (results[0].accuracy - best.accuracy)
    print(
        f"\naccuracy: diffusion {results[0].accuracy:.4f} vs best baseline ({best.name}) {best.accuracy:.4f}: "
        f"{gap:+.2f} points (target >= -0.30) {'PASS' if gap >= -0.3 else 'FAIL'}"
    )
    print(
        f"training: {results[0].fit_seconds:.1f} s (target <= 20 s) {'PASS' if results[0].fit_seconds <= 20 else 'FAIL'}"
    )

    _, _, grid = make_grid(np.vstack([split.X_train, split.X_test]), defaults.grid)
    reference, ref_seconds = timed(diffusion.set_params(n_trials=args.reference_trials, pruning=None).predict, grid)
    print(
        f"\nreference map {defaults.grid}x{defaults.grid}, {args.reference_trials} trials per class: {ref_seconds:.1f} s"
    )

    def decision_map(n_trials: int, pruning, noise_sampling: str = "sobol") -> tuple[float, float, float]:
        """Seconds, denoiser evaluations per point and agreement with the reference of one map."""
        clf = diffusion.set_params(n_trials=n_trials, pruning=pruning, noise_sampling=noise_sampling)
        (errors, trials), seconds = timed(lambda: clf.class_errors(grid, return_trials=True))
        decision = clf.classes_[np.argmin(errors, axis=1)]
        return seconds, trials.sum(1).mean(), float(np.mean(decision == reference))

    seconds, evaluations, agreement = decision_map(defaults.trials, pruning)
    print(
        f"default map ({pruning}, at most {defaults.trials} trials per class): {seconds:.2f} s "
        f"(target <= 10 s) {'PASS' if seconds <= 10 else 'FAIL'} = {seconds / unit:.0f} x the 1024^3 matmul; "
        f"{evaluations:.1f} evaluations per point; agreement {100 * agreement:.2f} % "
        f"(target >= 99.5 %) {'PASS' if agreement >= 0.995 else 'FAIL'}"
    )
    for n_trials in (64, defaults.trials):
        fixed_seconds, fixed_evaluations, fixed_agreement = decision_map(n_trials, None)
        print(
            f"fixed {n_trials} trials per class: {fixed_seconds:.2f} s, {fixed_evaluations:.0f} evaluations per point, "
            f"agreement {100 * fixed_agreement:.2f} %; early stopping uses {fixed_evaluations / evaluations:.1f} x fewer "
            f"evaluations ({fixed_seconds / seconds:.1f} x less time)"
        )
    for sampling in ("gaussian", "antithetic"):
        _, _, other = decision_map(64, None, sampling)
        print(f"fixed 64 trials, noise_sampling={sampling!r}: agreement {100 * other:.2f} %")

    print("\nheld-out accuracy against denoiser evaluations per test point:")
    for n_trials in (4, 8, 16, 32, 64, defaults.trials):
        clf = diffusion.set_params(n_trials=n_trials, pruning=None, noise_sampling="sobol")
        (errors, trials), _ = timed(lambda clf=clf: clf.class_errors(split.X_test, return_trials=True))
        accuracy = np.mean(clf.classes_[np.argmin(errors, axis=1)] == split.y_test)
        print(
            f"  fixed {n_trials:3d} trials per class: accuracy {accuracy:.4f}, {trials.sum(1).mean():6.1f} evaluations"
        )
    clf = diffusion.set_params(n_trials=defaults.trials, pruning=pruning)
    errors, trials = clf.class_errors(split.X_test, return_trials=True)
    accuracy = np.mean(clf.classes_[np.argmin(errors, axis=1)] == split.y_test)
    print(
        f"  early stopping, at most {defaults.trials}: accuracy {accuracy:.4f}, {trials.sum(1).mean():6.1f} evaluations"
    )

    print(f"\nearly stopping frontier (at most {defaults.trials} trials; the 2 s target needs both columns at once):")
    for error_rate, min_trials in ((0.05, 8), (0.2, 8), (0.5, 8), (0.9, 8), (0.99, 8), (0.5, 4), (0.99, 4), (0.99, 2)):
        rule = EarlyStopping(error_rate=error_rate, min_trials=min_trials)
        seconds, evaluations, agreement = decision_map(defaults.trials, rule)
        print(
            f"  error_rate {error_rate:4}, min_trials {min_trials}: {seconds:5.2f} s, {evaluations:5.1f} evaluations "
            f"per point, agreement {100 * agreement:.2f} % {'(>= 99.5 %)' if agreement >= 0.995 else ''}"
        )


if __name__ == "__main__":
    main()
