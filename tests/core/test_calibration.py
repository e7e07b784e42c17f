"""Temperature scaling and calibration error, against answers known by construction."""

import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from toyclf.calibration import expected_calibration_error, fit_temperature, reliability_curve


def sample_labels(errors: np.ndarray, temperature: float, seed: int = 0) -> np.ndarray:
    """Labels drawn from softmax(-errors / temperature): calibrated at that temperature."""
    p = torch.softmax(-torch.as_tensor(errors) / temperature, dim=1).numpy()
    rng = np.random.default_rng(seed)
    return (rng.random((len(p), 1)) > p.cumsum(1)).sum(1)


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    errors = np.random.default_rng(1).normal(size=(20000, 3)) * 5
    for true in (0.5, 4.0):
        y = sample_labels(errors, true)
        assert fit_temperature(errors, y) == pytest.approx(true, rel=0.05)


def test_fitting_the_temperature_removes_the_calibration_error():
    errors = np.random.default_rng(2).normal(size=(20000, 2)) * 3
    y = sample_labels(errors, 3.0)
    flat = torch.softmax(-torch.as_tensor(errors) / 30.0, 1).numpy()  # ten times too flat
    fitted = torch.softmax(-torch.as_tensor(errors) / fit_temperature(errors, y), 1).numpy()
    assert expected_calibration_error(flat, y) > 0.1
    assert expected_calibration_error(fitted, y) < 0.02
    assert (flat.argmax(1) == fitted.argmax(1)).all()  # a temperature never changes a decision


def test_reliability_curve_and_ece_by_hand():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    y = np.array([0, 1, 1, 1])
    confidence, accuracy, counts = reliability_curve(proba, y, n_bins=2)  # bins [0, .5), [.5, 1]
    np.testing.assert_allclose(confidence, [0.75])
    np.testing.assert_allclose(accuracy, [0.75])
    assert counts.tolist() == [4]
    assert expected_calibration_error(proba, y, n_bins=2) == pytest.approx(0.0)
    assert expected_calibration_error(proba, y, n_bins=10) == pytest.approx((0.1 + 0.8 + 0.4 + 0.3) / 4)


def test_fit_temperature_checks_its_input():
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\); got errors of shape \(2, 2\) and y in \[0, 2\]"):
        fit_temperature(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fit_temperature(np.zeros((3, 2)), [0, 1])


def test_calibrate_fits_the_classifiers_temperature_on_held_out_data(fitted, spirals_split):
    _, _, X_test, y_test = spirals_split
    X_cal, y_cal, X_eval, y_eval = X_test[:1000], y_test[:1000], X_test[1000:], y_test[1000:]
    clf = copy.deepcopy(fitted).set_params(weighting="uniform", noise_range=None)  # the paper's, temperature 1
    before = clf.predict_proba(X_eval)
    assert clf.calibrate(X_cal, y_cal) is clf
    after = clf.predict_proba(X_eval)
    assert clf.get_params()["temperature"] == clf.temperature < 0.5  # uniform weighting: far too flat at 1
    assert (before.argmax(1) == after.argmax(1)).all()
    assert log_loss(y_eval, after) < 0.8 * log_loss(y_eval, before)
    assert expected_calibration_error(after, y_eval) < 0.5 * expected_calibration_error(before, y_eval)
    assert expected_calibration_error(after, y_eval) < 0.03


def test_calibrate_names_labels_it_has_not_seen(fitted, spirals_split):
    _, _, X_test, _ = spirals_split
    with pytest.raises(ValueError, match=r"y contains labels not seen in fit: \[7\]; expected labels among \[0, 1\]"):
        copy.deepcopy(fitted).calibrate(X_test[:3], [0, 1, 7])


def test_a_calibrated_temperature_warns_when_the_settings_it_was_fitted_for_change(fitted, spirals_split):
    _, _, X_test, y_test = spirals_split
    clf = copy.deepcopy(fitted).set_params(weighting="uniform", pruning=None)
    clf.calibrate(X_test[:300], y_test[:300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(X_test[:5])  # the settings it was fitted for: no warning
    clf.set_params(n_trials=clf.n_trials // 2)
    with pytest.warns(
        UserWarning, match=r"was fitted by calibrate\(\) with n_trials=16; the settings are now n_trials=8"
    ):
        clf.predict_proba(X_test[:5])
    clf.set_params(temperature=0.5)  # set by hand: the user's choice, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(X_test[:5])
