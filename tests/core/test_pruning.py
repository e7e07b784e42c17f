"""Pruning rules: the paper's staged elimination and per-point early stopping, with exact counts."""

import numpy as np
import pytest
import torch
from conftest import PrototypeDenoiser

from toyclf import NoiseSchedule
from toyclf.estimator import class_errors, log_posterior
from toyclf.plan import make_plan
from toyclf.pruning import EarlyStopping, StagedElimination, resolve_pruning


def rows_evaluated(denoiser: PrototypeDenoiser) -> int:
    return sum(len(x_t) for x_t, _, _ in denoiser.calls)


@pytest.fixture
def ten_prototypes() -> PrototypeDenoiser:
    return PrototypeDenoiser(torch.randn(10, 2, generator=torch.Generator().manual_seed(0)) * 3)


def nearly_constant_snr(prototypes: list[list[float]]) -> PrototypeDenoiser:
    """Prototypes under a schedule with SNR within 0.1 % of 1 at every t: the error of class k is
    ||x - mu_k||^2 on every trial, up to that, so a clear lead is certain after any trial."""
    schedule = NoiseSchedule(torch.linspace(0.5001, 0.4999, 100, dtype=torch.float64))
    return PrototypeDenoiser(torch.tensor(prototypes), schedule)


def test_staged_elimination_counts_every_evaluation(ten_prototypes):
    x = torch.randn(20, 2) * 3
    plan = make_plan(ten_prototypes, 500, seed=0)
    errors, trials = class_errors(
        ten_prototypes, x, plan, pruning=StagedElimination((50, 500), (5, 1)), return_trials=True
    )
    assert trials.sum(1).tolist() == [10 * 50 + 5 * 450] * 20  # the paper's 2,750 evaluations
    assert rows_evaluated(ten_prototypes) == trials.sum()  # and not one more
    first_stage = class_errors(ten_prototypes, x, plan[:50])
    survivors = first_stage.topk(5, dim=1, largest=False).indices
    assert torch.equal((trials == 500).nonzero()[:, 1].view(20, 5).sort(1).values, survivors.sort(1).values)
    # the winner is the survivor with the lowest error on all 500 trials
    full = class_errors(ten_prototypes, x, plan)
    assert torch.equal(errors.argmin(1), survivors.gather(1, full.gather(1, survivors).argmin(1, keepdim=True))[:, 0])


def test_dropped_classes_are_carried_by_their_paired_difference(ten_prototypes):
    # with prototypes the loss on trial n is SNR(t_n) ||x - mu_k||^2, so every error is known exactly
    x = torch.randn(5, 2) * 3
    plan = make_plan(ten_prototypes, 64, seed=0)
    errors, trials = class_errors(
        ten_prototypes, x, plan, pruning=StagedElimination((16, 64), (3, 1)), return_trials=True
    )
    snr = ten_prototypes.schedule.snr[plan.timesteps]  # [N]
    distance = ((x[:, None].double() - ten_prototypes.prototypes[None].double()) ** 2).sum(-1)  # [B, K]
    winner = errors.argmin(1)
    for i in range(5):
        for k in range(10):
            n = trials[i, k]
            expected = (snr * distance[i, winner[i]]).mean() + (
                snr[:n] * (distance[i, k] - distance[i, winner[i]])
            ).mean()
            torch.testing.assert_close(
                errors[i, k].double(), expected, rtol=1e-3, atol=1e-3
            )  # float32 losses of size 1e4


def test_early_stopping_spends_trials_only_where_the_margin_is_thin():
    denoiser = nearly_constant_snr([[-1.0, 0.0], [-1.0, 0.0], [0.0, 4.0]])  # classes 0 and 1 identical
    clear, tie = [0.0, 3.7], [-1.0, 0.3]  # near mu_2; a dead heat between classes 0 and 1
    plan = make_plan(denoiser, 64, seed=0)
    errors, trials = class_errors(
        denoiser, torch.tensor([clear, tie]), plan, pruning=EarlyStopping(min_trials=4), return_trials=True
    )
    assert trials.tolist() == [[4, 4, 4], [64, 64, 4]]  # class 2 settles or drops out at the first look
    assert rows_evaluated(denoiser) == trials.sum()
    assert errors[0].argmin() == 2 and errors[1, 0] == errors[1, 1]


def test_early_stopping_decides_what_the_posterior_decides():
    # x is nearer mu_0 (error 0.81 against 1.21 for mu_1), but the prior favours class 1 enough to win
    denoiser = nearly_constant_snr([[-1.0, 0.0], [1.0, 0.0], [0.0, 4.0]])
    x = torch.tensor([[-0.1, 0.0]])
    log_prior = torch.log(torch.tensor([0.1, 0.85, 0.05]))
    plan = make_plan(denoiser, 32, seed=0)
    errors, trials = class_errors(denoiser, x, plan, pruning="early_stopping", log_prior=log_prior, return_trials=True)
    assert errors[0, :2].argmin() == 0  # the errors alone say class 0
    assert log_posterior(errors, log_prior=log_prior).argmax(1).tolist() == [1]
    assert trials.tolist() == [[8, 8, 8]]  # settled at the first look, on the posterior's answer


def test_early_stopping_agrees_with_all_trials_at_a_fraction_of_the_cost(fitted, spirals_split):
    X = torch.as_tensor(fitted.scaler_.transform(spirals_split[2][:400]), dtype=torch.float32)
    plan = make_plan(fitted.denoiser_, 128, seed=1)
    full = class_errors(fitted.denoiser_, X, plan)
    errors, trials = class_errors(fitted.denoiser_, X, plan, pruning="early_stopping", return_trials=True)
    agreement = (errors.argmin(1) == full.argmin(1)).float().mean().item()
    assert agreement >= 0.99, agreement
    assert trials.sum() <= 0.4 * 400 * 2 * 128, trials.sum()
    assert trials.min() == 8 and trials.max() == 128  # clear points stop at once, thin ones run on


def test_early_stopping_one_row_at_a_time_gives_exactly_the_batch(fitted, spirals_split):
    X = torch.as_tensor(fitted.scaler_.transform(spirals_split[2][:30]), dtype=torch.float32)
    plan = make_plan(fitted.denoiser_, 64, seed=3)
    batch = class_errors(fitted.denoiser_, X, plan, pruning="early_stopping")
    rows = torch.cat([class_errors(fitted.denoiser_, X[i : i + 1], plan, pruning="early_stopping") for i in range(30)])
    assert torch.equal(batch, rows)


def test_early_stopping_looks(prototype_denoiser):
    assert EarlyStopping(min_trials=8).stage_ends(100) == [8, 16, 32, 64, 100]
    assert EarlyStopping(min_trials=8).stage_ends(5) == [5]
    rule = EarlyStopping(error_rate=0.05)
    assert rule.threshold(8, 5, 2) == pytest.approx(2.998, abs=1e-3)  # t table: 7 df, upper 0.05 / 5 = 1 %
    assert rule.threshold(8, 5, 3) > rule.threshold(8, 5, 2)  # more rivals, stricter


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: StagedElimination((50, 40), (5, 1)), r"trials must increase .* got \(50, 40\)"),
        (lambda: StagedElimination((50, 500), (5,)), "the same length"),
        (lambda: StagedElimination((50, 500), (1, 5)), r"to_keep must not increase .* got \(1, 5\)"),
        (lambda: StagedElimination((0, 5), (2, 1)), "positive ints"),
        (lambda: StagedElimination().stage_ends(256), r"exactly 500 trials; the plan has 256"),
        (
            lambda: StagedElimination().stage_ends(1000),
            r"exactly 500 trials; the plan has 1000",
        ),  # no trial drawn for nothing
        (lambda: EarlyStopping(error_rate=0), r"error_rate must be a float in \(0, 1\); got 0"),
        (lambda: EarlyStopping(min_trials=1), "min_trials must be an int >= 2; got 1"),
        (lambda: resolve_pruning("fast"), "pruning must be None, one of 'early_stopping', 'staged', .* got 'fast'"),
        (lambda: resolve_pruning(3), "rule with stage_ends and prune methods"),
    ],
)
def test_bad_rules(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_log_prior_must_match_the_classes(prototype_denoiser):
    with pytest.raises(ValueError, match=r"one value per class, shape \(3,\); got \(2,\)"):
        class_errors(prototype_denoiser, torch.zeros(1, 2), make_plan(prototype_denoiser, 4), log_prior=np.zeros(2))
