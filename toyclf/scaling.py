"""Feature scaling before the denoiser: each feature on its own, or all features alike.

``"per_feature"`` is scikit-learn's :class:`~sklearn.preprocessing.StandardScaler`: every feature
to mean 0 and variance 1. ``"global"`` is :class:`GlobalStandardScaler`: one mean and one standard
deviation over all the features, which keeps features that share a unit (the pixels of an image)
in proportion, so a faint border pixel is not blown up to the scale of the strokes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import FLOAT_DTYPES, check_array, check_is_fitted, validate_data


class GlobalStandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise all features by one mean and one standard deviation: z = (x - mean) / std.

    ``mean`` and ``std`` are taken over every value of X (all samples, all features). Constant X
    (all values equal) gets a scale of 1, as :class:`~sklearn.preprocessing.StandardScaler` does
    for a constant feature. The fitted attributes have StandardScaler's names and shapes, so the
    two are used (and saved) alike.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features_in_,), the mean of all of X, repeated for every feature
    var_ : ndarray of shape (n_features_in_,), the variance of all of X, repeated
    scale_ : ndarray of shape (n_features_in_,), the standard deviation of all of X (1 if X is constant), repeated
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,), only when X has feature names
    """

    def fit(self, X: Any, y: Any = None) -> GlobalStandardScaler:
        """Compute the mean and standard deviation of all the values of X, (n_samples, n_features)."""
        X = validate_data(self, X, dtype=FLOAT_DTYPES)
        n_features = X.shape[1]
        std = X.std() if np.ptp(X) > 0 else 1.0  # constant X: scale 1, as StandardScaler
        self.mean_ = np.full(n_features, X.mean(), dtype=np.float64)
        self.var_ = np.full(n_features, X.var(), dtype=np.float64)
        self.scale_ = np.full(n_features, std, dtype=np.float64)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(X - mean_) / scale_, (n_samples, n_features), computed as StandardScaler computes it."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, copy=True, force_writeable=True, reset=False)
        X -= self.mean_.astype(X.dtype)
        X /= self.scale_.astype(X.dtype)
        return X

    def inverse_transform(self, X: Any) -> np.ndarray:
        """X * scale_ + mean_: back to the units of the training data, (n_samples, n_features)."""
        check_is_fitted(self)
        X = check_array(X, dtype=FLOAT_DTYPES, copy=True, force_writeable=True)
        X *= self.scale_.astype(X.dtype)
        X += self.mean_.astype(X.dtype)
        return X


SCALERS = {"per_feature": StandardScaler, "global": GlobalStandardScaler}
SCALINGS = tuple(SCALERS)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def fit_scaler(feature_scaling: str, X: np.ndarray) -> StandardScaler | GlobalStandardScaler:
    """A scaler for ``feature_scaling`` fitted on X, refused (``ValueError``) when X's values are
    too large for their variance to be computed in float64 (around 1e154 and above), instead of
    a scale of inf or nan that would turn every prediction into nan."""
    try:
        with np.errstate(over="raise", invalid="raise"):
            return make_scaler(feature_scaling).fit(X)
    except FloatingPointError:
        raise ValueError(
            f"X holds values too large to standardise (largest |value| {np.abs(X).max():.3g}): their variance "
            "overflows float64. Rescale X (divide it by a constant) before fitting."
        ) from None


def standardize(scaler: StandardScaler | GlobalStandardScaler, X: np.ndarray) -> np.ndarray:
    """``scaler.transform(X)``, refused (``ValueError`` naming the first such value) where a
    standardised value is beyond float32's range (about 3.4e38), the denoiser's precision: such
    a point would get infinite errors under every class, and no class. [n, d]"""
    with np.errstate(over="ignore"):
        scaled = scaler.transform(X)
    too_large = ~(np.abs(scaled) <= FLOAT32_MAX)  # inf and nan too
    if too_large.any():
        i, j = np.argwhere(too_large)[0]
        raise ValueError(
            f"X[{i}, {j}] = {X[i, j]:.3g} is {scaled[i, j]:.3g} standard deviations from the training data's mean, "
            f"beyond float32's range ({FLOAT32_MAX:.3g}), the denoiser's precision: no class can be scored for it."
        )
    return scaled


def make_scaler(feature_scaling: str) -> StandardScaler | GlobalStandardScaler:
    """An unfitted scaler for a ``feature_scaling`` name: ``"per_feature"`` or ``"global"``."""
    if feature_scaling not in SCALERS:
        raise ValueError(f"feature_scaling must be one of {', '.join(map(repr, SCALINGS))}; got {feature_scaling!r}.")
    return SCALERS[feature_scaling]()
