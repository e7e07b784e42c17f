"""Training the tiny Stable Diffusion of the world of shapes from scratch, the way Stable
Diffusion is trained: the autoencoder first, then the UNet with the text encoder.

1. The KL autoencoder: ||decode(z) - x||^2 + beta KL(q(z|x) || N(0, I)), z ~ q(z|x), both summed
   over an image's pixels and latents (the latent diffusion paper's objective without its
   perceptual and adversarial terms; beta = 1e-6 as SD's, so the latents keep the detail). Then ``scaling_factor`` = 1 / std of the latents, as
   SD's 0.18215 was measured, so the diffusion sees latents of unit variance.
2. The UNet eps_theta(x_t, t, text) and the text encoder, jointly, on the simple loss
   ||eps - eps_theta(sqrt(abar_t) z + sqrt(1 - abar_t) eps, t, text)||^2 with t uniform and a
   caption dropped to "" now and then (so the model also learns p(x), for guided sampling).
   The weights kept are an exponential moving average of the trained ones, as SD's are.

Scenes come from :func:`toyclf.scenes.make_scenes`: a pool drawn once (one and two objects, the
held-out colour-shape pairs never drawn), each step a batch of them with one of their true
captions picked at random.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from toyclf.scenes import HELD_OUT_COMBINATIONS, Scene, make_scenes

KL_WEIGHT = 1e-6  # beta of the autoencoder's objective (Stable Diffusion's)
CAPTION_DROPOUT = 0.1  # the share of captions replaced by "" while the UNet trains
EMA_DECAY = 0.999


def scene_pool(n: int, *, size: int = 32, random_state: int = 0) -> tuple[torch.Tensor, list[Scene]]:
    """``n`` training scenes, half with one object and half with two, never a held-out pair:
    (images [n, 3, size, size] in [-1, 1], scenes)."""
    rng = np.random.RandomState(random_state)
    one, one_scenes = make_scenes(n - n // 2, size=size, exclude=HELD_OUT_COMBINATIONS, random_state=rng)
    two, two_scenes = make_scenes(n // 2, size=size, n_objects=2, exclude=HELD_OUT_COMBINATIONS, random_state=rng)
    images = torch.from_numpy(np.concatenate([one, two])).permute(0, 3, 1, 2) * 2 - 1  # [n, 3, S, S]
    return images.contiguous(), one_scenes + two_scenes


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int, warmup: int = 200) -> Any:
    """Linear warm-up over ``warmup`` steps, then a cosine decay to 0 at ``steps``."""
    warmup = min(warmup, max(steps // 10, 1))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + np.cos(np.pi * (step - warmup) / max(steps - warmup, 1)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_autoencoder(
    vae: Any,
    images: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train ``vae`` (an ``AutoencoderKL``) on ``images`` [n, 3, S, S] in [-1, 1], then set its
    ``scaling_factor`` to 1 / the std of the latents; returns the loss of every step."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=learning_rate, weight_decay=0.0)
    schedule = warmup_cosine(optimizer, steps)
    vae.train()
    losses = []
    for _ in tqdm(range(steps), desc="autoencoder", disable=not progress):
        x = images[torch.randint(len(images), (batch_size,), generator=generator)]  # [B, 3, S, S]
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
        reconstruction = (vae.decode(z).sample - x).pow(2).sum((1, 2, 3))  # [B], summed over pixels as the KL is
        loss = (reconstruction + KL_WEIGHT * posterior.kl()).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    vae.eval().requires_grad_(False)
    latents = encode_latents(vae, images, scaling_factor=1.0)
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return losses


@torch.inference_mode()
def encode_latents(vae: Any, images: torch.Tensor, *, scaling_factor: float | None = None) -> torch.Tensor:
    """The posterior means of ``images``, scaled (what the classifier encodes): [n, C, h, w]."""
    factor = vae.config.scaling_factor if scaling_factor is None else scaling_factor
    return torch.cat([vae.encode(part).latent_dist.mean for part in images.split(256)]) * factor


def caption_ids(tokenizer: Any, captions: list[str]) -> torch.Tensor:
    """Token ids [B, L] padded to the tokenizer's length, as the pipeline's ``encode_prompt`` makes them."""
    return tokenizer(
        captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids


def pick_captions(scenes: list[Scene], rng: np.random.RandomState, dropout: float = 0.0) -> list[str]:
    """One true caption of each scene, chosen at random; "" with probability ``dropout``."""
    captions = []
    for scene in scenes:
        options = scene.captions()
        captions.append("" if rng.rand() < dropout else options[rng.randint(len(options))])
    return captions


def train_denoiser(
    pipeline: Any,
    images: torch.Tensor,
    scenes: list[Scene],
    *,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train the pipeline's UNet and text encoder on the captioned scenes (the simple loss, eq. 1
    of the paper with uniform weights), leaving their moving averages in the pipeline; returns the
    loss of every step."""
    unet, text_encoder, scheduler = pipeline.unet, pipeline.text_encoder, pipeline.scheduler
    latents = encode_latents(pipeline.vae, images)  # [n, C, h, w]: once, the posterior means
    rng, generator = np.random.RandomState(seed), torch.Generator().manual_seed(seed)
    networks = torch.nn.ModuleList([unet, text_encoder]).train().requires_grad_(True)
    averaged = copy.deepcopy(networks).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(networks.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = warmup_cosine(optimizer, steps)
    abar = scheduler.alphas_cumprod.float()  # [T]
    losses = []
    for step in tqdm(range(steps), desc="UNet and text encoder", disable=not progress):
        index = rng.randint(len(latents), size=batch_size)
        z = latents[index]  # [B, C, h, w]
        ids = caption_ids(pipeline.tokenizer, pick_captions([scenes[i] for i in index], rng, CAPTION_DROPOUT))
        t = torch.randint(len(abar), (batch_size,), generator=generator)  # [B]
        eps = torch.randn(z.shape, generator=generator)
        scale = abar[t].sqrt()[:, None, None, None]
        x_t = scale * z + (1 - scale**2).sqrt() * eps
        prediction = unet(x_t, t, encoder_hidden_states=text_encoder(ids)[0]).sample
        loss = (prediction - eps).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(networks.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        decay = min(EMA_DECAY, (1 + step) / (10 + step))  # diffusers' EMAModel warm-up: short runs average less
        with torch.no_grad():
            for kept, trained in zip(averaged.parameters(), networks.parameters(), strict=True):
                kept.lerp_(trained, 1 - decay)
        losses.append(loss.item())
    networks.load_state_dict(averaged.state_dict())
    networks.eval().requires_grad_(False)
    return losses


@torch.inference_mode()
def sample_images(
    pipeline: Any, prompts: list[str], *, per_prompt: int = 8, steps: int = 50, seed: int = 0
) -> np.ndarray:
    """Generated images [len(prompts), per_prompt, S, S, 3] in [0, 1]: the pipeline's own sampler
    (DDPM in ``steps`` steps, classifier-free guidance 3), seeded."""
    generator = torch.Generator().manual_seed(seed)
    pipeline.set_progress_bar_config(disable=True)
    output = pipeline(
        prompts,
        num_images_per_prompt=per_prompt,
        num_inference_steps=steps,
        guidance_scale=3.0,
        generator=generator,
        output_type="np",
    ).images  # [K * per_prompt, S, S, 3]
    return output.reshape(len(prompts), per_prompt, *output.shape[1:])


def library_versions() -> dict[str, str]:
    """The versions of the libraries a trained model depends on, for its record."""
    import diffusers
    import transformers

    return {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__}
