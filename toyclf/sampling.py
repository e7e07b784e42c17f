"""Sampling from a trained denoiser: what did the model learn? (DDPM and DDIM).

Both start from x_T ~ N(0, I) and go through the model's estimate of the clean point,

    x0_hat = ( x_t - sqrt(1 - abar_t) eps_theta(x_t, t, c) ) / sqrt(abar_t),   clipped to [-clip, clip]

DDPM, Ho et al. (2020) Algorithm 2 in its posterior-mean form (eqs. 6-7), over all T steps:
    x_{t-1} = ( sqrt(abar_{t-1}) beta_t x0_hat + sqrt(alpha_t) (1 - abar_{t-1}) x_t ) / (1 - abar_t) + sigma_t z,
    sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t)
DDIM, Song et al. (2021) eq. 12 with eta = 0, over ``n_steps`` evenly spaced steps:
    x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s) eps_theta(x_t, t, c)

Clipping matters at the first steps, where sqrt(abar_t) is tiny (2e-4 for a cosine schedule)
and divides the model's small error in eps into a huge one in x0_hat (as diffusers'
``clip_sample`` does for images in [-1, 1]).
"""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm import tqdm

from toyclf.denoisers.base import Denoiser
from toyclf.utils.validation import is_int

METHODS = ("ddpm", "ddim")


@torch.no_grad()
def sample(
    denoiser: Denoiser,
    labels: Tensor,
    *,
    method: str = "ddpm",
    n_steps: int = 50,
    clip: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Tensor:
    """Draw one sample x_0 [*S] per label id: [n] long -> [n, *S] (in the denoiser's space).

    All noise comes from a CPU generator seeded with ``seed``. ``n_steps`` is used by DDIM only;
    DDPM runs every one of the T steps. ``clip`` bounds |x0_hat| (None: no clipping).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")
    if not is_int(n_steps):
        raise ValueError(f"n_steps must be a positive int; got {n_steps!r}.")
    device, schedule = denoiser.device, denoiser.schedule
    labels = torch.as_tensor(labels, dtype=torch.long).to(device)
    abar = schedule.alphas_cumprod.to(device)  # [T], float64
    generator = torch.Generator().manual_seed(int(seed))

    def gaussian() -> Tensor:  # [n, *S], drawn on the CPU, then moved
        return torch.randn((len(labels), *denoiser.latent_shape), generator=generator).to(device)

    def denoise(x: Tensor, t: int) -> tuple[Tensor, Tensor]:  # eps_theta and x0_hat, [n, *S] each
        eps = denoiser.predict_noise(x.float(), torch.full_like(labels, t), labels).double()
        x0_hat = (x - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()
        return eps, x0_hat if clip is None else x0_hat.clamp(-clip, clip)

    x = gaussian().double()  # x_T ~ N(0, I)
    if method == "ddpm":
        betas = schedule.betas.to(device)
        for t in tqdm(range(schedule.num_timesteps - 1, -1, -1), desc="sampling", disable=not progress, leave=False):
            _, x0_hat = denoise(x, t)
            if t == 0:
                return x0_hat.float()
            mean = (abar[t - 1].sqrt() * betas[t] * x0_hat + (1 - betas[t]).sqrt() * (1 - abar[t - 1]) * x) / (
                1 - abar[t]
            )
            x = mean + (betas[t] * (1 - abar[t - 1]) / (1 - abar[t])).sqrt() * gaussian()

    steps = torch.linspace(schedule.num_timesteps - 1, 0, min(n_steps, schedule.num_timesteps)).round().long().tolist()
    for t, s in zip(tqdm(steps, desc="sampling", disable=not progress, leave=False), [*steps[1:], None], strict=True):
        eps, x0_hat = denoise(x, t)
        x = x0_hat if s is None else abar[s].sqrt() * x0_hat + (1 - abar[s]).sqrt() * eps
    return x.float()
