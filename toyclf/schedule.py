"""The forward (noising) process, kept apart from any model (as diffusers does).

Every path noises a clean x_0 as

    x_t = alpha_t x_0 + sigma_t eps,  eps ~ N(0, I),  t = 0 .. T-1

with two instances: the variance-preserving path of DDPM (:class:`NoiseSchedule`: alpha_t =
sqrt(abar_t), sigma_t = sqrt(1 - abar_t); Ho et al. 2020, eq. 4) and the straight line of
rectified flow (:class:`RectifiedFlowSchedule`: alpha_t = 1 - sigma_t; Liu et al. 2023,
Stable Diffusion 3). What the classifier needs from a path is its signal-to-noise ratio
SNR_t = alpha_t^2 / sigma_t^2: two paths with the same SNR_t differ only by the scale
alpha_t + sigma_t of x_t, so both are also described by abar_t = SNR_t / (1 + SNR_t), the
``alphas_cumprod`` of the variance-preserving path with the same noise levels.

Names: alpha_t and sigma_t are the path's scales, :attr:`NoiseSchedule.signal_scale` and
:attr:`NoiseSchedule.noise_scale`; abar_t is ``alphas_cumprod``, as diffusers calls it. DDPM's
own alpha_t = 1 - beta_t (diffusers' ``alphas``) is never used here: ``betas`` gives beta_t.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from toyclf.utils.validation import is_positive


class NoiseSchedule:
    """A DDPM noise schedule given by its ``alphas_cumprod`` (abar_t, decreasing, in (0, 1)).

    Build one with :meth:`linear` (DDPM and DiT: 1e-4 .. 0.02), :meth:`scaled_linear` (Stable
    Diffusion: 0.00085 .. 0.012), :meth:`cosine` (Nichol & Dhariwal 2021), or read it from a
    diffusers scheduler with :meth:`from_diffusers`.
    """

    def __init__(self, alphas_cumprod: Tensor) -> None:
        abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64).detach().cpu()
        if abar.ndim != 1 or len(abar) < 2:
            raise ValueError(
                f"alphas_cumprod must be a 1D tensor of at least 2 timesteps, got shape {tuple(abar.shape)}."
            )
        if not (torch.all(abar > 0) and torch.all(abar < 1) and torch.all(abar[1:] < abar[:-1])):
            raise ValueError("alphas_cumprod must be strictly decreasing and inside (0, 1).")
        self.alphas_cumprod = abar  # [T], float64 on the CPU
        self._signal, self._noise = abar.sqrt(), (1 - abar).sqrt()  # [T] each: alpha_t, sigma_t of the path

    # --- constructors -------------------------------------------------------------------
    @classmethod
    def linear(cls, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
        """beta_t linear from ``beta_start`` to ``beta_end`` (Ho et al. 2020; DiT)."""
        betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
        return cls(torch.cumprod(1 - betas, dim=0))

    @classmethod
    def scaled_linear(
        cls, num_timesteps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012
    ) -> NoiseSchedule:
        """sqrt(beta_t) linear (Stable Diffusion's ``scaled_linear``)."""
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_timesteps, dtype=torch.float64) ** 2
        return cls(torch.cumprod(1 - betas, dim=0))

    @classmethod
    def cosine(cls, num_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """abar_t = cos^2((t/T + s) / (1 + s) * pi/2), betas clipped at ``max_beta`` (Nichol & Dhariwal 2021)."""
        steps = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
        return cls(torch.cumprod(1 - betas, dim=0))

    @classmethod
    def from_name(cls, name: str, num_timesteps: int = 1000, *, shift: float = 1.0) -> NoiseSchedule:
        """``"linear"``, ``"scaled_linear"`` or ``"cosine"``, optionally :meth:`shifted`."""
        constructors = {"linear": cls.linear, "scaled_linear": cls.scaled_linear, "cosine": cls.cosine}
        if name not in constructors:
            raise ValueError(f"Unknown schedule {name!r}; expected one of {', '.join(map(repr, constructors))}.")
        schedule = constructors[name](num_timesteps)
        return schedule if shift == 1.0 else schedule.shifted(shift)

    def shifted(self, shift: float) -> NoiseSchedule:
        """Multiply every signal-to-noise ratio by ``shift**2``: log SNR + 2 log(shift).

        The shifted schedules of Hoogeboom et al. (2023), and the same noise levels as diffusing
        the data multiplied by ``shift`` (but with x_t kept at unit variance). Low-dimensional data
        such as 2D points want ``shift > 1``: the evenly spaced timesteps the classifier uses then
        fall on noise levels at the scale of the data's detail, where the classes differ.
        """
        if not is_positive(shift):
            raise ValueError(f"shift must be a positive finite number; got {shift!r}.")
        return NoiseSchedule(torch.sigmoid(self.log_snr + 2 * math.log(shift)))

    @classmethod
    def from_diffusers(cls, scheduler: Any) -> NoiseSchedule:
        """Read ``alphas_cumprod`` from a diffusers scheduler (DDPMScheduler, DDIMScheduler, ...)."""
        if not hasattr(scheduler, "alphas_cumprod"):
            raise TypeError(
                f"{type(scheduler).__name__} has no alphas_cumprod; expected a diffusers DDPM-family scheduler."
            )
        return cls(scheduler.alphas_cumprod)

    # --- derived quantities -------------------------------------------------------------
    @property
    def num_timesteps(self) -> int:
        """T, the number of diffusion steps."""
        return len(self.alphas_cumprod)

    @property
    def betas(self) -> Tensor:
        """beta_t = 1 - abar_t / abar_{t-1}, with abar_{-1} = 1. Shape [T]."""
        previous = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        return 1 - self.alphas_cumprod / previous

    @property
    def signal_scale(self) -> Tensor:
        """alpha_t, the scale of the signal in x_t (sqrt(abar_t) on DDPM's path; not DDPM's
        ``alphas`` = 1 - beta_t, which toyclf never names). Shape [T], float64."""
        return self._signal

    @property
    def noise_scale(self) -> Tensor:
        """sigma_t, the scale of the noise in x_t (sqrt(1 - abar_t) on DDPM's path; rectified flow's
        ``sigmas`` in diffusers). Shape [T], float64."""
        return self._noise

    RENAMED: ClassVar[dict[str, str]] = {"alphas": "signal_scale", "sigmas": "noise_scale"}  # old names -> new

    def __getattr__(self, name: str) -> Any:  # only called for names that are not found
        if name in NoiseSchedule.RENAMED:
            raise AttributeError(f"{type(self).__name__}.{name} is now called {NoiseSchedule.RENAMED[name]}.")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setstate__(self, state: dict) -> None:
        """Unpickle, also a schedule pickled when its scales were stored as ``_alphas`` and ``_sigmas``."""
        state = dict(state)
        for old, new in (("_alphas", "_signal"), ("_sigmas", "_noise")):
            if old in state:
                state[new] = state.pop(old)
        self.__dict__.update(state)

    def scales(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """alpha_t and sigma_t at the timesteps ``t`` [M] (long), on t's device: [M] each, float64."""
        return self._signal.to(t.device)[t], self._noise.to(t.device)[t]

    @property
    def snr(self) -> Tensor:
        """Signal-to-noise ratio abar_t / (1 - abar_t). Shape [T]."""
        return self.alphas_cumprod / (1 - self.alphas_cumprod)

    @property
    def log_snr(self) -> Tensor:
        """lambda_t = log SNR(t), decreasing in t. Shape [T]."""
        return torch.logit(self.alphas_cumprod)

    @property
    def noise_to_signal(self) -> Tensor:
        """sigma_t / alpha_t = exp(-lambda_t / 2), the size of the noise in units of the data, on any
        path (both share lambda), increasing in t. Shape [T]."""
        return (-self.log_snr / 2).exp()

    def elbo_weights(self) -> Tensor:
        """Per-timestep weights w_t that turn the mean over t of ||eps - eps_hat||^2 into the negative ELBO.

        In continuous time (the loss L_infinity of Kingma et al. 2021; Kingma & Gao 2023 with weighting 1),

            -log p(x) <= 1/2 int ||eps - eps_hat(x_lambda, lambda)||^2 d lambda + C,   lambda = log SNR,

        and for the exact eps* the bound is tight as the range of lambda widens: differences
        between classes are then differences of log p(x | c) (C does not depend on the class).
        With t evenly spread over 0 .. T-1 this is the mean over t of w_t ||eps - eps_hat||^2 for
        w_t = -T/2 d lambda / dt, the derivative taken by central differences (one-sided at the two
        ends). The softmax of the weighted mean errors is then the Bayes posterior at temperature 1.
        (The discrete-time DDPM bound, w_t = T (SNR(t-1) / SNR(t) - 1) / 2, converges to the same
        weights as T grows; at T = 1000 its log-likelihood ratios on a Gaussian mixture are
        measurably steeper than the exact ones, these much closer: benchmarks/README.md, "Inside
        the estimator".) Shape [T], float64.
        """
        lam = self.log_snr
        slope = torch.cat([lam[1:2] - lam[:1], (lam[2:] - lam[:-2]) / 2, lam[-1:] - lam[-2:-1]])  # d lambda / dt
        return -slope * self.num_timesteps / 2

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps  (the forward process, Ho et al. eq. 4).

        ``x0`` and ``noise`` are [B, *S]; ``t`` is [B] (long). Computed in the dtype of ``x0``.
        """
        abar = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype)  # [B]
        abar = abar.reshape(-1, *([1] * (x0.ndim - 1)))  # [B, 1, ...]
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def __repr__(self) -> str:
        a = self.alphas_cumprod
        return f"NoiseSchedule(T={self.num_timesteps}, abar_0={a[0]:.6g}, abar_T-1={a[-1]:.3g})"


class RectifiedFlowSchedule(NoiseSchedule):
    """The straight path of rectified flow: x_t = (1 - sigma_t) x_0 + sigma_t eps (Liu et al. 2023;
    Lipman et al. 2023), on which flow-matching models learn the velocity v = eps - x_0 (Stable
    Diffusion 3, Esser et al. 2024). ``sigmas`` rise strictly inside (0, 1), from nearly clean to
    nearly pure noise.

    Its SNR_t is ((1 - sigma_t) / sigma_t)^2, and ``alphas_cumprod`` is the variance-preserving
    path with those noise levels, abar_t = (1 - sigma_t)^2 / ((1 - sigma_t)^2 + sigma_t^2): the
    ELBO weights, ``noise_range`` and the shift, all defined through log SNR, apply unchanged.
    """

    def __init__(self, sigmas: Tensor) -> None:
        sigma = torch.as_tensor(sigmas, dtype=torch.float64).detach().cpu()
        if sigma.ndim != 1 or len(sigma) < 2:
            raise ValueError(f"sigmas must be a 1D tensor of at least 2 timesteps, got shape {tuple(sigma.shape)}.")
        if not (torch.all(sigma > 0) and torch.all(sigma < 1) and torch.all(sigma[1:] > sigma[:-1])):
            raise ValueError("sigmas must be strictly increasing and inside (0, 1).")
        alpha = 1 - sigma
        super().__init__(alpha.square() / (alpha.square() + sigma.square()))
        self._signal, self._noise = alpha, sigma  # [T] each, float64 on the CPU: the straight path itself

    @classmethod
    def linear(cls, num_timesteps: int = 1000, *, shift: float = 1.0) -> RectifiedFlowSchedule:
        """sigma_t = (t + 1/2) / T, evenly spaced (the uniform noise levels of flow matching),
        optionally :meth:`shifted`. Stable Diffusion 3's ``shift`` s (sigma -> s sigma / (1 + (s - 1)
        sigma)) divides every SNR by s^2: it is ``shift=1 / s`` here."""
        sigma = (torch.arange(num_timesteps, dtype=torch.float64) + 0.5) / num_timesteps
        schedule = cls(sigma)
        return schedule if shift == 1.0 else schedule.shifted(shift)

    def shifted(self, shift: float) -> RectifiedFlowSchedule:
        """Multiply every SNR by ``shift**2``, staying on the straight path: (1 - sigma) / sigma
        grows by ``shift``, so sigma -> sigma / (sigma + shift (1 - sigma))."""
        if not is_positive(shift):
            raise ValueError(f"shift must be a positive finite number; got {shift!r}.")
        return RectifiedFlowSchedule(torch.sigmoid(-(self.log_snr + 2 * math.log(shift)) / 2))

    @classmethod
    def from_diffusers(cls, scheduler: Any) -> RectifiedFlowSchedule:
        """The path of a diffusers ``FlowMatchEulerDiscreteScheduler`` (Stable Diffusion 3).

        Its training noise levels are sigma = i / T, i = 1 .. T, bent by its ``shift`` s; its
        network takes the continuous timestep sigma T. The same shift on the midpoints (t + 1/2) / T
        gives noise levels the network was trained around, all strictly inside (0, 1): sigma = 1
        (pure noise) says nothing about the class and has an infinite ELBO weight.
        """
        config = scheduler.config
        if not hasattr(config, "shift") or not hasattr(scheduler, "sigmas"):
            raise ValueError(f"{type(scheduler).__name__} is not a flow-matching scheduler (no shift and sigmas).")
        if config.get("use_dynamic_shifting", False):
            raise ValueError(
                f"{type(scheduler).__name__} shifts its noise levels with the image size (use_dynamic_shifting, "
                "as FLUX does); toyclf needs a fixed path: a scheduler with use_dynamic_shifting=False."
            )
        return cls.linear(config.num_train_timesteps, shift=1 / config.shift)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t = (1 - sigma_t) x_0 + sigma_t eps. ``x0`` and ``noise`` [B, *S], ``t`` [B] long."""
        sigma = self._noise.to(x0.device)[t].to(x0.dtype).reshape(-1, *([1] * (x0.ndim - 1)))  # [B, 1, ...]
        return (1 - sigma) * x0 + sigma * noise

    def __repr__(self) -> str:
        s = self._noise
        return f"RectifiedFlowSchedule(T={self.num_timesteps}, sigma_0={s[0]:.4g}, sigma_T-1={s[-1]:.4g})"
