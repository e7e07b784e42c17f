"""SDXL as a zero-shot classifier: Stable Diffusion's method with SDXL's extra conditioning.

The SDXL UNet takes, besides the prompt's hidden states (two CLIP text encoders, concatenated:
[K, 77, 768 + 1280]), ``added_cond_kwargs``: the pooled, projected embedding of the second text
encoder ("text_embeds", [K, 1280]) and six "time_ids" (original size, crop corner, target
size; Podell et al. 2023, section 2.2), here the image's own size, uncropped: (H, W, 0, 0, H, W).
Its VAE overflows in fp16 and runs in fp32 (``force_upcast``; :class:`LatentDenoiser`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from toyclf.pretrained.stable_diffusion import StableDiffusionDenoiser


class StableDiffusionXLDenoiser(StableDiffusionDenoiser):
    """An SDXL UNet behind the Denoiser protocol, one text prompt per class (``from_pipeline``)."""

    upcast_vae = True  # its VAE overflows in fp16 (force_upcast in its config), as diffusers' SDXL pipelines know

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        size = self.image_size
        time_ids = torch.tensor([size, size, 0, 0, size, size], dtype=self.dtype, device=self.device)  # [6]
        self.register_buffer("time_ids", time_ids)

    @staticmethod
    def encode_prompts(pipeline: Any, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """Both CLIPs' penultimate states, concatenated [K, 77, E1 + E2], and the second's pooled,
        projected embedding [K, P], from the pipeline's ``encode_prompt``."""
        embeddings, _, pooled, _ = pipeline.encode_prompt(
            prompts, device=pipeline.device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        return embeddings, pooled  # [K, 77, E], [K, P]

    def network(self, x_t: Tensor, timesteps: Tensor, labels: Tensor) -> Tensor:
        """UNet(x_t, t, prompt embedding; pooled embedding, time ids): [M, C, h, w], [M], [M] -> [M, C, h, w]."""
        added = {"text_embeds": self.pooled_embeddings[labels], "time_ids": self.time_ids.expand(len(labels), -1)}
        return self.unet(
            x_t, timesteps, encoder_hidden_states=self.prompt_embeddings[labels], added_cond_kwargs=added
        ).sample
