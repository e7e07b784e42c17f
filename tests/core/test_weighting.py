"""The per-trial weights: the ELBO weights over a range of noise levels, against the integral they stand for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toyclf.schedule import NoiseSchedule
from toyclf.weighting import timestep_weights


@pytest.mark.parametrize(
    "schedule, noise_range",
    [
        (NoiseSchedule.cosine().shifted(4.0), (0.03, 10.0)),  # the toy's schedule, its many low-noise steps
        (NoiseSchedule.cosine().shifted(4.0), (0.1, 3.0)),
        (NoiseSchedule.linear(), (0.1, 3.0)),  # DDPM's: its lowest noise is 0.01, too few steps below 0.03 to sum
    ],
)
def test_elbo_over_a_noise_range_is_the_integral_over_that_range(schedule, noise_range):
    """For a point at distance d from a one-point class, ||eps - eps*||^2 = SNR(t) d^2, and the ELBO
    is 1/2 int SNR d lambda = 1/2 (SNR_max - SNR_min) d^2 over the log-SNR range; with the noise
    range (low, high) of sigma / alpha, SNR runs from 1 / high^2 to 1 / low^2."""
    low, high = noise_range
    weights = timestep_weights(schedule, "elbo", noise_range=noise_range)  # [T]
    mean_over_t = float((weights * schedule.snr).mean())
    np.testing.assert_allclose(mean_over_t, 0.5 * (1 / low**2 - 1 / high**2), rtol=0.03)


def test_noise_range_keeps_exactly_the_timesteps_inside():
    schedule = NoiseSchedule.cosine().shifted(4.0)
    ratio = (-schedule.log_snr / 2).exp()  # sigma / alpha, increasing in t
    for weighting in ("uniform", "elbo"):
        plain = timestep_weights(schedule, weighting)
        banded = timestep_weights(schedule, weighting, noise_range=(0.03, 10.0))
        inside = (ratio >= 0.03) & (ratio <= 10.0)
        assert 0 < inside.sum() < len(inside)
        torch.testing.assert_close(banded[inside], plain[inside])
        assert torch.all(banded[~inside] == 0)


@pytest.mark.parametrize("noise_range", [(0.1,), (3.0, 1.0), (-1.0, 2.0), ("a", "b"), [0.1, 1.0], (True, 2.0)])
def test_bad_noise_ranges_are_named(noise_range):
    with pytest.raises(ValueError, match=r"noise_range must be None or a pair \(low, high\) with 0 <= low < high; got"):
        timestep_weights(NoiseSchedule.linear(), "elbo", noise_range=noise_range)
