"""What Stable Diffusion and DiT share: a pretrained latent diffusion model behind the Denoiser protocol.

Both diffuse VAE latents, read their forward process from a diffusers scheduler and run their
network in fp16/bf16 on a GPU. This base class does those parts once; a backend only says how a
label id becomes the network's conditioning (:meth:`LatentDenoiser.network`).

    x0    = vae.encode(image).latent_dist.mean * vae.config.scaling_factor     [B, C, h, w]
    eps   = network(x_t, t, c)                  (epsilon models), or
    eps   = sqrt(abar_t) v + sqrt(1 - abar_t) x_t   (v-prediction models: v = sqrt(abar) eps - sqrt(1 - abar) x0)

Errors are computed in fp32 whatever dtype the network runs in: :meth:`predict_noise` returns
fp32, and the estimator takes the difference to the plan's fp32 noise.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from toyclf.prediction import epsilon_from_prediction
from toyclf.schedule import NoiseSchedule

PREDICTION_TYPES = ("epsilon", "v_prediction")  # the DDPM-family schedulers' (flow models: a path of their own)


class LatentDenoiser(nn.Module):
    """Base class of the pretrained backends: VAE encoding, the scheduler's schedule, v -> eps.

    Parameters
    ----------
    vae : diffusers.AutoencoderKL
        Encodes images [B, 3, H, W] in [-1, 1] to latents [B, C, H/f, W/f].
    scheduler : a diffusers DDPM-family scheduler
        Gives ``alphas_cumprod`` (the forward process) and ``prediction_type``.
    class_names : list of str
        One name per label id 0 .. K-1 (what the command line prints).
    latent_size : int
        Side of the square latents the network takes (its config's ``sample_size``); the images
        are ``latent_size`` times the VAE's downsampling factor.
    """

    def __init__(self, vae: Any, scheduler: Any, class_names: list[str], latent_size: int) -> None:
        super().__init__()
        prediction_type = scheduler.config.prediction_type
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(
                f"the scheduler's prediction_type must be one of {PREDICTION_TYPES}; got {prediction_type!r}."
            )
        self.vae = vae.eval().requires_grad_(False)
        self.schedule = NoiseSchedule.from_diffusers(scheduler)
        self.prediction_type = prediction_type
        self.class_names = list(class_names)
        self.n_classes = len(self.class_names)
        factor = 2 ** (len(vae.config.block_out_channels) - 1)  # the VAE's downsampling factor
        self.image_size = int(latent_size) * factor
        self.latent_shape = (vae.config.latent_channels, int(latent_size), int(latent_size))

    @property
    def device(self) -> torch.device:
        return next(self.vae.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the networks run in (errors are fp32 regardless)."""
        return next(self.vae.parameters()).dtype

    @torch.inference_mode()
    def encode(self, x: Tensor) -> Tensor:
        """Images [B, 3, H, W] in [-1, 1] -> latents [B, *latent_shape] fp32 (the posterior mean, scaled)."""
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"expected images of shape [B, 3, {self.image_size}, {self.image_size}] in [-1, 1] "
                f"(toyclf.denoisers.images.preprocess_images makes them); got {tuple(x.shape)}."
            )
        latents = self.vae.encode(x.to(self.device, self.dtype)).latent_dist.mean
        return latents.float() * self.vae.config.scaling_factor

    def network(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """The raw network output for label ids, in the model's dtype: [M, *S], [M], [M] -> [M, *S]."""
        raise NotImplementedError

    @torch.inference_mode()
    def predict_noise(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """eps_theta(x_t, t, c) in fp32: [M, *S], [M] long, [M] long -> [M, *S]."""
        output = self.network(x_t.to(self.dtype), t, labels).float()  # [M, *S]
        return epsilon_from_prediction(output, x_t, *self.schedule.scales(t), self.prediction_type)

    def extra_repr(self) -> str:
        return (
            f"classes={self.class_names}, image_size={self.image_size}, latent_shape={self.latent_shape}, "
            f"prediction_type={self.prediction_type!r}, schedule={self.schedule}"
        )
