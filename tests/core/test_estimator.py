"""The Monte Carlo Bayes estimator, checked against closed forms and its own invariances."""

import pytest
import torch

from toyclf.estimator import class_errors, denoising_loss, log_posterior, pair_losses, timestep_weights
from toyclf.plan import make_plan


def exact_errors(denoiser, x, plan, weights=None):
    """mean_n w(t_n) SNR(t_n) ||x - mu_c||^2: the error of the prototype denoiser in closed form."""
    snr = denoiser.schedule.snr[plan.timesteps]  # [N]
    w = torch.ones_like(snr) if weights is None else weights[plan.timesteps]
    distance = ((x[:, None, :].double() - denoiser.prototypes[None].double()) ** 2).sum(-1)  # [B, K]
    return distance * (w * snr).mean()


def test_errors_equal_the_closed_form(prototype_denoiser):
    x = torch.randn(50, 2)
    plan = make_plan(prototype_denoiser, 20, seed=0)
    errors = class_errors(prototype_denoiser, x, plan)
    torch.testing.assert_close(errors.double(), exact_errors(prototype_denoiser, x, plan), rtol=1e-4, atol=1e-4)


def test_elbo_weighting_equals_the_closed_form(prototype_denoiser):
    x = torch.randn(20, 2)
    plan = make_plan(prototype_denoiser, 16, timesteps="random", seed=0)
    weights = timestep_weights(prototype_denoiser.schedule, "elbo")
    errors = class_errors(prototype_denoiser, x, plan, weighting="elbo")
    torch.testing.assert_close(
        errors.double(), exact_errors(prototype_denoiser, x, plan, weights), rtol=1e-4, atol=1e-3
    )


def test_the_right_denoiser_makes_its_class_win(prototype_denoiser):
    # a point at prototype k is denoised perfectly (error 0) only under class k
    plan = make_plan(prototype_denoiser, 8, seed=0)
    errors = class_errors(prototype_denoiser, prototype_denoiser.prototypes, plan)
    assert errors.argmin(1).tolist() == [0, 1, 2]
    torch.testing.assert_close(errors.diagonal(), torch.zeros(3), atol=1e-4, rtol=0)
    assert (errors + torch.eye(3) * 1e9).min() > 1.0


def test_noise_is_shared_by_every_class_and_point(prototype_denoiser):
    x0 = torch.randn(4, 2)
    plan = make_plan(prototype_denoiser, 6, noise_sampling="gaussian", seed=0)
    points, labels = torch.arange(4).repeat_interleave(3), torch.arange(3).repeat(4)  # every (point, class)
    pair_losses(prototype_denoiser, x0, points, labels, plan, eval_batch_size=1000)
    ((x_t, t, labels),) = prototype_denoiser.calls
    x_t, t, labels = x_t.view(4, 3, 6, 2), t.view(4, 3, 6), labels.view(4, 3, 6)
    # every class sees the same x_t and t for a (point, trial) pair...
    assert torch.equal(x_t[:, :1].expand_as(x_t), x_t) and torch.equal(t[:, :1].expand_as(t), t)
    # ... and it is the forward process applied to that point with the plan's (t_n, eps_n)
    expected = prototype_denoiser.schedule.add_noise(
        x0.repeat_interleave(6, 0), plan.noise.repeat(4, 1), plan.timesteps.repeat(4)
    )
    torch.testing.assert_close(x_t[:, 0].reshape(-1, 2), expected)
    assert torch.equal(t[0, 0], plan.timesteps) and torch.equal(t[3, 2], plan.timesteps)
    assert labels[:, :, 0].tolist() == [[0, 1, 2]] * 4


def test_memory_is_bounded_by_batch_size(prototype_denoiser):
    x = torch.randn(1000, 2)
    plan = make_plan(prototype_denoiser, 64, seed=0)
    class_errors(prototype_denoiser, x, plan, eval_batch_size=100)
    assert max(len(c[0]) for c in prototype_denoiser.calls) <= 100
    assert max(prototype_denoiser.encoded) * 3 * 64 <= 16 * 100 + 3 * 64  # points per chunk
    # a long plan bounds the chunk by the memory of the stored per-trial losses, 2^21 values
    class_errors(
        prototype_denoiser, torch.randn(30_000, 2), make_plan(prototype_denoiser, 512), pruning="early_stopping"
    )
    assert max(prototype_denoiser.encoded) * 3 * 512 <= 2**21


def test_one_row_at_a_time_gives_exactly_the_batch(fitted, spirals_split):
    X = torch.as_tensor(fitted.scaler_.transform(spirals_split[2][:40]), dtype=torch.float32)
    plan = make_plan(fitted.denoiser_, 16, seed=3)
    batch = class_errors(fitted.denoiser_, X, plan)
    rows = torch.cat([class_errors(fitted.denoiser_, X[i : i + 1], plan) for i in range(len(X))])
    assert torch.equal(batch, rows)


def test_chunking_does_not_change_answers(fitted, spirals_split):
    X = torch.as_tensor(fitted.scaler_.transform(spirals_split[2][:300]), dtype=torch.float32)
    plan = make_plan(fitted.denoiser_, 16, seed=3)
    reference = class_errors(fitted.denoiser_, X, plan, eval_batch_size=4096)
    for eval_batch_size in (3, 7, 100, 100_000):
        chunked = class_errors(fitted.denoiser_, X, plan, eval_batch_size=eval_batch_size)
        torch.testing.assert_close(chunked, reference, rtol=1e-6, atol=1e-6)
        assert torch.equal(chunked.argmin(1), reference.argmin(1))


def test_a_subset_of_classes(prototype_denoiser):
    x = torch.randn(5, 2)
    plan = make_plan(prototype_denoiser, 8, seed=0)
    full = class_errors(prototype_denoiser, x, plan)
    torch.testing.assert_close(class_errors(prototype_denoiser, x, plan, classes=[2, 0]), full[:, [2, 0]])


@pytest.mark.parametrize("loss", ["l2", "l1", "huber"])
def test_losses(loss):
    noise, predicted = torch.tensor([[0.0, 0.0], [1.0, -3.0]]), torch.tensor([[0.5, 0.0], [0.0, 0.0]])
    expected = {"l2": [0.25, 10.0], "l1": [0.5, 4.0], "huber": [0.125, 0.5 + 2.5]}[loss]
    torch.testing.assert_close(denoising_loss(noise, predicted, loss), torch.tensor(expected))


def test_posterior_sign_temperature_and_prior():
    errors = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    p = log_posterior(errors).exp()
    assert p[0, 0] > p[0, 1]  # lower error, likelier class: softmax(-err), not softmax(err)
    torch.testing.assert_close(p[0], torch.softmax(torch.tensor([-1.0, -3.0], dtype=torch.float64), 0))
    torch.testing.assert_close(p.sum(1), torch.ones(2, dtype=torch.float64))
    hot = log_posterior(errors, temperature=10.0).exp()
    assert 0.5 < hot[0, 0] < p[0, 0]  # a higher temperature flattens
    prior = torch.log(torch.tensor([0.2, 0.8]))
    tied = log_posterior(errors, log_prior=prior).exp()
    torch.testing.assert_close(tied[1], torch.tensor([0.2, 0.8], dtype=torch.float64))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda d, p, x: class_errors(d, x, p, loss="l3"), "loss must be one of 'l2', 'l1', 'huber'; got 'l3'"),
        (
            lambda d, p, x: class_errors(d, x, p, weighting="snr"),
            "weighting must be one of 'uniform', 'elbo', 'velocity'; got 'snr'",
        ),
        (lambda d, p, x: class_errors(d, x, p, classes=[0, 3]), r"label ids in \[0, 3\); got \[0, 3\]"),
        (lambda d, p, x: class_errors(d, x, p, classes=[]), "non-empty"),
        (lambda d, p, x: make_plan(d, 0), "n_trials must be a positive int; got 0"),
        (
            lambda d, p, x: make_plan(d, 4, timesteps="uniform"),
            "timesteps must be one of 'even', 'random'; got 'uniform'",
        ),
        (
            lambda d, p, x: log_posterior(torch.zeros(1, 2), temperature=0),
            "temperature must be a positive finite number; got 0",
        ),
    ],
)
def test_bad_arguments(prototype_denoiser, call, match):
    with pytest.raises(ValueError, match=match):
        call(prototype_denoiser, make_plan(prototype_denoiser, 4), torch.zeros(2, 2))


def test_trial_losses_of_the_ablations_average_to_class_errors(prototype_denoiser):
    # the ablations read per-trial losses; their mean must be the estimator's error, importance weights included
    from toyclf.lecture.experiments.per_trial import trial_losses

    x = torch.randn(6, 2)
    density = torch.linspace(1, 2, prototype_denoiser.schedule.num_timesteps, dtype=torch.float64)
    plan = make_plan(prototype_denoiser, 16, timestep_density=density, seed=0)
    for weighting in ("uniform", "elbo"):
        expected = class_errors(prototype_denoiser, x, plan, weighting=weighting).double()
        got = trial_losses(prototype_denoiser, x, plan, weighting=weighting).mean(-1)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)


def test_a_denoiser_of_the_old_batch_size_name_keeps_its_batch(prototype_denoiser):
    """A custom denoiser that says its rows per call as ``batch_size`` (the attribute's old name) is
    sent that many, with a warning, not the 4096-row default."""
    prototype_denoiser.batch_size = 5
    x = torch.zeros(4, 2)
    with pytest.warns(FutureWarning, match="batch_size is read as its eval_batch_size"):
        class_errors(prototype_denoiser, x, make_plan(prototype_denoiser, 8, seed=0))
    assert max(len(labels) for _, _, labels in prototype_denoiser.calls) == 5
