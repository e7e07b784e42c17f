"""Stable Diffusion as a zero-shot classifier: classes are text prompts (the paper's section 3).

The UNet eps_theta(x_t, t, text) is conditioned on the CLIP embedding of one prompt per class
("a photo of a {}."), computed once by the pipeline's own ``encode_prompt`` and cached; a label
id k picks prompt k. SDXL and Stable Diffusion 3 (:mod:`toyclf.pretrained.stable_diffusion_xl`,
:mod:`toyclf.pretrained.stable_diffusion_3`) differ only in what else their prompts give. Images
become VAE latents once (:class:`~toyclf.pretrained.latent.LatentDenoiser`). The estimator drives
it as it drives the toy MLP: it never knows which denoiser it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from toyclf.pretrained.latent import LatentDenoiser

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
    if classes is not None and len(set(names)) != len(names):
        raise ValueError(f"class names must be distinct; got {names}.")
    empty = [i for i, prompt in enumerate(prompts) if not prompt.strip()]
    if empty:
        raise ValueError(f"prompts must not be empty; prompts[{empty[0]}] of {prompts} is {prompts[empty[0]]!r}.")
    repeated = sorted({p for p in prompts if prompts.count(p) > 1})
    if repeated:
        raise ValueError(
            f"prompts must be distinct (two classes with one prompt cannot be told apart); {repeated[0]!r} repeats."
        )
    return names, prompts


def check_prompt_tokens(tokenizer: Any, prompts: Sequence[str]) -> None:
    """Refuse, naming the prompt, what a CLIP text encoder would read wrongly or silently alike:
    a prompt longer than it takes (the pipeline would cut it), text its tokenizer cannot read
    (the unknown token), two prompts that tokenize alike ("A red circle", "a red circle "), or,
    where the tokenizer records the only words it was made for (``words``, toyclf's word
    tokenizer for a model trained here), another word (one the model never saw). ``tokenizer``:
    a pipeline's first (CLIP) tokenizer, or a CLIP model's; any other is not checked."""
    if tokenizer is None or "CLIP" not in type(tokenizer).__name__:
        return
    limit, seen = tokenizer.model_max_length, {}
    words = tokenizer.init_kwargs.get("words")  # a closed vocabulary (toyclf's word tokenizer), or None
    for prompt in prompts:
        ids = tokenizer(prompt).input_ids  # with the start and end tokens
        if len(ids) > limit:
            raise ValueError(
                f"the prompt {prompt!r} is {len(ids)} tokens; the text encoder takes at most {limit} "
                "(with its start and end): shorten it."
            )
        if tokenizer.unk_token_id in ids[1:-1]:
            raise ValueError(
                f"the prompt {prompt!r} holds text the tokenizer does not know (it reads as "
                f"{tokenizer.convert_ids_to_tokens(ids[1:-1])}): leave out punctuation or other characters."
            )
        unknown = [word for word in prompt.lower().split() if words is not None and word not in words]
        if unknown:
            raise ValueError(
                f"in the prompt {prompt!r}, {unknown[0]!r} is not a word the model was trained on; it knows "
                f"{', '.join(words)}."
            )
        if tuple(ids) in seen:
            raise ValueError(f"the prompts {seen[tuple(ids)]!r} and {prompt!r} read the same to the text encoder.")
        seen[tuple(ids)] = prompt


class PromptDenoiser(LatentDenoiser):
    """A text-to-image backbone behind the Denoiser protocol, one text prompt per class.

    Build one with :meth:`from_pipeline` from a loaded pipeline; to load one from a hub id or a
    local folder, use :func:`toyclf.pretrained.load_denoiser` (the one loader of pretrained models).
    A subclass says how its pipeline encodes prompts (:meth:`encode_prompts`) and how its backbone
    takes them (:meth:`network`).

    Attributes
    ----------
    prompts : list of str, the prompt of every label id
    prompt_embeddings : Tensor [K, L, E], the text encoders' hidden states per prompt
    pooled_embeddings : Tensor [K, P] or None, one pooled vector per prompt (SDXL, SD3)
    """

    def __init__(
        self,
        backbone: Any,
        vae: Any,
        scheduler: Any,
        names: Sequence[str],
        prompts: Sequence[str],
        prompt_embeddings: Tensor,
        pooled_embeddings: Tensor | None = None,
    ) -> None:
        super().__init__(backbone, vae, scheduler, list(names))
        self.prompts = list(prompts)
        self.register_buffer("prompt_embeddings", prompt_embeddings.to(self.device, self.dtype).clone())  # [K, L, E]
        pooled = None if pooled_embeddings is None else pooled_embeddings.to(self.device, self.dtype).clone()
        self.register_buffer("pooled_embeddings", pooled)  # [K, P] or None

    @classmethod
    def from_pipeline(
        cls,
        pipeline: Any,
        classes: Sequence[str] | None = None,
        *,
        prompts: Sequence[str] | None = None,
        template: str = DEFAULT_TEMPLATE,
    ) -> PromptDenoiser:
        """From a loaded pipeline: its backbone, VAE and scheduler, and every prompt encoded once."""
        names, prompts = class_prompts(classes, prompts, template)
        check_prompt_tokens(getattr(pipeline, "tokenizer", None), prompts)
        with torch.inference_mode():
            embeddings = cls.encode_prompts(pipeline, prompts)
        backbone = pipeline.transformer if hasattr(pipeline, "transformer") else pipeline.unet
        return cls(backbone, pipeline.vae, pipeline.scheduler, names, prompts, *embeddings)

    @staticmethod
    def encode_prompts(pipeline: Any, prompts: list[str]) -> tuple[Tensor, ...]:
        """The pipeline's own ``encode_prompt``, without classifier-free guidance: embeddings [K, L, E]
        (and pooled [K, P] where the backbone takes them)."""
        raise NotImplementedError


class StableDiffusionDenoiser(PromptDenoiser):
    """Stable Diffusion 1 or 2: a UNet conditioned on CLIP's last hidden state [K, 77, E]."""

    @property
    def unet(self) -> Any:
        return self.backbone

    @staticmethod
    def encode_prompts(pipeline: Any, prompts: list[str]) -> tuple[Tensor]:
        embeddings, _ = pipeline.encode_prompt(prompts, pipeline.device, 1, do_classifier_free_guidance=False)
        return (embeddings,)  # [K, 77, E]

    def network(self, x_t: Tensor, timesteps: Tensor, labels: Tensor) -> Tensor:
        """UNet(x_t, t, prompt embedding of each label): [M, C, h, w], [M], [M] -> [M, C, h, w]."""
        return self.unet(x_t, timesteps, encoder_hidden_states=self.prompt_embeddings[labels]).sample
