"""Scoring the world of shapes by prompt with both models: the diffusion classifier (the unchanged
estimator, :func:`toyclf.estimator.class_errors`) and the tiny CLIP.

Both see the same pixels: scenes and drawings go through the denoiser's ``preprocess`` (the
paper's bicubic resize and centre crop to 32 x 32, [-1, 1]). A higher score is a better match:
minus the denoising error for the diffusion model, the scaled cosine for CLIP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from toyclf.estimator import class_errors
from toyclf.plan import TrialPlan
from toyclf.pretrained.latent import LatentDenoiser
from toyclf.pretrained.tiny_clip import clip_logits


def pixels(denoiser: LatentDenoiser, images: Sequence[np.ndarray]) -> torch.Tensor:
    """Images [H, W, 3] in [0, 1] (any size) -> [B, 3, S, S] in [-1, 1], as the denoiser takes them."""
    return denoiser.preprocess([torch.from_numpy(np.asarray(image)).permute(2, 0, 1) for image in images])


def diffusion_scores(
    denoiser: LatentDenoiser,
    x: torch.Tensor,
    plan: TrialPlan,
    *,
    classes: Sequence[int] | None = None,
    pruning: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(minus the errors [B, K], the trials each pair was given [B, K]) of images ``x`` [B, 3, S, S]
    under the denoiser's prompts (or the label ids ``classes``)."""
    errors, trials = class_errors(denoiser, x, plan, classes=classes, pruning=pruning, return_trials=True)
    return -errors.numpy(), trials.numpy()


def winoground_diffusion(denoiser: LatentDenoiser, pairs: dict, plan: TrialPlan) -> np.ndarray:
    """s [n, 2 images, 2 captions] of Winoground ``pairs`` (:func:`toyclf.scene_tests.winoground_pairs`),
    the denoiser holding every caption as a prompt; both images of a pair share the plan."""
    index = {prompt: k for k, prompt in enumerate(denoiser.prompts)}
    missing = sorted({c for captions in pairs["captions"] for c in captions} - set(index))
    if missing:
        raise ValueError(f"the denoiser has no prompt {missing[0]!r}; load it with every caption of the pairs.")
    scores = np.empty((len(pairs["captions"]), 2, 2))
    for i, captions in enumerate(pairs["captions"]):
        x = pixels(denoiser, list(pairs["images"][i]))  # [2, 3, S, S]
        scores[i] = diffusion_scores(denoiser, x, plan, classes=[index[c] for c in captions])[0]
    return scores


def winoground_clip(model: Any, tokenizer: Any, x: torch.Tensor, pairs: dict) -> np.ndarray:
    """s [n, 2, 2] of Winoground ``pairs`` for CLIP; ``x`` [n, 2, 3, S, S] their pixels."""
    return np.stack(
        [clip_logits(model, tokenizer, x[i], list(captions)).numpy() for i, captions in enumerate(pairs["captions"])]
    )
