"""Denoisers: every model the estimator can drive, behind one small protocol."""

from toyclf.denoisers.base import Denoiser
from toyclf.denoisers.mlp import MLPDenoiser
from toyclf.denoisers.oracle import GaussianMixtureOracle

__all__ = ["Denoiser", "GaussianMixtureOracle", "MLPDenoiser"]
