"""Tiny random Stable Diffusion (1/2, XL, 3) and DiT pipelines, saved to a folder for the tests.

They have the real architectures' layout (:mod:`toyclf.pretrained.random_pipelines`: a
cross-attention UNet, a KL autoencoder, CLIP text encoders; SDXL's second text encoder and added
time embedding; SD3's MM-DiT, three text encoders with T5 and a flow-matching scheduler; a DiT
transformer with adaLN-zero and learned-variance channels), thousands to a million parameters
each and random weights. Saved with ``save_pretrained``, a folder loads through exactly the code
that loads a hub id (:func:`toyclf.pretrained.load_denoiser`), so the tests, notebook 03 in CI
and the benchmarks' CPU mode exercise the real path without downloading anything. A pipeline is
a few MB and builds in well under a second.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from toyclf.pretrained import random_pipelines

# The tiny configs: the real layouts at a width of a few channels, one compact table each
# (fmt: off keeps the formatter from spreading them to one keyword a line).
# fmt: off
TINY_UNET = dict(  # a cross-attention UNet of the SD layout, about 1 M parameters
    block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=32, attention_head_dim=(2, 4), norm_num_groups=32,
)
TINY_VAE = dict(  # a KL autoencoder: 32x32 RGB images <-> 16x16x4 latents (one downsampling)
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), layers_per_block=1,
    down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
    norm_num_groups=8, sample_size=32,
)
TINY_CLIP_TEXT = dict(  # a 2-layer CLIP text encoder; ids 0 and 1 are tiny_clip_tokenizer's start and end
    hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
    vocab_size=600, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1,
)
TINY_DIT = dict(  # a 2-layer DiT on 16x16x4 latents in 2x2 patches; 8 outputs: eps and the learned variance
    num_attention_heads=2, attention_head_dim=8, num_layers=2, patch_size=2,
    in_channels=4, out_channels=8, sample_size=16,
)
TINY_T5 = dict(  # a 2-layer T5 encoder of width 64: SD3's third text encoder
    vocab_size=128, d_model=64, d_ff=37, d_kv=8, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
)
TINY_SD3 = dict(  # a 2-layer MM-DiT on 16x16x16 latents in 2x2 patches; text width 64 = T5's = two CLIPs'
    sample_size=16, patch_size=2, in_channels=16, out_channels=16, num_layers=2, attention_head_dim=8,
    num_attention_heads=2, joint_attention_dim=64, caption_projection_dim=16, pooled_projection_dim=64,
    pos_embed_max_size=16,
)
TINY_SDXL_UNET = dict(  # cross-attention on both encoders' states (32 + 32); pooled (32) + 6 time ids (8 each) added
    TINY_UNET, cross_attention_dim=64, addition_embed_type="text_time", addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=32 + 6 * 8,
)
# fmt: on
TINY = {  # the spec of each architecture (random_pipelines)
    "sd": dict(unet=TINY_UNET, vae=TINY_VAE, text_encoder=TINY_CLIP_TEXT),
    "sdxl": dict(
        unet=TINY_SDXL_UNET,
        vae=dict(TINY_VAE, scaling_factor=0.13025, force_upcast=True),  # fp32 only, as SDXL's
        text_encoder=TINY_CLIP_TEXT,
        text_encoder_2=dict(TINY_CLIP_TEXT, projection_dim=32),
    ),
    "sd3": dict(
        transformer=TINY_SD3,
        vae=dict(TINY_VAE, latent_channels=16, scaling_factor=1.5305, shift_factor=0.0609),
        text_encoder=dict(TINY_CLIP_TEXT, projection_dim=32),
        text_encoder_2=dict(TINY_CLIP_TEXT, projection_dim=32),
        t5=TINY_T5,
    ),
    "dit": dict(transformer=TINY_DIT, vae=TINY_VAE),
}


def save_tiny_stable_diffusion(
    folder: str | os.PathLike, *, prediction_type: str = "epsilon", image_size: int = 32, seed: int = 0
) -> Path:
    """Build a random Stable Diffusion pipeline (UNet block_out_channels (32, 64), scaled_linear
    schedule, ``prediction_type`` "epsilon" or "v_prediction") and save it to ``folder``."""
    spec = dict(TINY["sd"], unet=dict(TINY_UNET, sample_size=image_size // 2))
    random_pipelines.stable_diffusion(spec, prediction_type=prediction_type, seed=seed).save_pretrained(folder)
    return Path(folder)


def save_tiny_stable_diffusion_xl(folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Build a random SDXL pipeline (two CLIP text encoders, the second with a projection; a UNet
    with the "text_time" added embedding; an fp32-only VAE; Euler scheduler) and save it."""
    random_pipelines.stable_diffusion_xl(TINY["sdxl"], seed=seed).save_pretrained(folder)
    return Path(folder)


def save_tiny_stable_diffusion_3(folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Build a random Stable Diffusion 3 pipeline (MM-DiT transformer, 16-channel VAE with a shift
    factor, two projecting CLIP text encoders and a T5, flow matching with SD3's shift 3) and save it."""
    random_pipelines.stable_diffusion_3(TINY["sd3"], seed=seed).save_pretrained(folder)
    return Path(folder)


def save_tiny_dit(
    folder: str | os.PathLike,
    *,
    class_names: tuple[str, ...] = ("tench", "goldfish", "great white shark"),
    seed: int = 0,
) -> Path:
    """Build a random class-conditional DiT pipeline (8 output channels: eps and the learned
    variance, a null class at index ``len(class_names)``, linear schedule) and save it to ``folder``."""
    save_id2label(random_pipelines.dit(TINY["dit"], class_names, seed=seed), folder, class_names)
    return Path(folder)


def save_id2label(pipeline, folder: str | os.PathLike, class_names: tuple[str, ...]) -> None:
    """Save a DiT pipeline with the ``id2label`` table that the hub's carry in model_index.json
    (diffusers reads it back but does not write it)."""
    pipeline.save_pretrained(folder)
    index_file = Path(folder) / "model_index.json"
    index = json.loads(index_file.read_text())
    index["id2label"] = {str(i): name for i, name in enumerate(class_names)}
    index_file.write_text(json.dumps(index, indent=2))
