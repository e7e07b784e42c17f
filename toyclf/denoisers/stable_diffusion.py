"""Stable Diffusion as a zero-shot classifier: classes are text prompts (the paper's section 3).

The UNet eps_theta(x_t, t, text) is conditioned on the CLIP embedding of one prompt per class
("a photo of a {}."), computed once; a label id k picks prompt k. Images become VAE latents once
(:class:`~toyclf.denoisers.latent.LatentDenoiser`). The estimator drives it as it drives the toy
MLP: it never knows which denoiser it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from toyclf.denoisers.latent import LatentDenoiser

DEFAULT_TEMPLATE = "a photo of a {}."


def class_prompts(classes: Sequence[str] | None, prompts: Sequence[str] | None, template: str) -> tuple[list, list]:
    """(names, prompts): from class names and a template with one ``{}``, or one prompt per class."""
    if prompts is not None:
        prompts = [str(p) for p in prompts]
        names = [str(c) for c in classes] if classes is not None else prompts
        if len(names) != len(prompts):
            raise ValueError(f"got {len(names)} class names but {len(prompts)} prompts; give one prompt per class.")
    else:
        if classes is None or isinstance(classes, str):
            raise ValueError(f"classes must be a list of class names; got {classes!r}.")
        names = [str(c) for c in classes]
        if template.count("{}") != 1:
            raise ValueError(f"template must contain '{{}}' once, where the class name goes; got {template!r}.")
        prompts = [template.format(name) for name in names]
    if not names:
        raise ValueError("the class list is empty; give at least one class name (two to classify).")
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be distinct; got {names}.")
    return names, prompts


class StableDiffusionDenoiser(LatentDenoiser):
    """A diffusers Stable Diffusion UNet behind the Denoiser protocol, one text prompt per class.

    Build it with :meth:`from_pipeline` from a loaded pipeline; to load one from a hub id or a
    local folder, use :func:`toyclf.denoisers.load_denoiser` (the one loader of pretrained models).

    Attributes
    ----------
    prompts : list of str, the prompt of every label id
    prompt_embeddings : Tensor [K, L, E], the text encoder's last hidden state per prompt
    """

    def __init__(self, unet: Any, vae: Any, text_encoder: Any, tokenizer: Any, scheduler: Any, names, prompts):
        super().__init__(vae, scheduler, names, unet.config.sample_size)
        self.unet = unet.eval().requires_grad_(False)
        self.prompts = list(prompts)
        tokens = tokenizer(
            self.prompts,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        with torch.inference_mode():
            embeddings = text_encoder(tokens.input_ids.to(text_encoder.device))[0]  # [K, L, E]
        self.register_buffer("prompt_embeddings", embeddings.to(self.device, self.dtype).clone())

    @classmethod
    def from_pipeline(
        cls,
        pipeline: Any,
        classes: Sequence[str] | None = None,
        *,
        prompts: Sequence[str] | None = None,
        template: str = DEFAULT_TEMPLATE,
    ) -> StableDiffusionDenoiser:
        """From a loaded ``StableDiffusionPipeline`` (its UNet, VAE, text encoder, tokenizer, scheduler)."""
        names, prompts = class_prompts(classes, prompts, template)
        p = pipeline
        return cls(p.unet, p.vae, p.text_encoder, p.tokenizer, p.scheduler, names, prompts)

    def network(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """UNet(x_t, t, prompt embedding of each label): [M, C, h, w], [M], [M] -> [M, C, h, w]."""
        return self.unet(x_t, t, encoder_hidden_states=self.prompt_embeddings[labels]).sample
