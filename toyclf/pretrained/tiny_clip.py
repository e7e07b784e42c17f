"""A tiny CLIP for the world of shapes: the usual zero-shot classifier by prompt, to compare with.

CLIP (Radford et al., 2021) trains an image encoder f and a text encoder g so that matching
(image, caption) pairs have a high cosine similarity and the others a low one (the symmetric
InfoNCE loss over a batch), and classifies an image x by prompt:

    p(c | x) = softmax_c( s * cos(f(x), g(prompt_c)) ),     s = exp(logit_scale), learned

Here both encoders are transformers' ``CLIPModel`` at toy size (a 4-layer ViT on 4 x 4 patches of
the 32 x 32 scenes, the 2-layer text encoder and word tokenizer of the tiny Stable Diffusion),
trained on the same captioned scenes. A caption is often true of several scenes of a batch ("a
circle" of every circle), so every true (scene, caption) pair counts as a match, the targets
spread over them, not as a negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from toyclf.pretrained.shapes_model import SHAPES_TEXT_ENCODER, word_tokenizer
from toyclf.pretrained.shapes_training import caption_ids, pick_captions, warmup_cosine
from toyclf.pretrained.stable_diffusion import check_prompt_tokens
from toyclf.scenes import Scene

# fmt: off
CLIP_VISION = dict(  # a 4-layer ViT of width 64 on 4x4 patches of a 32x32 scene (64 patches)
    image_size=32, patch_size=4, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
)
# fmt: on


def tiny_clip(*, seed: int = 0, image_size: int = 32) -> tuple[Any, Any]:
    """An untrained (``CLIPModel``, word tokenizer), projections of width 64."""
    from transformers import CLIPConfig, CLIPModel

    tokenizer = word_tokenizer()
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config=dict(SHAPES_TEXT_ENCODER, vocab_size=len(tokenizer)),
        vision_config=dict(CLIP_VISION, image_size=image_size),
        projection_dim=64,
    )
    return CLIPModel(config), tokenizer


def train_clip(
    model: Any,
    tokenizer: Any,
    images: torch.Tensor,
    scenes: list[Scene],
    *,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` contrastively on the captioned scenes (images [n, 3, S, S] in [-1, 1]);
    returns the loss of every step."""
    rng = np.random.RandomState(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = warmup_cosine(optimizer, steps)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="CLIP", disable=not progress):
        index = rng.randint(len(images), size=batch_size)
        batch = [scenes[i] for i in index]
        captions = pick_captions(batch, rng)
        logits = model(input_ids=caption_ids(tokenizer, captions), pixel_values=images[index]).logits_per_image
        loss = contrastive_loss(logits, matches(batch, captions))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval().requires_grad_(False)
    return losses


def matches(scenes: list[Scene], captions: list[str]) -> torch.Tensor:
    """[B, B]: 1 where caption j is true of scene i (its own, and any other it fits: "a circle"
    is true of every circle in the batch), else 0."""
    truths = [set(scene.captions()) for scene in scenes]  # once a scene, not once a (scene, caption)
    return torch.tensor([[caption in true for caption in captions] for true in truths]).float()


def contrastive_loss(logits: torch.Tensor, matches: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric cross-entropy over a batch (image -> caption and caption -> image), its
    targets spread evenly over every true match: logits [B images, B captions], matches [B, B]."""
    image_targets = matches / matches.sum(1, keepdim=True)  # each image's true captions
    caption_targets = matches.T / matches.T.sum(1, keepdim=True)  # each caption's true images
    cross_entropy = torch.nn.functional.cross_entropy
    return (cross_entropy(logits, image_targets) + cross_entropy(logits.T, caption_targets)) / 2


@torch.inference_mode()
def clip_logits(model: Any, tokenizer: Any, images: torch.Tensor, prompts: Sequence[str]) -> torch.Tensor:
    """s * cos(f(x), g(prompt)) for every image and prompt: images [B, 3, S, S] in [-1, 1] -> [B, K];
    its softmax over the prompts is CLIP's zero-shot posterior."""
    prompts = list(prompts)
    check_prompt_tokens(tokenizer, prompts)  # the diffusion model's checks: the same text encoder and words
    ids = caption_ids(tokenizer, prompts)  # [K, L]
    return torch.cat([model(input_ids=ids, pixel_values=part).logits_per_image for part in images.split(256)])
