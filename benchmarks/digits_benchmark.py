"""Benchmark: the diffusion classifier on scikit-learn's digits, against its targets, in one run.

    python benchmarks/digits_benchmark.py                # the defaults of python -m toyclf.digits, 3 splits
    python benchmarks/digits_benchmark.py --seeds 0      # one split (about 2 minutes on 2 cores)

Prints, per stratified 70/30 split and averaged over the splits, side by side on this machine:
- test accuracy of the diffusion classifier and of the CV-tuned baselines (logistic regression,
  RBF SVM, k-NN); target: at least the best baseline;
- training time, and the time and denoiser evaluations per test image of each way to spend the
  trials: early stopping (the default), every class on a fixed 64 or 256 trials, and the paper's
  staged elimination (Algorithm 2 with its CIFAR-10 stages: all classes on 50 trials, the best 5
  on 500), each with its accuracy.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import torch
from spirals_benchmark import matmul_seconds, timed

from toyclf.comparison import fit_and_score, format_table, image_baselines
from toyclf.digits import build_parser, digits_classifier, load_digit_split
from toyclf.pruning import StagedElimination

SPENDINGS = {  # name -> (n_trials, pruning)
    "early stopping (default)": (256, "early_stopping"),
    "fixed 64 trials": (64, None),
    "fixed 256 trials": (256, None),
    "staged (50, 500), keep (5, 1)": (500, StagedElimination((50, 500), (5, 1))),
}


def main() -> None:
    defaults = build_parser().parse_args([])  # the command line's defaults are the benchmark's
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one split (and model) per seed")
    args = parser.parse_args()

    unit = matmul_seconds()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"machine unit: one 1024x1024 float32 matmul = {unit * 1e3:.2f} ms ({2 * 1024**3 / unit / 1e9:.0f} GFLOP/s)")

    gaps, rows = [], {name: [] for name in SPENDINGS}
    for seed in args.seeds:
        split = load_digit_split(defaults.test_size, seed)
        diffusion = digits_classifier(
            hidden_size=defaults.hidden_size, max_iter=defaults.steps, n_trials=defaults.trials, random_state=seed
        )
        results = [fit_and_score("diffusion classifier", diffusion, split)]
        results += [fit_and_score(name, baseline, split) for name, baseline in image_baselines().items()]
        print(f"\nsplit seed {seed}: {len(split.X_train)} training, {len(split.X_test)} test images")
        print(format_table(results))
        best = max(results[1:], key=lambda r: r.accuracy)
        gaps.append(100 * (results[0].accuracy - best.accuracy))
        print(
            f"diffusion {results[0].accuracy:.4f} vs best baseline ({best.name}) {best.accuracy:.4f}: "
            f"{gaps[-1]:+.2f} points (target >= 0) {'PASS' if gaps[-1] >= 0 else 'FAIL'}; "
            f"training {results[0].fit_seconds:.1f} s = {results[0].fit_seconds / unit:.0f} matmul units"
        )
        for name, (n_trials, pruning) in SPENDINGS.items():
            clf = diffusion.set_params(n_trials=n_trials, pruning=pruning)
            (errors, trials), seconds = timed(partial(clf.class_errors, return_trials=True), split.X_test)
            accuracy = float(np.mean(clf.classes_[errors.argmin(1)] == split.y_test))
            rows[name].append((accuracy, trials.sum(1).mean(), seconds))
            print(
                f"  {name:<30} accuracy {accuracy:.4f}, {trials.sum(1).mean():6.0f} evaluations per image, "
                f"{seconds:5.1f} s for {len(split.X_test)} images"
            )

    print(f"\nmean over {len(args.seeds)} split(s): diffusion minus best baseline {np.mean(gaps):+.2f} points")
    early = np.mean([r[1] for r in rows["early stopping (default)"]])
    for name, values in rows.items():
        accuracy, evaluations, seconds = np.mean(values, axis=0)
        print(
            f"  {name:<30} accuracy {accuracy:.4f}, {evaluations:6.0f} evaluations per image "
            f"({evaluations / early:4.1f} x early stopping), {seconds:5.1f} s"
        )


if __name__ == "__main__":
    main()
