"""Denoisers: every model the estimator can drive, behind one small protocol."""

from toyclf.denoisers.base import Denoiser
from toyclf.denoisers.mlp import MLPDenoiser
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.denoisers.pretrained import DEFAULT_MODEL, denoiser_from_pipeline, load_denoiser

__all__ = [
    "DEFAULT_MODEL",
    "Denoiser",
    "GaussianMixtureOracle",
    "MLPDenoiser",
    "denoiser_from_pipeline",
    "load_denoiser",
]
