"""Stable Diffusion 3 as a zero-shot classifier: a flow-matching transformer, the same estimator.

SD3 (Esser et al. 2024) noises latents on the straight path x_t = (1 - sigma) x_0 + sigma eps
and its MM-DiT transformer predicts the velocity v = eps - x_0, at the continuous timestep
sigma T (:class:`~toyclf.pretrained.latent.LatentDenoiser` reads both from its
``FlowMatchEulerDiscreteScheduler`` and converts v to the implied eps, :mod:`toyclf.prediction`).
Each prompt goes through three text encoders once: two CLIPs (hidden states and pooled vectors)
and T5 (hidden states; zeros when the pipeline was loaded without it), concatenated by the
pipeline's own ``encode_prompt`` to [K, 77 + 256, 4096] and pooled [K, 2048].
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from toyclf.pretrained.stable_diffusion import PromptDenoiser


class StableDiffusion3Denoiser(PromptDenoiser):
    """An SD3 transformer behind the Denoiser protocol, one text prompt per class (``from_pipeline``)."""

    @property
    def transformer(self) -> Any:
        return self.backbone

    @staticmethod
    def encode_prompts(pipeline: Any, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """The three encoders' states [K, 77 + 256, E] and the CLIPs' pooled vectors [K, P], from the
        pipeline's ``encode_prompt`` (prompt_2 and prompt_3 None: every encoder reads the same prompt)."""
        embeddings, _, pooled, _ = pipeline.encode_prompt(
            prompts, None, None, device=pipeline.device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        return embeddings, pooled  # [K, 77 + 256, E], [K, P]

    def network(self, x_t: Tensor, timesteps: Tensor, labels: Tensor) -> Tensor:
        """velocity(x_t, sigma T, prompt; pooled): [M, C, h, w], [M] float, [M] -> [M, C, h, w]."""
        return self.transformer(
            hidden_states=x_t,
            timestep=timesteps,
            encoder_hidden_states=self.prompt_embeddings[labels],
            pooled_projections=self.pooled_embeddings[labels],
        ).sample
