"""The noise schedules and the forward process, against closed forms and diffusers' DDPMScheduler."""

import math

import pytest
import torch

from toyclf import NoiseSchedule

# diffusers' DDPMScheduler with the settings of each of our schedules (Stable Diffusion, DDPM/DiT, improved DDPM)
DIFFUSERS_SETTINGS = {
    "scaled_linear": dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
    "linear": dict(beta_schedule="linear", beta_start=1e-4, beta_end=0.02),
    "cosine": dict(beta_schedule="squaredcos_cap_v2"),
}


def ddpm_scheduler(name: str, num_timesteps: int = 1000):
    diffusers = pytest.importorskip("diffusers")
    return diffusers.DDPMScheduler(num_train_timesteps=num_timesteps, **DIFFUSERS_SETTINGS[name])


def same_schedule(abar: torch.Tensor, scheduler) -> bool:
    """Do ``abar`` [T] (float64) and its betas match the scheduler's (float32) to float32 precision?

    diffusers rounds each beta to float32 once (at most 2.2e-7 relative here) and takes the
    cumulative product in float32 (at most 4.7e-7 absolute over 1000 steps); a schedule one step
    off, or with another formula, is off by 1e-4 or more.
    """
    ours = NoiseSchedule(abar)
    return torch.allclose(ours.betas, scheduler.betas.double(), rtol=1e-6, atol=0) and torch.allclose(
        ours.alphas_cumprod, scheduler.alphas_cumprod.double(), rtol=1e-5, atol=2e-6
    )


def shifted_by_one_step(abar: torch.Tensor, step: int) -> torch.Tensor:
    """abar_{t-1} (step=-1, with abar_{-1} = 1 less a hair, to stay inside (0, 1)) or abar_{t+1}
    (step=+1, the last value repeated less a hair) in place of abar_t."""
    if step == -1:
        return torch.cat([torch.tensor([1 - 1e-12], dtype=torch.float64), abar[:-1]])
    return torch.cat([abar[1:], abar[-1:] * (1 - 1e-6)])


@pytest.mark.parametrize("name", list(DIFFUSERS_SETTINGS))
def test_schedules_equal_diffusers_ddpm_scheduler(name):
    scheduler = ddpm_scheduler(name)
    ours = getattr(NoiseSchedule, name)(1000)
    assert same_schedule(ours.alphas_cumprod, scheduler)
    assert ours.num_timesteps == len(scheduler.alphas_cumprod) == 1000
    # the comparison can fail: a schedule one step late or one step early does not pass it
    assert not same_schedule(shifted_by_one_step(ours.alphas_cumprod, -1), scheduler)
    assert not same_schedule(shifted_by_one_step(ours.alphas_cumprod, +1), scheduler)
    # nor does the same formula spread over 1001 steps (an off-by-one in linspace)
    assert not same_schedule(getattr(NoiseSchedule, name)(1001).alphas_cumprod[:1000], scheduler)


def test_wrong_scaled_linear_formulas_are_told_apart():
    scheduler = ddpm_scheduler("scaled_linear")
    sqrt_betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64)
    assert same_schedule(torch.cumprod(1 - sqrt_betas**2, 0), scheduler)  # sqrt(beta) linear, then squared
    assert not same_schedule(torch.cumprod(1 - sqrt_betas, 0), scheduler)  # sqrt(beta) not squared
    linear_betas = torch.linspace(0.00085, 0.012, 1000, dtype=torch.float64)
    assert not same_schedule(torch.cumprod(1 - linear_betas, 0), scheduler)  # beta linear, not sqrt(beta)


def test_wrong_cosine_formulas_are_told_apart():
    scheduler = ddpm_scheduler("cosine")
    assert not same_schedule(NoiseSchedule.cosine(1000, s=0.0).alphas_cumprod, scheduler)  # without the offset s
    assert not same_schedule(NoiseSchedule.cosine(1000, max_beta=0.99).alphas_cumprod, scheduler)  # clipped lower
    f = lambda t: torch.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    t = torch.arange(1000, dtype=torch.float64)
    assert not same_schedule(f(t + 1), scheduler)  # not divided by f(0)


@pytest.mark.parametrize("name", list(DIFFUSERS_SETTINGS))
def test_add_noise_equals_diffusers(name):
    scheduler = ddpm_scheduler(name)
    ours = getattr(NoiseSchedule, name)(1000)
    generator = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(4, 3, 8, 8, generator=generator), torch.randn(4, 3, 8, 8, generator=generator)
    t = torch.tensor([0, 1, 500, 999])
    x_t = ours.add_noise(x0, noise, t)
    assert x_t.dtype == torch.float32 and x_t.shape == x0.shape
    torch.testing.assert_close(x_t, scheduler.add_noise(x0, noise, t), rtol=1e-5, atol=2e-5)
    # the comparison can fail: a step later (at the first three timesteps) is far outside the tolerance
    late = scheduler.add_noise(x0[:3], noise[:3], t[:3] + 1)
    assert (x_t[:3] - late).abs().amax(dim=(1, 2, 3)).min() > 1e-3


def test_cosine_closed_form():
    s = NoiseSchedule.cosine(1000)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 10, 500, 900):
        assert s.alphas_cumprod[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-9)


def test_shift_multiplies_snr():
    s = NoiseSchedule.cosine(1000)
    torch.testing.assert_close(s.shifted(4.0).snr, 16 * s.snr)
    torch.testing.assert_close(
        NoiseSchedule.from_name("cosine", 1000, shift=4.0).alphas_cumprod, s.shifted(4).alphas_cumprod
    )


def test_add_noise_is_the_forward_process():
    s = NoiseSchedule.linear(100)
    x0, noise, t = torch.randn(5, 3), torch.randn(5, 3), torch.tensor([0, 10, 50, 98, 99])
    abar = s.alphas_cumprod[t].float()[:, None]
    torch.testing.assert_close(s.add_noise(x0, noise, t), abar.sqrt() * x0 + (1 - abar).sqrt() * noise)


def test_elbo_weights_are_half_the_log_snr_slope():
    # lambda linear in t: -d lambda / dt is the same constant everywhere, so w_t = T * step / 2 exactly
    T, lam = 50, torch.linspace(8.0, -6.0, 50, dtype=torch.float64)
    s = NoiseSchedule(torch.sigmoid(lam))
    torch.testing.assert_close(s.log_snr, lam)
    torch.testing.assert_close(s.elbo_weights(), torch.full((T,), T * (14 / 49) / 2, dtype=torch.float64))
    # on a real schedule the weighted mean over t is half the log-SNR range, up to half a step at each end
    lam = NoiseSchedule.linear(1000).log_snr
    ends = float(lam[0] - lam[1] + lam[-2] - lam[-1]) / 4
    total = float(NoiseSchedule.linear(1000).elbo_weights().mean())
    assert abs(total - float(lam[0] - lam[-1]) / 2) <= ends + 1e-9


def test_from_diffusers_reads_alphas_cumprod():
    class Scheduler:
        alphas_cumprod = NoiseSchedule.scaled_linear(1000).alphas_cumprod.float()

    read = NoiseSchedule.from_diffusers(Scheduler())
    assert read.alphas_cumprod.dtype == torch.float64
    torch.testing.assert_close(read.alphas_cumprod, Scheduler.alphas_cumprod.double(), rtol=0, atol=0)
    with pytest.raises(TypeError, match="has no alphas_cumprod"):
        NoiseSchedule.from_diffusers(object())


@pytest.mark.parametrize(
    "abar, match",
    [([0.5], "at least 2 timesteps"), ([0.5, 0.6], "strictly decreasing"), ([1.0, 0.5], "inside")],
)
def test_bad_schedules(abar, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule(torch.tensor(abar))


def test_bad_names_and_shifts():
    with pytest.raises(ValueError, match="Unknown schedule 'cosin'"):
        NoiseSchedule.from_name("cosin")
    with pytest.raises(ValueError, match="shift must be a positive finite number; got -1"):
        NoiseSchedule.linear().shifted(-1)
