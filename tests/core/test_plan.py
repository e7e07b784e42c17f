"""The plan of (t, eps) pairs: seeded, evenly spaced, stratified, and nested."""

import pytest
import torch

from toyclf.estimator import class_errors
from toyclf.plan import evenly_spaced_timesteps, make_plan, nested_timesteps, timestep_quantiles, van_der_corput_order


def test_evenly_spaced_timesteps_are_centred_in_their_bins():
    assert evenly_spaced_timesteps(1000, 4).tolist() == [125, 375, 625, 875]
    assert evenly_spaced_timesteps(1000, 1).tolist() == [500]
    assert evenly_spaced_timesteps(1000, 1000).tolist() == list(range(1000))


@pytest.mark.parametrize("n", [1, 2, 5, 8, 100, 256])
def test_van_der_corput_order_is_a_permutation(n):
    assert sorted(van_der_corput_order(n).tolist()) == list(range(n))


def test_every_power_of_two_prefix_is_evenly_spaced():
    order = van_der_corput_order(64)
    for k in range(7):
        prefix = sorted(order[: 2**k].tolist())
        assert prefix == list(range(0, 64, 64 // 2**k))
    t = nested_timesteps(1000, 64)
    assert sorted(t.tolist()) == evenly_spaced_timesteps(1000, 64).tolist()  # the same set, reordered
    steps = torch.diff(t[:8].sort().values)
    assert steps.max() - steps.min() <= 1  # the first 8 are evenly spaced too (up to rounding)


@pytest.mark.parametrize("sampling", ["sobol", "gaussian", "antithetic"])
def test_plan_is_seeded(prototype_denoiser, sampling):
    a = make_plan(prototype_denoiser, 10, noise_sampling=sampling, seed=1)
    b = make_plan(prototype_denoiser, 10, noise_sampling=sampling, seed=1)
    c = make_plan(prototype_denoiser, 10, noise_sampling=sampling, seed=2)
    assert torch.equal(a.noise, b.noise) and torch.equal(a.timesteps, b.timesteps)
    assert not torch.equal(a.noise, c.noise)
    assert a.noise.shape == (10, 2) and a.noise.dtype == torch.float32


def test_antithetic_pairs(prototype_denoiser):
    a = make_plan(prototype_denoiser, 10, noise_sampling="antithetic", seed=1)
    torch.testing.assert_close(a.noise[1::2], -a.noise[0::2])
    torch.testing.assert_close(a.timesteps[1::2], a.timesteps[0::2])
    assert sorted(a.timesteps[0::2].tolist()) == evenly_spaced_timesteps(100, 5).tolist()
    odd = make_plan(prototype_denoiser, 7, noise_sampling="antithetic", seed=1)
    assert len(odd) == 7 and odd.noise.shape == (7, 2)


def test_sobol_plan_is_a_net_in_every_prefix(prototype_denoiser):
    # every 2^k prefix puts one point in each 1/2^k bin of t and of every noise coordinate, and
    # one point in each (t, eps_j) box of area 1/2^k: t and eps are paired as in a Sobol net
    # (pairing the timesteps in the wrong order, e.g. not in torch's Gray-code order, breaks it)
    plan = make_plan(prototype_denoiser, 64, seed=0)
    u = torch.special.ndtr(plan.noise.double())  # back to [0, 1)
    t_bin = torch.searchsorted(evenly_spaced_timesteps(100, 64), plan.timesteps)  # 0 .. 63: its bin on the grid
    for k in (2, 4, 6):
        n = 2**k
        assert sorted((t_bin[:n] * n // 64).tolist()) == list(range(n))
        for j in range(2):
            assert sorted((u[:n, j] * n).floor().long().tolist()) == list(range(n))
            boxes = (t_bin[:n] * 2 ** (k // 2) // 64) * 2 ** (k - k // 2) + (u[:n, j] * 2 ** (k - k // 2)).long()
            assert sorted(boxes.tolist()) == list(range(n))
    gaussian = make_plan(prototype_denoiser, 64, noise_sampling="gaussian", seed=0)
    assert plan.noise.mean(0).abs().max() < gaussian.noise.mean(0).abs().max()
    random = make_plan(prototype_denoiser, 16, timesteps="random", seed=0)
    assert random.timesteps.unique().numel() > 5


def test_a_prefix_of_a_plan_is_a_plan(prototype_denoiser):
    plan = make_plan(prototype_denoiser, 32, seed=0)
    head = plan[:8]
    assert (
        len(head) == 8 and torch.equal(head.noise, plan.noise[:8]) and torch.equal(head.timesteps, plan.timesteps[:8])
    )


def test_sobol_dimension_limit():
    from conftest import PrototypeDenoiser

    big = PrototypeDenoiser(torch.zeros(2, 30000))
    with pytest.raises(ValueError, match="at most 21200 noise dimensions; got 30000"):
        make_plan(big, 4)
    assert make_plan(big, 4, noise_sampling="gaussian").noise.shape == (4, 30000)


def test_timestep_quantiles_of_a_constant_density_are_the_even_grid():
    for n in (1, 7, 64, 500, 1000):
        assert torch.equal(
            timestep_quantiles(torch.ones(1000, dtype=torch.float64), n), evenly_spaced_timesteps(1000, n)
        )


def test_importance_sampling_with_the_ideal_density_is_exact(prototype_denoiser):
    # the prototype denoiser's loss is SNR(t) ||x - mu_c||^2 whatever eps is: with q(t) proportional to
    # it, every importance-weighted trial equals the mean over all T timesteps, for any N
    schedule = prototype_denoiser.schedule
    x = torch.tensor([[0.3, -0.2]])
    exact = schedule.snr.mean() * ((x - prototype_denoiser.prototypes) ** 2).sum(1).double()  # [K]
    for timesteps in ("even", "random"):
        plan = make_plan(prototype_denoiser, 5, timesteps=timesteps, timestep_density=schedule.snr, seed=0)
        errors = class_errors(prototype_denoiser, x, plan)[0].double()
        torch.testing.assert_close(errors, exact, rtol=1e-3, atol=0)  # float32 losses
        assert len(set(plan.timesteps.tolist())) > 1
    # ... and with uniform timesteps it is not
    errors = class_errors(prototype_denoiser, x, make_plan(prototype_denoiser, 5, seed=0))[0].double()
    assert not torch.allclose(errors, exact, rtol=1e-2)


def test_an_importance_sampled_plan_is_nested_and_follows_the_density(prototype_denoiser):
    density = torch.linspace(1, 0, 100, dtype=torch.float64).square()  # most mass at small t
    plan = make_plan(prototype_denoiser, 64, timestep_density=density, seed=0)
    q = density / density.sum()
    torch.testing.assert_close(plan.importance, 1 / (100 * q[plan.timesteps]))
    assert plan.timesteps.float().mean() < 30  # uniform t would average 49.5
    head = plan[:8]
    assert torch.equal(head.importance, plan.importance[:8]) and torch.equal(head.timesteps, plan.timesteps[:8])
    assert sorted(head.timesteps.tolist()) == timestep_quantiles(density, 64)[::8].tolist()  # spread evenly under q


@pytest.mark.parametrize(
    "density, message",
    [
        (torch.ones(99), r"timestep_density must be 100 finite non-negative values .* got shape \(99,\)"),
        (-torch.ones(100), "non-negative"),
        (torch.zeros(100), "not all 0"),
        (torch.full((100,), float("nan")), "finite"),
    ],
)
def test_make_plan_rejects_bad_densities(prototype_denoiser, density, message):
    with pytest.raises(ValueError, match=message):
        make_plan(prototype_denoiser, 8, timestep_density=density)
