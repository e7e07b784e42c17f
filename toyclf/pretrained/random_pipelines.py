"""Random diffusers pipelines of the real architectures, at any size, built offline from configs.

Stable Diffusion 1/2, SDXL, Stable Diffusion 3 and DiT, each assembled from one config per part
(``spec``: the backbone, the VAE, the text encoders) with random weights and character-level
tokenizers made in memory, so nothing is downloaded. :mod:`toyclf.pretrained.tiny` builds them
a few channels wide for the tests; ``benchmarks/real_size.py`` at the published sizes, where
speed does not depend on the weights. Built on ``device`` directly (a GPU initialises billions
of weights in seconds), in float32.
"""

from __future__ import annotations

from typing import Any

import torch

from toyclf.pretrained.loading import quiet_libraries

SD_SCHEDULE = dict(  # Stable Diffusion's scaled_linear DDPM schedule
    beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
)
DIT_SCHEDULE = dict(beta_start=0.0001, beta_end=0.02, beta_schedule="linear", clip_sample=False)

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


def _vae(config: dict, seed: int):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(**config).eval()


def _clip(config: dict, *, projection: bool = False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    model = CLIPTextModelWithProjection if projection else CLIPTextModel
    return model(CLIPTextConfig(**config)).eval()


def stable_diffusion(
    spec: dict, *, prediction_type: str = "epsilon", seed: int = 0, device: str | torch.device = "cpu"
) -> Any:
    """A ``StableDiffusionPipeline``: spec["unet"], spec["vae"], spec["text_encoder"] (CLIP)."""
    from diffusers import DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    quiet_libraries()
    with torch.device(device):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**spec["unet"]).eval()
        text_encoder = _clip(spec["text_encoder"])
        return StableDiffusionPipeline(
            vae=_vae(spec["vae"], seed),
            text_encoder=text_encoder,
            tokenizer=tiny_clip_tokenizer(),
            unet=unet,
            scheduler=DDPMScheduler(**SD_SCHEDULE, prediction_type=prediction_type),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )


def stable_diffusion_xl(spec: dict, *, seed: int = 0, device: str | torch.device = "cpu") -> Any:
    """A ``StableDiffusionXLPipeline``: spec["unet"] (with the "text_time" added embedding),
    spec["vae"], spec["text_encoder"] and spec["text_encoder_2"] (CLIP, with a projection)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    quiet_libraries()
    schedule = {key: value for key, value in SD_SCHEDULE.items() if key != "clip_sample"}
    with torch.device(device):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**spec["unet"]).eval()
        text_encoder, text_encoder_2 = _clip(spec["text_encoder"]), _clip(spec["text_encoder_2"], projection=True)
        return StableDiffusionXLPipeline(
            vae=_vae(spec["vae"], seed),
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tiny_clip_tokenizer(),
            tokenizer_2=tiny_clip_tokenizer(),
            unet=unet,
            scheduler=EulerDiscreteScheduler(**schedule),
        )


def stable_diffusion_3(spec: dict, *, seed: int = 0, device: str | torch.device = "cpu") -> Any:
    """A ``StableDiffusion3Pipeline``: spec["transformer"] (MM-DiT), spec["vae"], spec["text_encoder"]
    and spec["text_encoder_2"] (CLIP, with projections), spec["t5"]; flow matching, shift 3."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import T5Config, T5EncoderModel

    quiet_libraries()
    with torch.device(device):
        torch.manual_seed(seed)
        transformer = SD3Transformer2DModel(**spec["transformer"]).eval()
        vae = _vae(spec["vae"], seed)
        return StableDiffusion3Pipeline(
            transformer=transformer,
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
            vae=vae,
            text_encoder=_clip(spec["text_encoder"], projection=True),
            tokenizer=tiny_clip_tokenizer(),
            text_encoder_2=_clip(spec["text_encoder_2"], projection=True),
            tokenizer_2=tiny_clip_tokenizer(),
            text_encoder_3=T5EncoderModel(T5Config(**spec["t5"])).eval(),
            tokenizer_3=tiny_t5_tokenizer(),
        )


def dit(spec: dict, class_names: tuple[str, ...], *, seed: int = 0, device: str | torch.device = "cpu") -> Any:
    """A ``DiTPipeline``: spec["transformer"] (one label per class name, plus the null class),
    spec["vae"], a linear schedule, and the ``id2label`` table of the hub's DiT pipelines."""
    from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    quiet_libraries()
    with torch.device(device):
        torch.manual_seed(seed)
        transformer = DiTTransformer2DModel(**spec["transformer"], num_embeds_ada_norm=len(class_names)).eval()
        labels = dict(enumerate(class_names))
        return DiTPipeline(transformer, _vae(spec["vae"], seed), DDIMScheduler(**DIT_SCHEDULE), id2label=labels)
