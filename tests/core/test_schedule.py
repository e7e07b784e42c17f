import math

import pytest
import torch

from toyclf import NoiseSchedule


def test_linear_closed_form():
    s = NoiseSchedule.linear(1000)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    torch.testing.assert_close(s.betas, betas)
    torch.testing.assert_close(s.alphas_cumprod[9], torch.prod(1 - betas[:10]))


def test_scaled_linear_matches_stable_diffusion():
    s = NoiseSchedule.scaled_linear(1000)
    assert s.betas[0].item() == pytest.approx(0.00085)
    assert s.betas[-1].item() == pytest.approx(0.012)


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

    assert NoiseSchedule.from_diffusers(Scheduler()).num_timesteps == 1000
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
