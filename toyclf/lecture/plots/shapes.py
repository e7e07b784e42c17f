"""Figures of the world of shapes: images a text-to-image model generated for each prompt."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import matplotlib.pyplot as plt
import numpy as np


def mosaic(images: np.ndarray, rows: int, gap: int = 2) -> np.ndarray:
    """Images [n, S, S, 3] tiled ``rows`` high on white, ``gap`` pixels apart: [H, W, 3]."""
    n, size = images.shape[:2]
    columns = -(-n // rows)
    tiled = np.ones((rows * (size + gap) - gap, columns * (size + gap) - gap, 3), dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        tiled[r * (size + gap) : r * (size + gap) + size, c * (size + gap) : c * (size + gap) + size] = image
    return tiled


def plot_prompt_samples(
    images: np.ndarray,
    prompts: Sequence[str],
    *,
    columns: int = 3,
    marked: Collection[str] = (),
    title: str | None = None,
):
    """A panel per prompt of the images generated for it (``images`` [K, n, S, S, 3] in [0, 1]),
    ``columns`` panels a row; the prompts in ``marked`` (e.g. combinations never seen in training)
    are titled in red with "(held out)". Drawn for a 1280 x 720 slide."""
    n_prompts, n_images = images.shape[:2]
    rows = -(-n_prompts // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(12.8, 7.2), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, samples, prompt in zip(axes.flat, images, prompts, strict=False):
        ax.imshow(mosaic(samples, rows=2 if n_images >= 4 else 1), interpolation="nearest")
        held_out = prompt in marked
        ax.set_title(f'"{prompt}"' + (" (held out)" if held_out else ""), fontsize=15,
                     color="#b2182b" if held_out else "black")  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=20)
    return fig
