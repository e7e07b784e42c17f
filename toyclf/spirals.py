"""python -m toyclf.spirals: train a diffusion classifier on 2D data, compare, draw the figures.

Makes interlaced spirals (or moons, circles, blobs), trains the conditional MLP noise predictor,
classifies a held-out test set with the Monte Carlo Bayes estimator, fits scikit-learn baselines
on the same split, prints one table of test accuracies and writes the figures.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from toyclf.classifier import DiffusionClassifier
from toyclf.cli import (
    add_classifier_arguments,
    check_classifier_arguments,
    classifier_params,
    command,
    command_parser,
    grid_int,
    non_negative_float,
    positive_int,
    seed_int,
    write_and_report,
)
from toyclf.data import DATASETS
from toyclf.lecture.experiments.comparison import (
    Result,
    baseline_classifiers,
    class_probabilities,
    fit_and_score,
    format_table,
    make_split,
)
from toyclf.lecture.experiments.evidence import class_evidence, inside_and_boundary
from toyclf.lecture.plots import maps
from toyclf.lecture.plots.evidence import plot_class_evidence
from toyclf.mapping import make_grid, probability_map

FIGURES = ("decision_map", "posterior_map", "samples", "loss_curve", "comparison", "evidence")


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("toyclf.spirals", __doc__)
    parser.add_argument("--dataset", choices=DATASETS, default="spirals", help="which 2D data set")
    parser.add_argument("--n-samples", type=positive_int, default=2000, help="training points")
    parser.add_argument("--n-test", type=positive_int, default=10000, help="held-out test points")
    parser.add_argument(
        "--noise", type=non_negative_float, default=None, help="data noise (default: the data set's own)"
    )
    parser.add_argument(
        "--seed", type=seed_int, default=0, help="seeds the data, the split, training and the Monte Carlo plan"
    )
    parser.add_argument("--steps", type=positive_int, default=3000, help="training steps of the denoiser")
    add_classifier_arguments(parser, item="point")
    parser.add_argument("--grid", type=grid_int, default=200, help="resolution of the maps (grid x grid points)")
    return parser


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.n_samples < 10 or args.n_test < 2:
        parser.error(f"--n-samples must be >= 10 and --n-test >= 2; got {args.n_samples} and {args.n_test}")
    out = check_classifier_arguments(parser, args)

    split = make_split(args.dataset, args.n_samples, args.n_test, noise=args.noise, random_state=args.seed)
    n_classes = len(np.unique(split.y_train))
    print(f"{args.dataset}: {args.n_samples} training and {args.n_test} test points, {n_classes} classes")

    diffusion = DiffusionClassifier(**classifier_params(args))
    results = [fit_and_score("diffusion classifier", diffusion, split)]
    for name, baseline in baseline_classifiers(args.seed).items():
        results.append(fit_and_score(name, baseline, split))
    print(format_table(results))

    write_and_report(
        f"decision maps of {args.grid}x{args.grid} points (classified near the boundaries) and figures",
        lambda: write_figures(results, split, out, resolution=args.grid),
    )
    return 0


def write_figures(results: list[Result], split, out: Path, *, resolution: int = 200) -> list[Path]:
    """Draw every figure of the run into ``out`` as ``{dataset}_{figure}.png``."""
    diffusion = results[0].classifier
    classes = diffusion.classes_
    y_train, y_test = np.searchsorted(classes, split.y_train), np.searchsorted(classes, split.y_test)
    xx, yy, _ = make_grid(np.vstack([split.X_train, split.X_test]), resolution)

    probas = {r.name: probability_map(partial(class_probabilities, r.classifier), xx, yy) for r in results}
    proba = probas[results[0].name]  # [r, r, K]
    X_generated, y_generated = diffusion.sample(len(split.X_train), random_state=0)

    label = split.name.capitalize()
    figures = {
        "decision_map": maps.plot_decision_map(
            xx, yy, proba, split.X_train, y_train, title=f"{label}: diffusion classifier", class_labels=classes
        ),
        "posterior_map": maps.plot_posterior_map(
            xx, yy, proba, split.X_train, y_train, title=label, class_labels=classes
        ),
        "samples": maps.plot_samples(
            split.X_train,
            y_train,
            X_generated,
            np.searchsorted(classes, y_generated),
            len(classes),
            title=label,
            class_labels=classes,
        ),
        "loss_curve": maps.plot_loss_curve(diffusion.loss_curve_),
        "comparison": maps.plot_comparison(
            [
                {
                    "name": label,
                    "xx": xx,
                    "yy": yy,
                    "X_train": split.X_train,
                    "y_train": y_train,
                    "X_test": split.X_test[:2000],
                    "y_test": y_test[:2000],
                    "n_classes": len(classes),
                    "results": [(r.name, probas[r.name], r.accuracy) for r in results],
                }
            ],
            class_labels=classes,
        ),
        "evidence": plot_evidence(diffusion, split.X_test[:500]),
    }
    return [maps.save_figure(fig, out / f"{split.name}_{name}.png", dpi=100) for name, fig in figures.items()]


def plot_evidence(diffusion: DiffusionClassifier, X: np.ndarray):
    """The picture that explains the method, for the point of ``X`` the classifier is surest about
    and the one it is least sure about: every class's error against the noise level."""
    inside, edge = inside_and_boundary(diffusion, X)
    evidence = class_evidence(diffusion, X[[inside, edge]], n_trials=max(256, diffusion.n_trials))
    titles = ["a point deep inside a class", "a point on the boundary"]
    return plot_class_evidence(evidence, [0, 1], titles, class_labels=diffusion.classes_)


if __name__ == "__main__":
    sys.exit(main())
