"""python -m toyclf.digits: a diffusion classifier trained from scratch on handwritten digits.

Trains the class-conditional denoiser on the training part of scikit-learn's digits (1,797 8 x 8
images, 10 classes; no download), classifies the test part with the Monte Carlo Bayes estimator,
fits logistic regression, an RBF SVM and k-NN on the same split, prints one table, and draws
generated digits, per-class errors, a confusion matrix and robustness curves. ``--save-model PATH``
also writes the trained classifier; :func:`load_pretrained_digits` loads the small one shipped with
the package.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from toyclf.classifier import DiffusionClassifier
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
from toyclf.lecture.experiments.comparison import Result, Split, fit_and_score, format_table, image_baselines
from toyclf.lecture.experiments.robustness import corrupted_examples, format_curves, robustness_curves
from toyclf.lecture.plots import digits as digit_plots
from toyclf.lecture.plots import maps
from toyclf.utils.files import ensure_writable_dir

# The MLP with room for 64 pixels: no Fourier features (pixels go in as they are), 512 wide,
# all pixels scaled alike (per-pixel standardisation would blow faint border pixels, and any noise
# on them, up to the scale of the strokes), DDPM's linear schedule (images do not need the
# spirals' shift towards low noise).
DIGITS_PARAMS = {
    "hidden_size": 512,
    "n_frequencies": 0,
    "feature_scaling": "global",
    "noise_schedule": "linear",
    "schedule_shift": 1.0,
    "batch_size": 128,
    "weighting": "uniform",  # as the paper does for images: on held-out digits ELBO weights never made fewer errors
    "noise_range": None,
}
IMAGE_SHAPE = (8, 8)
MAX_PIXEL = 16.0  # load_digits' pixels are ink counts 0 .. 16
NOISE_LEVELS = (0.0, 2.0, 4.0, 6.0, 8.0)  # Gaussian noise sigma, in pixel units
OCCLUSION_SIZES = (0, 2, 3, 4, 5)  # side of the blanked square, in pixels
CORRUPTION_LEVELS = {"gaussian_noise": NOISE_LEVELS, "occlusion": OCCLUSION_SIZES}
CORRUPTION_LABELS = {
    "gaussian_noise": "noise sigma (pixels range 0 .. 16)",
    "occlusion": "side of the blanked square (pixels)",
}
FIGURES = ("samples", "class_errors", "confusion", "robustness")
SAVE_DTYPES = {"float32": torch.float32, "float16": torch.float16}  # --save-dtype: how the weights are stored

# The small trained model shipped with the package (hidden 256, 8000 steps, weights stored as float16:
# about 580 KB), trained on the training part of load_digit_split(0.3, random_state=PRETRAINED_SEED).
PRETRAINED_MODEL = Path(__file__).resolve().parent / "weights" / "digits.pt"
PRETRAINED_SEED = 0
PRETRAINED_COMMAND = (
    "OMP_NUM_THREADS=1 python -m toyclf.digits --seed 0 --hidden-size 256 --steps 8000 "
    "--save-model toyclf/weights/digits.pt --save-dtype float16 --quiet --out /tmp/digits_small"
)


def load_digit_split(test_size: float = 0.3, random_state: int = 0) -> Split:
    """scikit-learn's digits, flattened to (n, 64), split stratified into training and test parts."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state
    )
    return Split("digits", X_train, X_test, y_train, y_test)


def digits_classifier(**params) -> DiffusionClassifier:
    """A :class:`DiffusionClassifier` with the digits' defaults (:data:`DIGITS_PARAMS`), overridden by ``params``."""
    return DiffusionClassifier(**{**DIGITS_PARAMS, **params})


def save_digits_model(clf: DiffusionClassifier, path: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write the fitted classifier ``clf`` to ``path`` (:meth:`DiffusionClassifier.save`) with the
    denoiser's weights rounded to ``dtype``: float16 halves the file. Loading casts them back to
    float32, so the loaded model is ``clf`` with its weights rounded; ``clf`` itself is left unchanged."""
    stored = copy.deepcopy(clf)
    with torch.no_grad():
        for parameter in stored.denoiser_.parameters():  # weights only: the buffers (frequencies) stay exact
            parameter.data = parameter.data.to(dtype)
    return stored.save(path)


def load_pretrained_digits(
    path: str | Path = PRETRAINED_MODEL, *, device: str | torch.device | None = None
) -> DiffusionClassifier:
    """The small digits classifier shipped with the package: a noise predictor trained with Ho et al.'s
    Algorithm 1 on the training part of ``load_digit_split(0.3, random_state=PRETRAINED_SEED)``, ready to
    classify with the Monte Carlo Bayes estimator (Li et al., Algorithm 1). Regenerate it, the same
    weights for the same seed (about a minute on one core)::

        OMP_NUM_THREADS=1 python -m toyclf.digits --seed 0 --hidden-size 256 --steps 8000 --save-model toyclf/weights/digits.pt --save-dtype float16 --quiet --out /tmp/digits_small

    It is :data:`PRETRAINED_COMMAND`, run from the repository's root.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No digits model at {str(path)!r}. Train and save one with: "
            f"{PRETRAINED_COMMAND.replace('toyclf/weights/digits.pt', str(path))}"
        )
    return DiffusionClassifier.load(path, device=device)


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
