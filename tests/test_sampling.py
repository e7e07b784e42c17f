"""The DDPM and DDIM steps against diffusers' schedulers and against the forward process."""

from __future__ import annotations

import pytest
import torch

from toyclf.sampling import ddim_step, ddpm_step, predict_x0
from toyclf.schedule import NoiseSchedule


@pytest.fixture
def step_inputs():
    schedule = NoiseSchedule.linear(100)
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    eps = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    return schedule, x0, eps


def test_predict_x0_inverts_the_forward_process(step_inputs):
    schedule, x0, eps = step_inputs
    t = 40
    x_t = schedule.add_noise(x0, eps, torch.full((5,), t))
    torch.testing.assert_close(predict_x0(x_t, eps, schedule.alphas_cumprod[t]), x0)
    assert predict_x0(x_t, eps, schedule.alphas_cumprod[t], clip=0.5).abs().max() <= 0.5


def test_ddim_step_with_the_true_noise_lands_on_the_forward_process(step_inputs):
    """Given the exact x0 and eps, eta = 0 DDIM moves x_t to exactly the x_s of the same (x0, eps)."""
    schedule, x0, eps = step_inputs
    abar = schedule.alphas_cumprod
    x_s = ddim_step(x0, eps, abar[10])
    torch.testing.assert_close(x_s, schedule.add_noise(x0, eps, torch.full((5,), 10)))


@pytest.mark.parametrize("t", [1, 50, 99])
def test_ddpm_step_equals_diffusers(step_inputs, t):
    """Our ancestral step against diffusers' DDPMScheduler.step (epsilon prediction, variance
    "fixed_small"), on the same schedule in float64 and the same noise z (both draw it with
    torch.randn from the generator they are given)."""
    diffusers = pytest.importorskip("diffusers")
    schedule, x0, eps = step_inputs
    abar, betas = schedule.alphas_cumprod, schedule.betas
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=100, clip_sample=False, variance_type="fixed_small")
    scheduler.alphas_cumprod, scheduler.betas, scheduler.alphas = abar, betas, 1 - betas
    x_t = schedule.add_noise(x0, eps, torch.full((5,), t))
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ours = ddpm_step(x_t, predict_x0(x_t, eps, abar[t]), t, abar, betas, z)
    theirs = scheduler.step(eps, t, x_t, generator=torch.Generator().manual_seed(1)).prev_sample
    torch.testing.assert_close(ours, theirs)
