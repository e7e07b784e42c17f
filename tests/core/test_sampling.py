"""The DDPM, DDIM and Euler steps against diffusers' schedulers and against the forward process, on both paths."""

from __future__ import annotations

import pytest
import torch

from toyclf.sampling import ddim_step, ddpm_step, predict_x0
from toyclf.schedule import NoiseSchedule, RectifiedFlowSchedule


@pytest.fixture(params=["ddpm_path", "rectified_flow"])
def step_inputs(request):
    schedule = NoiseSchedule.linear(100) if request.param == "ddpm_path" else RectifiedFlowSchedule.linear(100)
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    eps = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    return schedule, x0, eps


def test_predict_x0_inverts_the_forward_process(step_inputs):
    schedule, x0, eps = step_inputs
    t = 40
    x_t = schedule.add_noise(x0, eps, torch.full((5,), t))
    alpha, sigma = schedule.signal_scale[t], schedule.noise_scale[t]
    torch.testing.assert_close(predict_x0(x_t, eps, alpha, sigma), x0)
    assert predict_x0(x_t, eps, alpha, sigma, clip=0.5).abs().max() <= 0.5


def test_ddim_step_with_the_true_noise_lands_on_the_forward_process(step_inputs):
    """Given the exact x0 and eps, eta = 0 DDIM moves x_t to exactly the x_s of the same (x0, eps)."""
    schedule, x0, eps = step_inputs
    x_s = ddim_step(x0, eps, schedule.signal_scale[10], schedule.noise_scale[10])
    torch.testing.assert_close(x_s, schedule.add_noise(x0, eps, torch.full((5,), 10)))


def test_on_rectified_flow_the_ddim_step_is_eulers_step_along_the_velocity():
    """x_s = x_t + (sigma_s - sigma_t) v for v = eps - x0: the flow ODE's Euler step, for any (x0, eps)."""
    schedule = RectifiedFlowSchedule.linear(100, shift=0.5)
    generator = torch.Generator().manual_seed(0)
    x0, eps = (torch.randn(5, 3, generator=generator, dtype=torch.float64) for _ in range(2))
    t, s = 70, 30
    x_t = schedule.add_noise(x0, eps, torch.full((5,), t))
    euler = x_t + (schedule.noise_scale[s] - schedule.noise_scale[t]) * (eps - x0)
    torch.testing.assert_close(ddim_step(x0, eps, schedule.signal_scale[s], schedule.noise_scale[s]), euler)


@pytest.mark.parametrize("t", [1, 50, 99])
def test_ddpm_step_equals_diffusers(step_inputs, t):
    """Our ancestral step against diffusers' DDPMScheduler.step (epsilon prediction, variance
    "fixed_small"), on the same schedule in float64 and the same noise z (both draw it with
    torch.randn from the generator they are given)."""
    diffusers = pytest.importorskip("diffusers")
    schedule, x0, eps = step_inputs
    if isinstance(schedule, RectifiedFlowSchedule):
        pytest.skip("the ancestral step belongs to DDPM's path")
    abar, betas = schedule.alphas_cumprod, schedule.betas
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=100, clip_sample=False, variance_type="fixed_small")
    scheduler.alphas_cumprod, scheduler.betas, scheduler.alphas = (
        abar,
        betas,
        1 - betas,
    )  # diffusers: alphas = 1 - beta_t
    x_t = schedule.add_noise(x0, eps, torch.full((5,), t))
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ours = ddpm_step(x_t, predict_x0(x_t, eps, schedule.signal_scale[t], schedule.noise_scale[t]), t, abar, betas, z)
    theirs = scheduler.step(eps, t, x_t, generator=torch.Generator().manual_seed(1)).prev_sample
    torch.testing.assert_close(ours, theirs)
