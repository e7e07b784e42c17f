"""What the estimator needs from a model: the ``Denoiser`` protocol.

Every backend (the toy MLP, the Gaussian-mixture oracle, Stable Diffusion, DiT) provides
these six members (three attributes, the ``device`` property, ``encode`` and
``predict_noise``) and nothing else is asked of it. Classes are always label ids
``0 .. n_classes - 1``: each backend maps an id to its own conditioning (an embedding row, a
prompt embedding, an ImageNet label).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from toyclf.schedule import NoiseSchedule


@runtime_checkable
class Denoiser(Protocol):
    """A class-conditional noise predictor eps_theta(x_t, t, c) and the space it works in.

    Optionally it says how many rows it takes per call (``eval_batch_size``, an int): the estimator
    then sends that many unless told otherwise (the pretrained backends measure it on a GPU).
    """

    schedule: NoiseSchedule  # the model's own forward process (alphas_cumprod, [T])
    n_classes: int  # label ids are 0 .. n_classes - 1
    latent_shape: tuple[int, ...]  # shape of one encoded point, S

    @property
    def device(self) -> torch.device: ...

    def encode(self, x: Tensor) -> Tensor:
        """x0 where the noise lives: [B, ...] inputs -> [B, *S] (identity, or VAE latents)."""
        ...

    def predict_noise(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """eps_theta(x_t, t, c): [M, *S], [M] long, [M] long -> [M, *S]."""
        ...
