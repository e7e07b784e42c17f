"""What every pretrained backend shares: a latent diffusion model behind the Denoiser protocol.

Stable Diffusion 1/2, SDXL, Stable Diffusion 3 and DiT all diffuse VAE latents, read their
forward process from a diffusers scheduler and run their network (the backbone: a UNet or a
transformer) in fp16/bf16 on a GPU. This base class does those parts once; a backend only says
how a label id becomes the backbone's conditioning (:meth:`LatentDenoiser.network`).

    x0  = (vae.encode(image).latent_dist.mean - shift_factor) * scaling_factor     [B, C, h, w]
    out = backbone(x_t, timestep(t), c)          eps, v or the flow velocity, by the scheduler
    eps = epsilon_from_prediction(out, x_t, alpha_t, sigma_t)      (toyclf.prediction)

DDPM-family schedulers (SD 1/2, SDXL, DiT) give the variance-preserving path and the backbone
takes the timestep index t itself; a flow-matching scheduler (SD3) gives the rectified-flow
path, a velocity-predicting backbone, and the continuous timestep sigma_t T
(:meth:`toyclf.schedule.RectifiedFlowSchedule.from_diffusers`).

Errors are computed in fp32 whatever dtype the backbone runs in: :meth:`predict_noise` returns
fp32, and the estimator takes the difference to the plan's fp32 noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from toyclf.prediction import epsilon_from_prediction
from toyclf.pretrained.images import preprocess_images
from toyclf.schedule import NoiseSchedule, RectifiedFlowSchedule

PREDICTION_TYPES = ("epsilon", "v_prediction")  # the DDPM-family schedulers' (flow schedulers: "velocity")
ENCODE_ROWS = 4  # images per VAE call: a 1024 px image takes GBs of activations in the encoder


def read_scheduler(scheduler: Any) -> tuple[NoiseSchedule, str, Tensor]:
    """(path, prediction type, the backbone's timestep of every t [T]) of a diffusers scheduler."""
    if hasattr(scheduler, "alphas_cumprod"):  # DDPM, DDIM, Euler, ...: the variance-preserving path
        prediction_type = scheduler.config.prediction_type
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(
                f"the scheduler's prediction_type must be one of {PREDICTION_TYPES}; got {prediction_type!r}."
            )
        schedule = NoiseSchedule.from_diffusers(scheduler)
        return schedule, prediction_type, torch.arange(schedule.num_timesteps)  # [T] long: t itself
    if hasattr(getattr(scheduler, "config", None), "shift"):  # FlowMatchEulerDiscreteScheduler: the straight path
        schedule = RectifiedFlowSchedule.from_diffusers(scheduler)
        return schedule, "velocity", (schedule.noise_scale * schedule.num_timesteps).float()  # [T]: sigma_t T
    raise ValueError(
        f"the pipeline's scheduler is a {type(scheduler).__name__}, neither a DDPM-family scheduler "
        "(alphas_cumprod) nor a flow-matching one (shift): toyclf cannot read its noising path."
    )


class LatentDenoiser(nn.Module):
    """Base class of the pretrained backends: VAE encoding, the scheduler's path, output -> eps.

    Parameters
    ----------
    backbone : the diffusers UNet or transformer
        Its config's ``sample_size`` is the side of the square latents it takes.
    vae : diffusers.AutoencoderKL
        Encodes images [B, 3, H, W] in [-1, 1] to latents [B, C, H/f, W/f], a few at a time
        (:data:`ENCODE_ROWS`). Where the backend upcasts (SDXL: :attr:`upcast_vae`) and the VAE's
        config asks for it (``force_upcast``), it runs in fp32 while the backbone runs in fp16.
    scheduler : a diffusers DDPM-family or flow-matching scheduler
        Gives the forward process and what the backbone predicts.
    class_names : list of str
        One name per label id 0 .. K-1 (what the command line prints).
    """

    fixed_rows: int | None = None  # pad every batch to this many rows (set for a compiled backbone)
    image_preprocessing: str = (
        "bicubic_center_crop"  # the paper's resize and crop for this model (images.PREPROCESSINGS)
    )
    upcast_vae: bool = False  # honour the VAE config's force_upcast, as diffusers' pipelines for this model do

    def __init__(self, backbone: Any, vae: Any, scheduler: Any, class_names: list[str]) -> None:
        super().__init__()
        self.schedule, self.prediction_type, timesteps = read_scheduler(scheduler)
        self.backbone = backbone.eval().requires_grad_(False)  # eval: no dropout, no random label drop
        if self.upcast_vae and vae.config.get("force_upcast", False) and vae.dtype == torch.float16:
            vae = vae.to(torch.float32)  # fp16 overflows in this VAE; encoding is once per image
        if backbone.config.in_channels != vae.config.latent_channels:
            raise ValueError(
                f"the network takes {backbone.config.in_channels} input channels but the VAE makes "
                f"{vae.config.latent_channels}-channel latents: an inpainting or depth model? toyclf needs a "
                "text-to-image or class-conditional one, whose input is the noisy latent alone."
            )
        self.vae = vae.eval().requires_grad_(False)
        self.register_buffer("timesteps", timesteps.to(self.device), persistent=False)  # [T]
        self.class_names = list(class_names)
        self.n_classes = len(self.class_names)
        factor = 2 ** (len(vae.config.block_out_channels) - 1)  # the VAE's downsampling factor
        latent_size = int(backbone.config.sample_size)
        self.image_size = latent_size * factor
        self.latent_shape = (vae.config.latent_channels, latent_size, latent_size)

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the backbone runs in (errors are fp32 regardless)."""
        return next(self.backbone.parameters()).dtype

    def preprocess(self, images: Sequence[Any]) -> Tensor:
        """Image files, PIL images or [3, H, W] tensors -> what :meth:`encode` takes, [B, 3, H, W] in
        [-1, 1], resized and cropped as the paper's code does for this model
        (:func:`toyclf.pretrained.images.preprocess_images`, :attr:`image_preprocessing`)."""
        return preprocess_images(images, self.image_size, method=self.image_preprocessing)

    @torch.inference_mode()
    def encode(self, x: Tensor) -> Tensor:
        """Images [B, 3, H, W] in [-1, 1] -> latents [B, *latent_shape] fp32 (the posterior mean, scaled)."""
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"expected images of shape [B, 3, {self.image_size}, {self.image_size}] in [-1, 1] "
                f"(the denoiser's preprocess() makes them); got {tuple(x.shape)}."
            )
        config, x = self.vae.config, x.to(self.device, self.vae.dtype)
        latents = torch.cat([self.vae.encode(part).latent_dist.mean.float() for part in x.split(ENCODE_ROWS)])
        return (latents - (config.get("shift_factor") or 0.0)) * config.scaling_factor  # [B, C, h, w]

    def network(self, x_t: Tensor, timesteps: Tensor, labels: Tensor) -> Tensor:
        """The backbone's raw output for label ids, in its dtype: [M, *S], [M] its timesteps, [M] -> [M, *S]."""
        raise NotImplementedError

    @torch.inference_mode()
    def predict_noise(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """eps_theta(x_t, t, c) in fp32: [M, *S], [M] long, [M] long -> [M, *S]."""
        inputs = (x_t.to(self.dtype), self.timesteps[t], labels)
        rows = len(x_t)
        if self.fixed_rows is not None and rows < self.fixed_rows:  # a compiled network sees one batch shape:
            extra = self.fixed_rows - rows  # short batches are padded with copies of their last row, not recompiled
            inputs = tuple(torch.cat([v, v[-1:].expand(extra, *v.shape[1:])]) for v in inputs)
        output = self.network(*inputs)[:rows].float()  # [M, *S]
        return epsilon_from_prediction(output, x_t, *self.schedule.scales(t), self.prediction_type)

    def extra_repr(self) -> str:
        return (
            f"classes={self.class_names}, image_size={self.image_size}, latent_shape={self.latent_shape}, "
            f"prediction_type={self.prediction_type!r}, schedule={self.schedule}"
        )
