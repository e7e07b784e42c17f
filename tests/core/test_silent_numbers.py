"""No silent wrong numbers: a diverged training run, inputs too large to standardise, a calibration
the data cannot determine, an extreme temperature, a noise range of no timestep, bool where an int
is meant, a map step wider than its grid: each is a clear error or the right answer, never nan
predictions or a first class answered everywhere."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.exceptions import DataConversionWarning, NotFittedError

from toyclf import DiffusionClassifier
from toyclf.calibration import fit_temperature
from toyclf.denoisers.mlp import MLPDenoiser
from toyclf.estimator import class_errors, log_posterior
from toyclf.mapping import probability_map
from toyclf.plan import make_plan
from toyclf.training import train_denoiser

TINY = dict(max_iter=30, hidden_size=16, n_trials=8, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-1, 0.6, (50, 2)), rng.normal(1, 0.6, (50, 2))])
    return X, np.repeat([0, 1], 50)


@pytest.fixture(scope="module")
def fitted(data):
    return DiffusionClassifier(**TINY).fit(*data)


def test_a_diverged_training_run_is_an_error_and_leaves_no_model(data, fitted):
    clf = DiffusionClassifier(**{**TINY, "learning_rate": 1e6})
    with pytest.raises(ValueError, match=r"training diverged: .* Lower the learning rate \(learning_rate=1e\+06\)"):
        clf.fit(*data)
    with pytest.raises(NotFittedError):
        clf.predict(data[0][:3])
    refit = DiffusionClassifier(**TINY).fit(*data)  # a fitted classifier whose refit diverges is not fitted either
    with pytest.raises(ValueError, match="diverged"):
        refit.set_params(learning_rate=1e6).fit(*data)
    with pytest.raises(NotFittedError):
        refit.predict(data[0][:3])


def test_values_too_large_to_standardise_are_refused_at_fit_and_predict(data, fitted):
    X, y = data
    with pytest.raises(ValueError, match=r"X holds values too large to standardise \(largest \|value\| [\d.]+e\+200\)"):
        DiffusionClassifier(**TINY).fit(X * 1e200, y)
    far = X[:4].copy()
    far[2, 1] = 1e200
    with pytest.raises(ValueError, match=r"X\[2, 1\] = 1e\+200 is .* beyond float32's range"):
        fitted.predict(far)
    assert fitted.predict(X[:4] * 1e3).shape == (4,)  # far but representable: an answer


def test_numpy_scalars_where_ints_are_meant_train_the_same_model(data, fitted):
    numpy_typed = dict(max_iter=np.uint16(30), hidden_size=np.int32(16), n_trials=np.int64(8), random_state=np.int64(0))
    clf = DiffusionClassifier(**numpy_typed).fit(*data)
    assert clf.loss_curve_ == fitted.loss_curve_
    np.testing.assert_array_equal(clf.class_errors(data[0]), fitted.class_errors(data[0]))


@pytest.mark.parametrize(
    "param", ["n_trials", "hidden_size", "max_iter", "batch_size", "n_timesteps", "temperature", "learning_rate"]
)
@pytest.mark.parametrize("flag", [True, np.True_])
def test_bool_is_not_a_number(param, flag, data):
    with pytest.raises(ValueError, match=f"The '{param}' parameter of DiffusionClassifier must be .* Got {flag!r}"):
        DiffusionClassifier(**{**TINY, param: flag}).fit(*data)


def test_a_noise_range_of_no_timestep_is_refused_before_training(data, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("toyclf.classifier.train_denoiser", never)
    with pytest.raises(ValueError, match=r"noise_range=\(1000.0, 2000.0\) keeps no timestep: .* run from [\d.e+-]+ to"):
        DiffusionClassifier(**TINY, noise_range=(1000.0, 2000.0)).fit(*data)
    with pytest.raises(ValueError, match=r"stages ending at \(50, 500\) trials needs a plan of exactly 500 trials"):
        DiffusionClassifier(**{**TINY, "pruning": "staged"}).fit(*data)  # the paper's stages, TINY's 8 trials


def test_a_noise_range_set_after_fit_is_named_at_predict(data, fitted):
    clf = DiffusionClassifier(**TINY).fit(*data).set_params(noise_range=(1e-9, 1e-8))
    with pytest.raises(ValueError, match=r"noise_range=\(1e-09, 1e-08\) keeps no timestep"):
        clf.predict(data[0][:2])


def test_calibration_the_data_cannot_determine_is_refused(data, fitted):
    X, y = data
    with pytest.raises(ValueError, match="needs held-out samples of at least 2 classes; got 1 sample"):
        fitted.calibrate(X[:1], y[:1])
    with pytest.raises(ValueError, match="at least 2 classes; got 50 sample"):
        fitted.calibrate(X[:50], y[:50])
    temperature = fitted.temperature
    with pytest.raises(ValueError, match="at least 2 classes"):
        fitted.calibrate(X[:1], y[:1])
    assert fitted.temperature == temperature  # unchanged


@pytest.mark.parametrize(
    "errors, toward",
    [
        ([[0.0, 1.0], [0.0, 2.0], [3.0, 0.0]], "goes to 0"),  # every sample ranked right by a margin
        ([[1.0, 0.0], [2.0, 1.5], [0.0, 0.5]], "goes to infinity"),  # errors that rank the wrong class first
        ([[1.0, 1.0], [2.0, 2.0], [0.5, 0.5]], "does not depend on it"),  # errors that say nothing
    ],
)
def test_a_temperature_pinned_at_a_bound_is_refused(errors, toward):
    with pytest.raises(ValueError, match=f"these 3 held-out samples do not determine a temperature: .* {toward}"):
        fit_temperature(errors, [0, 0, 1])


def test_fit_temperature_finds_an_interior_optimum():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    errors = np.stack([rng.normal(0, 1, 500), rng.normal(0, 1, 500)], 1)
    errors[np.arange(500), y] -= 1.0  # the true class is better by 1 on average, with noise: a finite temperature
    tau = fit_temperature(errors, y)
    assert 0.1 < tau < 10


@pytest.mark.parametrize("temperature", [1e-320, 1e-300, 1e-30, 1e300, 1e308])
def test_extreme_temperatures_give_their_limit_not_nan(temperature):
    errors = torch.tensor([[1.0, 2.0, 3.0], [5.0, 4.0, 4.5]], dtype=torch.float64)
    log_prior = torch.log(torch.tensor([0.01, 0.01, 0.98], dtype=torch.float64))  # temperature * log p overflows
    p = log_posterior(errors, temperature=temperature, log_prior=log_prior).exp()
    assert torch.isfinite(p).all() and torch.allclose(p.sum(1), torch.ones(2, dtype=torch.float64))
    if temperature < 1:  # all the mass on the lowest error
        assert torch.equal(p, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64))
    else:  # the prior
        assert torch.allclose(p, log_prior.exp().expand(2, 3))


def test_a_class_of_prior_zero_is_never_chosen_at_any_temperature():
    errors = torch.tensor([[0.0, 2.0, 3.0]], dtype=torch.float64)  # the best error, but prior 0
    log_prior = torch.log(torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64))
    for temperature in (1e-320, 1.0, 1e308):
        p = log_posterior(errors, temperature=temperature, log_prior=log_prior).exp()
        assert p[0, 0] == 0 and torch.isfinite(p).all() and torch.isclose(p.sum(), torch.tensor(1.0, dtype=p.dtype))


def test_a_tiny_temperature_on_the_classifier(data, fitted):
    clf = DiffusionClassifier(**{**TINY, "temperature": 1e-320}).fit(*data)
    proba = clf.predict_proba(data[0])
    assert np.isfinite(proba).all() and set(np.unique(proba)) <= {0.0, 1.0}
    np.testing.assert_array_equal(clf.predict(data[0]), fitted.predict(data[0]))


def test_errors_that_are_not_finite_are_refused(fitted):
    class Overflowing:  # a denoiser whose predictions overflow (a float16 network on a large input)
        schedule, n_classes, latent_shape, device = fitted.denoiser_.schedule, 2, (2,), torch.device("cpu")

        def encode(self, x):
            return x

        def predict_noise(self, x_t, t, labels):
            return torch.full_like(x_t, torch.inf)

    denoiser = Overflowing()
    with pytest.raises(ValueError, match=r"errors are not finite for 3 of 3 inputs \(rows \[0, 1, 2\]\)"):
        class_errors(denoiser, torch.zeros(3, 2), make_plan(denoiser, 4, seed=0))


def test_a_map_step_wider_than_the_grid_classifies_only_near_it():
    asked = []

    def classifier(points):
        asked.append(points)
        return np.column_stack([points[:, 0] > 0.1, points[:, 0] <= 0.1]).astype(float)

    xx, yy = np.meshgrid(np.linspace(-1, 1, 10), np.linspace(-1, 1, 12))
    wide = probability_map(classifier, xx, yy, coarse_step=2**20)
    points = np.concatenate(asked)
    asked.clear()
    np.testing.assert_array_equal(wide, probability_map(classifier, xx, yy, coarse_step=8))  # the widest that fits
    assert len(points) < 2 * xx.size and points[:, 0].max() < 1 + 2 * 8 * (2 / 9)  # within a cell of the grid
    thin = np.meshgrid(np.linspace(-1, 1, 1000), np.linspace(0, 1, 3))  # 3 rows: a step of 2 at most
    asked.clear()
    probability_map(classifier, *thin, coarse_step=1024)
    assert np.concatenate(asked)[:, 1].max() <= 1.5  # one step of 0.5 past the top row, not 512
    with pytest.raises(ValueError, match="coarse_step must be a power of two"):
        probability_map(classifier, xx, yy, coarse_step=True)
    probability_map(classifier, xx, yy, tolerance=np.float32(0.05), coarse_step=np.int64(4))  # numpy numbers work


def test_calibrate_takes_labels_as_a_column_as_fit_does(data, overlapping):
    X, y = data
    X_cal, y_cal = overlapping
    flat = DiffusionClassifier(**TINY).fit(X, y).calibrate(X_cal, y_cal).temperature
    with pytest.warns(DataConversionWarning):
        column = DiffusionClassifier(**TINY).fit(X, y).calibrate(X_cal, y_cal[:, None]).temperature
    assert column == flat


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MLPDenoiser(2, True), "n_classes must be an int >= 1; got True"),
        (lambda: MLPDenoiser(2, 2, hidden_size=16.9), "hidden_size must be an int >= 1; got 16.9"),
        (lambda: MLPDenoiser(2, 2, n_layers=np.int64(-1)), "n_layers must be an int >= 0; got np.int64(-1)"),
        (
            lambda: train_denoiser(MLPDenoiser(2, 2), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), steps=2.7),
            "steps must be a positive int; got 2.7",
        ),
        (
            lambda: train_denoiser(
                MLPDenoiser(2, 2), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), batch_size=True
            ),
            "batch_size must be a positive int; got True",
        ),
    ],
)
def test_the_toy_denoiser_and_its_training_refuse_what_is_not_an_int(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()
