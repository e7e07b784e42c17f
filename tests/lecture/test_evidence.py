"""The picture that explains the method (toyclf.lecture.experiments.evidence): the terms it draws
are the terms of Algorithm 1's mean, and the classifier's own plan."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from toyclf import DiffusionClassifier, make_spirals
from toyclf.lecture.experiments.evidence import class_evidence, inside_and_boundary
from toyclf.lecture.plots.evidence import binned_means, plot_class_evidence

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def fitted():
    X, y = make_spirals(400, noise=0.2, random_state=0)
    clf = DiffusionClassifier(max_iter=150, n_trials=16, pruning=None, random_state=0).fit(X, y)  # every trial
    return clf, X


def test_the_running_mean_after_every_trial_is_the_classifiers_error(fitted) -> None:
    clf, X = fitted
    evidence = class_evidence(clf, X[:5], n_trials=clf.n_trials)
    np.testing.assert_allclose(evidence.running_errors[:, :, -1], clf.class_errors(X[:5]), rtol=1e-5, atol=1e-6)
    assert evidence.losses.shape == (5, 2, clf.n_trials)
    assert np.all(evidence.losses >= 0)


def test_with_elbo_weights_the_gap_is_the_posteriors_log_odds(fitted) -> None:
    clf, X = fitted
    assert clf.weighting == "elbo"
    evidence = class_evidence(clf, X[:3], n_trials=clf.n_trials)
    log_proba = clf.predict_log_proba(X[:3])  # equal priors, temperature 1
    for i in range(3):
        assert evidence.log_likelihood_ratio(i) == pytest.approx(log_proba[i, 0] - log_proba[i, 1], abs=1e-4)


def test_the_plan_is_the_classifiers_seeded_plan(fitted) -> None:
    clf, X = fitted
    first, again = class_evidence(clf, X[:2], n_trials=32), class_evidence(clf, X[:2], n_trials=32)
    np.testing.assert_array_equal(first.timesteps, clf.trial_plan(32).timesteps.numpy())
    np.testing.assert_array_equal(first.losses, again.losses)


def test_the_points_chosen_are_the_surest_and_the_least_sure(fitted) -> None:
    clf, X = fitted
    inside, edge = inside_and_boundary(clf, X[:100])
    top = clf.predict_proba(X[:100]).max(axis=1)
    assert top[inside] == top.max() and top[edge] == top.min()


def test_binned_means_average_equal_groups_along_lambda() -> None:
    lam = np.array([3.0, 1.0, 2.0, 0.0])
    losses = np.array([[30.0, 10.0, 20.0, 0.0]])
    centres, means = binned_means(lam, losses, 2)
    np.testing.assert_allclose(centres, [0.5, 2.5])
    np.testing.assert_allclose(means, [[5.0, 25.0]])


def test_the_figure_names_the_log_likelihood_ratio(fitted) -> None:
    clf, X = fitted
    evidence = class_evidence(clf, X[:2], n_trials=16)
    fig = plot_class_evidence(evidence, [0, 1], ["inside", "boundary"])
    titles = [ax.get_title() for ax in fig.axes]
    assert any(
        f"ELBO: log p(x|class 0) - log p(x|class 1) = {evidence.log_likelihood_ratio(1):+.1f} nats" in title
        for title in titles
    )
    shaded = [c.get_label() for ax in fig.axes for c in ax.collections if c.get_label().startswith("favours")]
    assert shaded == ["favours class 0", "favours class 1"]  # the signed area: one colour for each side


def test_few_trials_get_a_bin_each_and_a_short_schedule_its_own_ticks() -> None:
    """Fewer trials than bins: no empty bins (no nan lines); a schedule of 200 steps: ticks inside it."""
    X, y = make_spirals(200, noise=0.2, random_state=0)
    clf = DiffusionClassifier(max_iter=20, n_trials=4, n_timesteps=200, random_state=0).fit(X, y)
    evidence = class_evidence(clf, X[:2], n_trials=4)
    centres, means = binned_means(evidence.log_snr, evidence.losses[0], 24)
    assert len(centres) == 4 and np.isfinite(means).all()
    plot_class_evidence(evidence, [0, 1], ["a", "b"])  # drew without an IndexError


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_binned_means_refuses_a_bad_number_of_bins(bad) -> None:
    with pytest.raises(ValueError, match="n_bins must be an int >= 1; got"):
        binned_means(np.arange(4.0), np.ones(4), bad)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True])
def test_trial_plan_refuses_a_bad_number_of_trials(fitted, bad) -> None:
    clf, _ = fitted
    with pytest.raises(ValueError, match=r"n_trials must be an int >= 1; got"):
        clf.trial_plan(bad)


def test_trial_plan_takes_numpy_ints(fitted) -> None:
    clf, _ = fitted
    torch.testing.assert_close(clf.trial_plan(np.int64(4)).timesteps, clf.trial_plan(4).timesteps)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((2, 3)), "X has 3 features, but DiffusionClassifier is expecting 2 features"),
        (np.array([[0.0, np.nan]]), "Input X contains NaN"),
        (np.zeros(2), "Expected 2D array, got 1D array"),
    ],
)
def test_bad_points_are_refused_by_name(fitted, bad, message) -> None:
    clf, _ = fitted
    with pytest.raises(ValueError, match=message):
        class_evidence(clf, bad, n_trials=4)


def test_an_unfitted_classifier_is_refused() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        class_evidence(DiffusionClassifier(), np.zeros((1, 2)))
