"""Classifying images with a pretrained denoiser: the estimator over a stream of images.

What ``python -m toyclf.zeroshot`` (and anyone with a folder of pictures) runs: images are
preprocessed to the model's size, scored by :func:`toyclf.estimator.class_errors` a group at a
time, so that the rows (image, class, trial) of several images share the denoiser's batches and
a small class set, or a late pruning stage with few classes left, still fills a GPU. Every image
is scored on the same ``plan``: its answer does not depend on which images share its group
(up to float rounding, as in any batched computation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from toyclf.estimator import class_errors, log_posterior, points_per_chunk, resolve_eval_batch_size
from toyclf.plan import TrialPlan
from toyclf.pretrained.latent import LatentDenoiser
from toyclf.pruning import resolve_pruning

MOST_IMAGES = 16  # a group's pictures are held in memory at their own size until preprocessed


def images_per_group(denoiser: LatentDenoiser, plan: TrialPlan, pruning: Any, eval_batch_size: int | None) -> int:
    """How many images are scored together: as many as the estimator scores in one chunk
    (:func:`toyclf.estimator.points_per_chunk`: enough to fill its first stage's batches), at
    most :data:`MOST_IMAGES`."""
    stage_ends = resolve_pruning(pruning).stage_ends(len(plan))
    return min(
        MOST_IMAGES,
        points_per_chunk(denoiser.n_classes, stage_ends, resolve_eval_batch_size(denoiser, eval_batch_size)),
    )


def classify_images(
    denoiser: LatentDenoiser,
    images: Sequence[Any],
    plan: TrialPlan,
    *,
    pruning: Any = None,
    loss: str = "l2",
    weighting: str = "uniform",
    temperature: float = 1.0,
    eval_batch_size: int | None = None,
    group_size: int | None = None,
) -> Iterator[dict]:
    """For each image in turn: {"prediction", "errors" [K], "probabilities" [K], "trials" [K]}.

    ``images`` are paths, PIL images or tensors (the denoiser's ``preprocess``, the paper's resize and crop);
    ``group_size`` of them go through the estimator together (default: :func:`images_per_group`).
    ``eval_batch_size``: rows per denoiser call (default: the denoiser's own).
    """
    settings = dict(
        loss=loss, weighting=weighting, pruning=pruning, temperature=temperature, eval_batch_size=eval_batch_size
    )
    group_size = group_size or images_per_group(denoiser, plan, pruning, eval_batch_size)
    for start in range(0, len(images), group_size):
        x = denoiser.preprocess(list(images[start : start + group_size]))  # [G, 3, H, W]
        errors, trials = class_errors(denoiser, x, plan, return_trials=True, **settings)  # [G, K] each
        probabilities = log_posterior(errors, temperature=temperature).exp()  # [G, K]
        for i in range(len(x)):
            yield {
                "prediction": denoiser.class_names[int(probabilities[i].argmax())],
                "errors": errors[i].numpy(),
                "probabilities": probabilities[i].numpy(),
                "trials": trials[i].numpy(),
            }
