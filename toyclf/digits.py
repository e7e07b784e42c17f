"""python -m toyclf.digits: a diffusion classifier trained from scratch on handwritten digits.

Trains the class-conditional denoiser on the training part of scikit-learn's digits (1,797 8 x 8
images, 10 classes; no download), classifies the test part with the Monte Carlo Bayes estimator,
fits logistic regression, an RBF SVM and k-NN on the same split, prints one table, and draws
generated digits, per-class errors, a confusion matrix and robustness curves. ``--save-model PATH``
also writes the trained classifier; :func:`toyclf.lecture.digits.load_pretrained_digits` loads the
small one shipped with the package.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from toyclf.cli import (
    add_classifier_arguments,
    check_classifier_arguments,
    classifier_params,
    command,
    command_parser,
    positive_int,
    seed_int,
    write_and_report,
)
from toyclf.lecture.digits import (
    CORRUPTION_LABELS,
    CORRUPTION_LEVELS,
    MAX_PIXEL,
    digits_classifier,
    load_digit_split,
    save_digits_model,
)
from toyclf.lecture.experiments.comparison import Result, Split, fit_and_score, format_table, image_baselines
from toyclf.lecture.experiments.robustness import corrupted_examples, format_curves, robustness_curves
from toyclf.lecture.plots import digits as digit_plots
from toyclf.lecture.plots import maps
from toyclf.utils.files import ensure_writable_dir

FIGURES = ("samples", "class_errors", "confusion", "robustness")
SAVE_DTYPES = {"float32": torch.float32, "float16": torch.float16}  # --save-dtype: how the weights are stored


def test_fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("toyclf.digits", __doc__)
    parser.add_argument("--test-size", type=test_fraction, default=0.3, help="fraction of the images held out")
    parser.add_argument(
        "--seed", type=seed_int, default=0, help="seeds the split, training, the plan and the corruptions"
    )
    parser.add_argument("--steps", type=positive_int, default=8000, help="training steps of the denoiser")
    parser.add_argument("--hidden-size", type=positive_int, default=512, help="width of the denoiser's blocks")
    parser.add_argument("--save-model", type=Path, metavar="PATH", help="also write the trained classifier there")
    parser.add_argument(
        "--save-dtype",
        choices=tuple(SAVE_DTYPES),
        default="float32",
        help="how --save-model stores the weights: float16 halves the file (rounded weights)",
    )
    add_classifier_arguments(parser, item="image")
    return parser


def check_model_path(parser: argparse.ArgumentParser, path: Path | None) -> None:
    """Check before training that --save-model can be written (its folder is created), or exit with status 2."""
    if path is None:
        return
    if path.is_dir():
        parser.error(
            f"--save-model: {str(path)!r} is a folder; expected a file path such as {str(path / 'digits.pt')!r}"
        )
    try:
        ensure_writable_dir(path.parent)
    except OSError as error:
        parser.error(f"--save-model: {error}")


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = check_classifier_arguments(parser, args)
    check_model_path(parser, args.save_model)

    split = load_digit_split(args.test_size, args.seed)
    print(f"digits: {len(split.X_train)} training and {len(split.X_test)} test images of 8x8 pixels, 10 classes")
    diffusion = digits_classifier(
        hidden_size=args.hidden_size,
        **classifier_params(args),
    )
    results = [fit_and_score("diffusion classifier", diffusion, split)]
    if args.save_model is not None:
        saved = save_digits_model(diffusion, args.save_model, SAVE_DTYPES[args.save_dtype])
        print(f"saved the trained classifier to {saved} ({saved.stat().st_size / 1e3:.0f} KB, {args.save_dtype})")
    results += [fit_and_score(name, baseline, split) for name, baseline in image_baselines().items()]
    print(format_table(results))
    _, trials = diffusion.class_errors(split.X_test, return_trials=True)
    print(
        f"diffusion classifier: {trials.sum(1).mean():.0f} denoiser evaluations per test image on average "
        f"({args.pruning}; {len(diffusion.classes_) * args.trials} with every trial for every class)"
    )

    write_and_report("robustness curves and figures", lambda: write_figures(results, split, out, seed=args.seed))
    return 0


def write_figures(results: list[Result], split: Split, out: Path, *, seed: int = 0, n_examples: int = 6) -> list[Path]:
    """Draw every figure of the run into ``out`` as ``digits_{figure}.png``; print the robustness table."""
    diffusion = results[0].classifier
    classes = diffusion.classes_

    X_generated, y_generated = diffusion.sample(10 * len(classes), random_state=seed)
    X_generated = np.clip(X_generated, 0, MAX_PIXEL)

    # a few test images, the first mistake among them if there is one, scored on every trial
    mistakes = np.flatnonzero(results[0].y_pred != split.y_test)
    shown = np.unique(np.concatenate([np.arange(n_examples - min(1, len(mistakes))), mistakes[:1]]))
    errors = copy.deepcopy(diffusion).set_params(pruning=None).class_errors(split.X_test[shown])  # [6, K]

    levels = CORRUPTION_LEVELS
    classifiers = {r.name: r.classifier for r in results}
    curves = {
        corruption: robustness_curves(classifiers, split.X_test, split.y_test, corruption, strengths, random_state=seed)
        for corruption, strengths in levels.items()
    }
    print(format_curves(levels, curves))
    examples = {
        c: corrupted_examples(split.X_test[0], c, strengths, random_state=seed) for c, strengths in levels.items()
    }

    figures = {
        "samples": digit_plots.plot_generated_images(X_generated, y_generated, classes),
        "class_errors": digit_plots.plot_class_errors(split.X_test[shown], errors, classes, split.y_test[shown]),
        "confusion": digit_plots.plot_confusion_matrix(
            split.y_test,
            results[0].y_pred,
            classes,
            title=f"Diffusion classifier on the test digits: accuracy {results[0].accuracy:.3f}",
        ),
        "robustness": digit_plots.plot_robustness(
            levels,
            curves,
            xlabels=CORRUPTION_LABELS,
            examples=examples,
        ),
    }
    return [maps.save_figure(fig, out / f"digits_{name}.png") for name, fig in figures.items()]


if __name__ == "__main__":
    sys.exit(main())
