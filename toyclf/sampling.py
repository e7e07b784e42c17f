"""Sampling from a trained denoiser: what did the model learn? (DDPM and DDIM).

Both start from x_T ~ N(0, I), and at every step go through the model's estimate of the clean
point (Ho et al. 2020, eq. 15), then take one step of their own, side by side below:

    x0_hat  = ( x_t - sqrt(1 - abar_t) eps_theta(x_t, t, c) ) / sqrt(abar_t),   clipped to [-clip, clip]

    ddpm_step: x_{t-1} = ( sqrt(abar_{t-1}) beta_t x0_hat + sqrt(1 - beta_t) (1 - abar_{t-1}) x_t ) / (1 - abar_t)
                         + std_t z,   std_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t),   z ~ N(0, I)
               (Ho et al. 2020, their sampling algorithm in its posterior-mean form, eqs. 6-7; every one of the T steps)
    ddim_step: x_s     = sqrt(abar_s) x0_hat + sqrt(1 - abar_s) eps_theta(x_t, t, c)
               (Song et al. 2021, eq. 12 with eta = 0: deterministic; ``n_steps`` evenly spaced steps)

Clipping matters at the first steps, where sqrt(abar_t) is tiny (2e-4 for a cosine schedule)
and divides the model's small error in eps into a huge one in x0_hat (as diffusers'
``clip_sample`` does for images in [-1, 1]).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from tqdm import tqdm

from toyclf.denoisers.base import Denoiser
from toyclf.schedule import RectifiedFlowSchedule
from toyclf.utils.validation import is_int

METHODS = ("ddpm", "ddim", "euler")


def predict_x0(
    x_t: Tensor, eps: Tensor, signal_scale: Tensor, noise_scale: Tensor, clip: float | None = None
) -> Tensor:
    """x0_hat = (x_t - sigma_t eps) / alpha_t, with the path's scales alpha_t = ``signal_scale`` and
    sigma_t = ``noise_scale`` (Ho et al. eq. 15 on DDPM's path, alpha_t = sqrt(abar_t), sigma_t =
    sqrt(1 - abar_t)), clipped to [-clip, clip]. [n, *S]"""
    x0_hat = (x_t - noise_scale * eps) / signal_scale
    return x0_hat if clip is None else x0_hat.clamp(-clip, clip)


def ddpm_step(x_t: Tensor, x0_hat: Tensor, t: int, abar: Tensor, betas: Tensor, z: Tensor) -> Tensor:
    """One ancestral step x_t -> x_{t-1}, t >= 1: a draw from q(x_{t-1} | x_t, x0_hat) (Ho et al. eqs. 6-7).

    ``abar`` and ``betas`` are the schedule's [T]; ``z`` [n, *S] is the step's fresh N(0, I) noise."""
    mean = (abar[t - 1].sqrt() * betas[t] * x0_hat + (1 - betas[t]).sqrt() * (1 - abar[t - 1]) * x_t) / (1 - abar[t])
    std = (betas[t] * (1 - abar[t - 1]) / (1 - abar[t])).sqrt()
    return mean + std * z


def ddim_step(x0_hat: Tensor, eps: Tensor, signal_scale: Tensor, noise_scale: Tensor) -> Tensor:
    """One deterministic step to an earlier time s: x_s = alpha_s x0_hat + sigma_s eps, with the
    path's scales at s, alpha_s = ``signal_scale`` and sigma_s = ``noise_scale`` (Song et al. eq. 12,
    eta = 0): the clean estimate noised again with the model's own eps. [n, *S]

    On rectified flow this is Euler's step of the flow ODE: x_s - x_t = (sigma_s - sigma_t)
    (eps - x0_hat) = (sigma_s - sigma_t) v_hat, since both points lie on the same straight line."""
    return signal_scale * x0_hat + noise_scale * eps


@torch.no_grad()
def sample(
    denoiser: Denoiser,
    labels: Tensor,
    *,
    method: str | None = None,
    n_steps: int = 50,
    clip: float | None = None,
    seed: int = 0,
    progress: bool = False,
    each_step: Callable[[int, Tensor], None] | None = None,
) -> Tensor:
    """Draw one sample x_0 [*S] per label id: [n] long -> [n, *S] (in the denoiser's space).

    ``method``: ``"ddpm"`` (ancestral, DDPM's path only; the default there), ``"ddim"``, or
    ``"euler"``, the flow ODE (the default on rectified flow; the same deterministic step as DDIM,
    see :func:`ddim_step`). All noise comes from a CPU generator seeded with ``seed``. ``n_steps``
    is used by DDIM and Euler only; DDPM runs every one of the T steps. ``clip`` bounds |x0_hat| (None: no clipping).
    ``each_step(t, x_t)`` is called with the pure noise x_T first and after every step (the
    animations record the path this way).
    """
    each_step = each_step or (lambda t, x: None)
    flow = isinstance(denoiser.schedule, RectifiedFlowSchedule)
    method = ("euler" if flow else "ddpm") if method is None else method
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")
    if method == "ddpm" and flow:
        raise ValueError("method='ddpm' samples DDPM's variance-preserving path; on rectified flow use 'euler'.")
    if not is_int(n_steps):
        raise ValueError(f"n_steps must be a positive int; got {n_steps!r}.")
    device, schedule = denoiser.device, denoiser.schedule
    labels = torch.as_tensor(labels, dtype=torch.long).to(device)
    abar, betas = schedule.alphas_cumprod.to(device), schedule.betas.to(device)  # [T] each, float64
    signal, noise = schedule.signal_scale.to(device), schedule.noise_scale.to(device)  # [T] each: alpha_t, sigma_t
    generator = torch.Generator().manual_seed(int(seed))

    def gaussian() -> Tensor:  # [n, *S], drawn on the CPU, then moved
        return torch.randn((len(labels), *denoiser.latent_shape), generator=generator).to(device)

    def denoise(x_t: Tensor, t: int) -> tuple[Tensor, Tensor]:  # eps_theta and x0_hat, [n, *S] each
        eps = denoiser.predict_noise(x_t.float(), torch.full_like(labels, t), labels).double()
        return eps, predict_x0(x_t, eps, signal[t], noise[t], clip)

    x = gaussian().double()  # x_T ~ N(0, I)
    each_step(schedule.num_timesteps, x.float())
    if method == "ddpm":
        for t in tqdm(range(schedule.num_timesteps - 1, 0, -1), desc="sampling", disable=not progress, leave=False):
            _, x0_hat = denoise(x, t)
            x = ddpm_step(x, x0_hat, t, abar, betas, gaussian())
            each_step(t, x.float())
        x = denoise(x, 0)[1]  # the last step returns the clean estimate itself
        each_step(0, x.float())
        return x.float()

    steps = torch.linspace(schedule.num_timesteps - 1, 0, min(n_steps, schedule.num_timesteps)).round().long().tolist()
    for t, s in zip(tqdm(steps, desc="sampling", disable=not progress, leave=False), [*steps[1:], None], strict=True):
        eps, x0_hat = denoise(x, t)
        x = x0_hat if s is None else ddim_step(x0_hat, eps, signal[s], noise[s])
        each_step(0 if s is None else s, x.float())
    return x.float()
