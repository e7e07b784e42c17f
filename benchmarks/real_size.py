"""The published architectures, as specs for toyclf.pretrained.random_pipelines (random weights).

Backbones and VAEs at their real sizes, from the models' config.json files; text encoders at
their real widths but one layer deep (they run once per prompt, so their depth does not show in
the speed of classification, and a pipeline builds and saves faster without it). Tokenizers are
character-level (random_pipelines). Nothing here is downloaded.
"""

from __future__ import annotations

from toyclf.pretrained import random_pipelines
from toyclf.pretrained.tiny import TINY

# fmt: off
SD_VAE = dict(  # stabilityai/stable-diffusion-2-base (and sd-vae-ft-ema, DiT's): 8x down, 4 channels
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32,
)
SD2_BASE_UNET = dict(  # stabilityai/stable-diffusion-2-base, unet/config.json: 865.9 M parameters
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
)
SDXL_BASE_UNET = dict(  # stabilityai/stable-diffusion-xl-base-1.0, unet/config.json: 2.57 B parameters
    sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
    use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,
)
SD3_MEDIUM_TRANSFORMER = dict(  # stabilityai/stable-diffusion-3-medium-diffusers: 2.03 B parameters
    sample_size=128, patch_size=2, in_channels=16, out_channels=16, num_layers=24, attention_head_dim=64,
    num_attention_heads=24, joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048,
    pos_embed_max_size=192,
)
DIT_XL_2 = dict(  # facebook/DiT-XL-2-256: 675 M parameters (749.8 M in diffusers, one label table per block)
    num_attention_heads=16, attention_head_dim=72, num_layers=28, patch_size=2, in_channels=4, out_channels=8,
    sample_size=32,
)
# fmt: on


def clip(width: int, heads: int, projection: int | None = None) -> dict:
    """A CLIP text encoder of the given width, one layer deep (random_pipelines' tokenizer ids)."""
    config = dict(TINY["sd"]["text_encoder"], hidden_size=width, intermediate_size=4 * width)
    config |= dict(num_attention_heads=heads, num_hidden_layers=1)
    return config if projection is None else config | dict(projection_dim=projection)


REAL = {  # name: (what it is, builder, spec, keyword arguments of the builder)
    "sd2": (
        "SD 2.0 base UNet, 512 px",
        random_pipelines.stable_diffusion,
        dict(unet=SD2_BASE_UNET, vae=SD_VAE, text_encoder=clip(1024, 16)),
    ),
    "sdxl": (
        "SDXL base UNet, 1024 px",
        random_pipelines.stable_diffusion_xl,
        dict(
            unet=SDXL_BASE_UNET,
            vae=dict(SD_VAE, scaling_factor=0.13025, force_upcast=True),
            text_encoder=clip(768, 12),
            text_encoder_2=clip(1280, 20, projection=1280),
        ),
    ),
    "sd3": (
        "SD3 medium transformer, 1024 px",
        random_pipelines.stable_diffusion_3,
        dict(
            transformer=SD3_MEDIUM_TRANSFORMER,
            vae=dict(SD_VAE, latent_channels=16, scaling_factor=1.5305, shift_factor=0.0609),
            text_encoder=clip(768, 12, projection=768),
            text_encoder_2=clip(1280, 20, projection=1280),
            t5=dict(TINY["sd3"]["t5"], d_model=4096, d_ff=10240, d_kv=64, num_layers=1, num_heads=64),
        ),
    ),
    "dit": ("DiT-XL/2, 256 px", random_pipelines.dit, dict(transformer=DIT_XL_2, vae=SD_VAE)),
}
TINY_MODELS = {  # the same four, at the tests' tiny sizes
    name: (f"tiny {name}", builder, TINY["sd" if name == "sd2" else name]) for name, (_, builder, _) in REAL.items()
}
