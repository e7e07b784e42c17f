"""Calibration: do the probabilities of eq. 4 (Li et al. 2023), p(c | x) = softmax_c(-err(x, c) /
temperature), mean what they say, for the paper's uniform weighting and for the ELBO weighting,
at temperature 1 and with the temperature fitted on held-out data?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyclf.calibration import expected_calibration_error


@dataclass(frozen=True)
class CalibrationSetting:
    """The weighting of the class errors, and whether the temperature was fitted (else 1)."""

    weighting: str
    fitted_temperature: bool


def calibration_settings(clf, X_cal, y_cal, X_eval, y_eval, *, n_bins: int = 15) -> dict[CalibrationSetting, dict]:
    """Probabilities on (X_eval, y_eval) for the paper's uniform weighting (over every timestep) at
    temperature 1, the same with the temperature fitted on (X_cal, y_cal) by
    :meth:`DiffusionClassifier.calibrate`, and the classifier's ELBO weighting (over its
    ``noise_range``) at temperature 1 (and fitted, for the record): the posterior p(c | x) of the
    paper's eq. (4) is a softmax of -err(x, c) / temperature. The expected calibration error uses
    ``n_bins`` equal-width bins of confidence. setting -> {"proba" (n, K), "ece", "temperature"}."""
    y_eval_index = np.searchsorted(clf.classes_, y_eval)
    result = {}
    original = clf.get_params()
    try:
        for weighting, noise_range in (("uniform", None), ("elbo", original["noise_range"])):
            clf.set_params(weighting=weighting, noise_range=noise_range, temperature=1.0)
            proba = clf.predict_proba(X_eval)
            result[CalibrationSetting(weighting, fitted_temperature=False)] = {"proba": proba, "temperature": 1.0}
            clf.calibrate(X_cal, y_cal)
            proba = clf.predict_proba(X_eval)
            fitted = {"proba": proba, "temperature": clf.temperature}
            result[CalibrationSetting(weighting, fitted_temperature=True)] = fitted
    finally:
        clf.set_params(**original)
    for entry in result.values():
        entry["ece"] = expected_calibration_error(entry["proba"], y_eval_index, n_bins=n_bins)
    return result
