"""Benchmark: the diffusion classifier on scikit-learn's digits, against its targets, in one run.

    python benchmarks/digits_benchmark.py                # the defaults of python -m toyclf.digits, 10 splits
    python benchmarks/digits_benchmark.py --seeds 0      # one split (about 3 minutes on 2 cores)

Prints, per stratified 70/30 split and over all splits, side by side on this machine:
- test accuracy of the diffusion classifier and of the CV-tuned baselines (logistic regression,
  RBF SVM, k-NN); target: at least the best baseline. On 540 test images one image is 0.19
  points, which is what the diffusion classifier and the SVM differ by on a typical split, in
  either direction; so the summary gives the mean over splits, the paired difference with its
  standard error, and how many splits each side wins;
- training time, and (on the first ``--spending-splits`` splits) the time and denoiser
  evaluations per test image of each way to spend the trials: early stopping (the default),
  every class on a fixed 64 or 256 trials, and the paper's staged elimination (Algorithm 2 with
  its CIFAR-10 stages: all classes on 50 trials, the best 5 on 500), each with its accuracy.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import torch
from spirals_benchmark import matmul_seconds, timed

from toyclf.digits import build_parser
from toyclf.lecture.digits import digits_classifier, load_digit_split
from toyclf.lecture.experiments.comparison import fit_and_score, format_table, image_baselines
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
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)), help="one split (and model) per seed")
    parser.add_argument(
        "--spending-splits", type=int, default=3, help="compare the ways to spend trials on this many splits"
    )
    args = parser.parse_args()

    unit = matmul_seconds()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"machine unit: one 1024x1024 float32 matmul = {unit * 1e3:.2f} ms ({2 * 1024**3 / unit / 1e9:.0f} GFLOP/s)")

    accuracies, rows = {}, {name: [] for name in SPENDINGS}  # classifier -> one accuracy per split
    for i, seed in enumerate(args.seeds):
        split = load_digit_split(defaults.test_size, seed)
        diffusion = digits_classifier(
            hidden_size=defaults.hidden_size, max_iter=defaults.steps, n_trials=defaults.trials, random_state=seed
        )
        results = [fit_and_score("diffusion classifier", diffusion, split)]
        results += [fit_and_score(name, baseline, split) for name, baseline in image_baselines().items()]
        print(f"\nsplit seed {seed}: {len(split.X_train)} training, {len(split.X_test)} test images")
        print(format_table(results))
        for result in results:
            accuracies.setdefault(result.name, []).append(result.accuracy)
        best = max(results[1:], key=lambda r: r.accuracy)
        gap = 100 * (results[0].accuracy - best.accuracy)
        print(
            f"diffusion {results[0].accuracy:.4f} vs best baseline ({best.name}) {best.accuracy:.4f}: "
            f"{gap:+.2f} points ({gap * len(split.y_test) / 100:+.0f} test images); "
            f"training {results[0].fit_seconds:.1f} s = {results[0].fit_seconds / unit:.0f} matmul units"
        )
        if i >= args.spending_splits:
            continue
        for name, (n_trials, pruning) in SPENDINGS.items():
            clf = diffusion.set_params(n_trials=n_trials, pruning=pruning)
            (errors, trials), seconds = timed(partial(clf.class_errors, return_trials=True), split.X_test)
            accuracy = float(np.mean(clf.classes_[errors.argmin(1)] == split.y_test))
            rows[name].append((accuracy, trials.sum(1).mean(), seconds))
            print(
                f"  {name:<30} accuracy {accuracy:.4f}, {trials.sum(1).mean():6.0f} evaluations per image, "
                f"{seconds:5.1f} s for {len(split.X_test)} images"
            )

    print(f"\ntest accuracy over {len(args.seeds)} split(s) (seeds {', '.join(map(str, args.seeds))}):")
    print(accuracy_summary(accuracies))
    print(f"\nways to spend the trials, mean over {min(args.spending_splits, len(args.seeds))} split(s):")
    early = np.mean([r[1] for r in rows["early stopping (default)"]])
    for name, values in rows.items():
        accuracy, evaluations, seconds = np.mean(values, axis=0)
        print(
            f"  {name:<30} accuracy {accuracy:.4f}, {evaluations:6.0f} evaluations per image "
            f"({evaluations / early:4.1f} x early stopping), {seconds:5.1f} s"
        )


def accuracy_summary(accuracies: dict[str, list[float]]) -> str:
    """Mean accuracy of every classifier, then the diffusion classifier (the first) against each
    baseline and against the best baseline of every split: mean paired difference in points with
    its standard error, and splits won / tied / lost. The target is a mean difference >= 0."""
    names = list(accuracies)
    diffusion = 100 * np.array(accuracies[names[0]])  # [splits]
    baselines = {name: 100 * np.array(accuracies[name]) for name in names[1:]}
    baselines["best baseline of each split"] = np.max(list(baselines.values()), axis=0)
    lines = [f"  {name:<30} mean {100 * np.mean(values):.2f} %" for name, values in accuracies.items()]
    for name, values in baselines.items():
        difference = diffusion - values  # [splits]
        error = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else float("nan")
        won, tied = int(np.sum(difference > 1e-9)), int(np.sum(np.abs(difference) <= 1e-9))
        lines.append(
            f"  diffusion - {name:<28} {difference.mean():+.2f} +- {error:.2f} points "
            f"(won {won}, tied {tied}, lost {len(difference) - won - tied})"
        )
    verdict = diffusion.mean() - baselines["best baseline of each split"].mean()
    lines.append(f"  target: mean difference to the best baseline >= 0: {'MET' if verdict >= 0 else 'NOT MET'}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
