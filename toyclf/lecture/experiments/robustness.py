"""Robustness: accuracy of classifiers as test images are corrupted more and more.

The paper finds its generative classifier far more robust than discriminative ones on
ImageNet-A. Here the question is asked in miniature: add Gaussian noise, or cover a square of
the image, at growing strength, and score every classifier on the same corrupted images.
Corruptions act on flattened images with values in [0, ``max_value``] (the digits: 0 .. 16)
and are seeded, so every classifier sees exactly the same corrupted set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils import check_random_state


def gaussian_noise(X: np.ndarray, sigma: float, *, max_value: float = 16.0, random_state: int | None = 0) -> np.ndarray:
    """X + N(0, sigma^2) per pixel, clipped to [0, max_value]. (n, H * W) -> (n, H * W)"""
    if not sigma >= 0:
        raise ValueError(f"noise sigma must be a number >= 0; got {sigma!r}.")
    noise = check_random_state(random_state).normal(0.0, sigma, size=X.shape)
    return np.clip(X + noise, 0.0, max_value)


def occlusion(
    X: np.ndarray, size: float, *, image_shape: tuple[int, int] = (8, 8), random_state: int | None = 0
) -> np.ndarray:
    """Blank (set to 0) a ``size`` x ``size`` square at a random place in every image. (n, H * W) -> (n, H * W)"""
    height, width = image_shape
    if not (float(size).is_integer() and 0 <= size <= min(height, width)):
        raise ValueError(f"occlusion size must be an int in [0, {min(height, width)}]; got {size!r}.")
    size = int(size)
    rng = check_random_state(random_state)
    images = X.reshape(len(X), height, width).copy()  # [n, H, W]
    tops = rng.randint(0, height - size + 1, size=len(X))
    lefts = rng.randint(0, width - size + 1, size=len(X))
    for image, top, left in zip(images, tops, lefts, strict=True):
        image[top : top + size, left : left + size] = 0.0
    return images.reshape(len(X), -1)


CORRUPT: dict[str, Callable[..., np.ndarray]] = {"gaussian_noise": gaussian_noise, "occlusion": occlusion}
CORRUPTIONS = tuple(CORRUPT)


def robustness_curves(
    classifiers: Mapping[str, ClassifierMixin],
    X: np.ndarray,
    y: np.ndarray,
    corruption: str,
    levels: Sequence[float],
    *,
    random_state: int = 0,
) -> dict[str, np.ndarray]:
    """Test accuracy of every (fitted) classifier at every corruption level: name -> [L].

    Level ``levels[i]`` corrupts X once, with the same seed for every classifier (and every
    level), so the curves compare the classifiers on identical images.
    """
    if corruption not in CORRUPT:
        raise ValueError(f"corruption must be one of {', '.join(map(repr, CORRUPTIONS))}; got {corruption!r}.")
    corrupted = [CORRUPT[corruption](X, level, random_state=random_state) for level in levels]
    return {
        name: np.array([np.mean(classifier.predict(X_level) == y) for X_level in corrupted])
        for name, classifier in classifiers.items()
    }


def corrupted_examples(
    image: np.ndarray, corruption: str, levels: Sequence[float], *, random_state: int = 0
) -> np.ndarray:
    """One flattened image at every corruption level, for drawing under a curve: (H * W,) -> (L, H * W)."""
    return np.vstack([CORRUPT[corruption](image[None], level, random_state=random_state) for level in levels])


def format_curves(levels: Mapping[str, Sequence[float]], curves: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """The curves as plain text: a block per corruption, a line of accuracies per classifier."""
    lines = []
    for corruption, strengths in levels.items():
        lines.append(f"accuracy under {corruption.replace('_', ' ')} at strengths {list(strengths)}:")
        lines += [
            f"  {name:<20} " + "  ".join(f"{a:.3f}" for a in accuracy) for name, accuracy in curves[corruption].items()
        ]
    return "\n".join(lines)
