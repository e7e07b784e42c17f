"""Tiny random Stable Diffusion (1/2, XL, 3) and DiT pipelines, built offline from configs and saved.

They have the real architectures' layout (a cross-attention UNet, a KL autoencoder, CLIP text
encoders and tokenizers; SDXL's second text encoder and added time embedding; SD3's MM-DiT, three
text encoders with T5 and a flow-matching scheduler; a DiT transformer with adaLN-zero and
learned-variance channels), thousands to a million parameters each and random weights. Saved with ``save_pretrained``, a folder loads
through exactly the code that loads a hub id (:func:`toyclf.denoisers.load_denoiser`), so the
tests, notebook 03 in CI and the benchmark's CPU mode exercise the real path without downloading
anything. A pipeline is a few MB and builds in well under a second.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from toyclf.denoisers.pretrained import quiet_libraries

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
SD_SCHEDULE = dict(  # Stable Diffusion's scaled_linear DDPM schedule
    beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1,
)
# fmt: on

# the 256 byte-level BPE symbols CLIP's tokenizer starts from (GPT-2's bytes_to_unicode)
_PRINTABLE = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
_BYTE_SYMBOLS = [chr(b) for b in _PRINTABLE] + [chr(256 + i) for i in range(256 - len(_PRINTABLE))]


def tiny_clip_tokenizer():
    """A CLIPTokenizer with a character-level vocabulary (no merges): every text tokenizes offline."""
    from transformers import CLIPTokenizer

    symbols = ["<|startoftext|>", "<|endoftext|>", *_BYTE_SYMBOLS, *(s + "</w>" for s in _BYTE_SYMBOLS)]
    return CLIPTokenizer(vocab={s: i for i, s in enumerate(symbols)}, merges=[], model_max_length=77)


def tiny_t5_tokenizer():
    """A T5 tokenizer with a character-level unigram vocabulary: every ASCII text tokenizes offline."""
    from transformers import T5Tokenizer

    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]  # ids 0, 1, 2; the word start
    return T5Tokenizer(vocab=specials + [(chr(c), -3.0) for c in range(32, 127)], extra_ids=0)


def _tiny_vae(seed: int, **config):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(**{**TINY_VAE, **config}).eval()


def save_tiny_stable_diffusion(
    folder: str | os.PathLike, *, prediction_type: str = "epsilon", image_size: int = 32, seed: int = 0
) -> Path:
    """Build a random Stable Diffusion pipeline (UNet block_out_channels (32, 64), scaled_linear
    schedule, ``prediction_type`` "epsilon" or "v_prediction") and save it to ``folder``."""
    from diffusers import DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    quiet_libraries()

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**{**TINY_UNET, "sample_size": image_size // 2})
    text_encoder = CLIPTextModel(CLIPTextConfig(**TINY_CLIP_TEXT))
    scheduler = DDPMScheduler(**SD_SCHEDULE, prediction_type=prediction_type)
    pipeline = StableDiffusionPipeline(
        vae=_tiny_vae(seed),
        text_encoder=text_encoder.eval(),
        tokenizer=tiny_clip_tokenizer(),
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(folder)
    return Path(folder)


def save_tiny_stable_diffusion_xl(folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Build a random SDXL pipeline (two CLIP text encoders, the second with a projection; a UNet
    with the "text_time" added embedding; an fp32-only VAE; Euler scheduler) and save it."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    quiet_libraries()

    torch.manual_seed(seed)
    width, projection, time_width = TINY_CLIP_TEXT["hidden_size"], 32, 8
    unet = UNet2DConditionModel(  # cross-attention on both encoders' states; pooled + 6 time ids added
        **{**TINY_UNET, "cross_attention_dim": 2 * width},
        addition_embed_type="text_time",
        addition_time_embed_dim=time_width,
        projection_class_embeddings_input_dim=projection + 6 * time_width,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(**TINY_CLIP_TEXT))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**TINY_CLIP_TEXT, projection_dim=projection))
    schedule = {key: value for key, value in SD_SCHEDULE.items() if key != "clip_sample"}
    StableDiffusionXLPipeline(
        vae=_tiny_vae(seed, scaling_factor=0.13025, force_upcast=True),
        text_encoder=text_encoder.eval(),
        text_encoder_2=text_encoder_2.eval(),
        tokenizer=tiny_clip_tokenizer(),
        tokenizer_2=tiny_clip_tokenizer(),
        unet=unet.eval(),
        scheduler=EulerDiscreteScheduler(**schedule),
    ).save_pretrained(folder)
    return Path(folder)


def save_tiny_stable_diffusion_3(folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Build a random Stable Diffusion 3 pipeline (MM-DiT transformer, 16-channel VAE with a shift
    factor, two projecting CLIP text encoders and a T5, flow matching with SD3's shift 3) and save it."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    quiet_libraries()

    torch.manual_seed(seed)
    clip = CLIPTextConfig(**TINY_CLIP_TEXT, projection_dim=32)
    StableDiffusion3Pipeline(
        transformer=SD3Transformer2DModel(**TINY_SD3).eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_tiny_vae(seed, latent_channels=16, scaling_factor=1.5305, shift_factor=0.0609),
        text_encoder=CLIPTextModelWithProjection(clip).eval(),
        tokenizer=tiny_clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(clip).eval(),
        tokenizer_2=tiny_clip_tokenizer(),
        text_encoder_3=T5EncoderModel(T5Config(**TINY_T5)).eval(),
        tokenizer_3=tiny_t5_tokenizer(),
    ).save_pretrained(folder)
    return Path(folder)


def save_tiny_dit(
    folder: str | os.PathLike,
    *,
    class_names: tuple[str, ...] = ("tench", "goldfish", "great white shark"),
    seed: int = 0,
) -> Path:
    """Build a random class-conditional DiT pipeline (8 output channels: eps and the learned
    variance, a null class at index ``len(class_names)``, linear schedule) and save it to ``folder``,
    with the ``id2label`` table that the hub's DiT pipelines carry in model_index.json."""
    from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    quiet_libraries()

    torch.manual_seed(seed)
    transformer = DiTTransformer2DModel(**TINY_DIT, num_embeds_ada_norm=len(class_names))
    scheduler = DDIMScheduler(beta_start=0.0001, beta_end=0.02, beta_schedule="linear", clip_sample=False)
    DiTPipeline(transformer.eval(), _tiny_vae(seed), scheduler).save_pretrained(folder)
    index_file = Path(folder) / "model_index.json"
    index = json.loads(index_file.read_text())
    index["id2label"] = {str(i): name for i, name in enumerate(class_names)}
    index_file.write_text(json.dumps(index, indent=2))
    return Path(folder)
