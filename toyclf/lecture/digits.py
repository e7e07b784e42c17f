"""The digits, the lecture's example of real images: scikit-learn's handwritten digits (1,797 8 x 8
images, 10 classes; no download) split for training and testing, the settings of a diffusion
classifier for pixels (:data:`DIGITS_PARAMS`), the corruptions the robustness curves use, and the
small trained model that ships with the package (:func:`load_pretrained_digits`, in
``toyclf/weights/``). ``python -m toyclf.digits`` trains, compares and draws with them (notebook 04).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from toyclf.classifier import DiffusionClassifier
from toyclf.lecture.experiments.comparison import Split

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

# The small trained model shipped with the package (hidden 256, 8000 steps, weights stored as float16:
# about 580 KB), trained on the training part of load_digit_split(0.3, random_state=PRETRAINED_SEED).
PRETRAINED_MODEL = Path(__file__).resolve().parents[1] / "weights" / "digits.pt"
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
