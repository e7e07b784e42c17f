"""The parts of a tiny Stable Diffusion for the world of shapes, untrained: Stable Diffusion's
architecture at toy size, from diffusers and transformers parts.

    images [B, 3, 32, 32]  --KL autoencoder-->  latents [B, 4, 8, 8]
    caption "a red circle" --word tokenizer--> ids [B, 16] --CLIP text encoder--> states [B, 16, 64]
    UNet(noisy latents, t, states) -> eps         cross-attention at both resolutions (8 and 4)
    DDPM scheduler: Stable Diffusion's scaled_linear betas, 1000 steps, epsilon prediction

:func:`shapes_pipeline` assembles them into a ``StableDiffusionPipeline``, so a trained one is
saved with ``save_pretrained`` and loads through :func:`toyclf.pretrained.load_denoiser` as a hub
Stable Diffusion does. The sizes are chosen for a 2-core CPU: one UNet training step on 64
scenes takes a fraction of a second (``benchmarks/README.md``, "Zero-shot in the world of shapes").
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from toyclf.pretrained.loading import quiet_libraries
from toyclf.pretrained.random_pipelines import SD_SCHEDULE
from toyclf.scenes import VOCABULARY

MAX_TOKENS = 16  # the text encoder's positions: the longest caption is 10 tokens with its start and end
# fmt: off
SHAPES_VAE = dict(  # 32x32 RGB <-> 8x8x4 latents: two downsamplings (factor 4)
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 32), layers_per_block=1,
    down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
    norm_num_groups=8, sample_size=32,
)
SHAPES_TEXT_ENCODER = dict(  # a 2-layer CLIP text encoder of width 64 (ids 0, 1: start and end of text)
    hidden_size=64, intermediate_size=128, num_attention_heads=4, num_hidden_layers=2,
    max_position_embeddings=MAX_TOKENS, bos_token_id=0, eos_token_id=1, pad_token_id=1,
)
SHAPES_UNET = dict(  # cross-attention on the text at 8x8, 4x4 and in the middle block
    sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D",) * 2, up_block_types=("CrossAttnUpBlock2D",) * 2,
    cross_attention_dim=64, attention_head_dim=(2, 4), norm_num_groups=32,
)
# fmt: on


def learn_merges(words: tuple[str, ...]) -> list[tuple[str, str]]:
    """Byte-pair merges that build every one of ``words`` into one symbol (CLIP's convention: the
    last character of a word carries "</w>"). Each round merges the most frequent adjacent pair,
    ties broken alphabetically, so the same words always give the same merges."""
    pieces = {word: [*word[:-1], word[-1] + "</w>"] for word in sorted(set(words))}
    merges = []
    while any(len(symbols) > 1 for symbols in pieces.values()):
        counts: dict[tuple[str, str], int] = {}
        for symbols in pieces.values():
            for pair in itertools.pairwise(symbols):
                counts[pair] = counts.get(pair, 0) + 1
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        for word, symbols in pieces.items():
            merged, i = [], 0
            while i < len(symbols):
                if tuple(symbols[i : i + 2]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            pieces[word] = merged
    return merges


def word_tokenizer(words: tuple[str, ...] = VOCABULARY) -> Any:
    """A ``CLIPTokenizer`` that reads each of ``words`` as one token (and other words in pieces).

    Its byte-pair merges are learned from the words themselves (:func:`learn_merges`), so a
    caption of n words is n tokens between the start and end of text, with the same ids every
    time. Punctuation and characters outside the words' alphabet are unknown (the end-of-text id,
    as in CLIP). The words are saved with the tokenizer, so a prompt with another word is refused
    (:func:`toyclf.pretrained.stable_diffusion.check_prompt_tokens`).
    """
    from transformers import CLIPTokenizer

    merges = learn_merges(words)
    letters = sorted({c for word in words for c in word})
    symbols = dict.fromkeys(  # in order, each once
        ["<|startoftext|>", "<|endoftext|>", *letters, *(c + "</w>" for c in letters), *(a + b for a, b in merges)]
    )
    tokenizer = CLIPTokenizer(
        vocab={symbol: i for i, symbol in enumerate(symbols)},
        merges=merges,
        model_max_length=MAX_TOKENS,
        words=list(words),  # saved in tokenizer_config.json: the prompt check refuses any other word
    )
    for word in words:
        if len(tokenizer(word).input_ids) != 3:  # start, the word, end
            raise RuntimeError(f"the word tokenizer splits {word!r}; its merges are wrong.")
    return tokenizer


def shapes_pipeline(*, seed: int = 0, unet: dict | None = None, vae: dict | None = None) -> Any:
    """An untrained ``StableDiffusionPipeline`` of the shapes model's parts (``unet`` and ``vae``
    override their configs: smaller ones for a quick run), with the word tokenizer."""
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    quiet_libraries()
    tokenizer = word_tokenizer()
    torch.manual_seed(seed)
    text_config = CLIPTextConfig(**SHAPES_TEXT_ENCODER, vocab_size=len(tokenizer))
    return StableDiffusionPipeline(
        vae=AutoencoderKL(**(vae or SHAPES_VAE)),
        text_encoder=CLIPTextModel(text_config),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**(unet or SHAPES_UNET)),
        scheduler=DDPMScheduler(**SD_SCHEDULE),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
