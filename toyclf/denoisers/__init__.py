"""Denoisers: every model the estimator can drive, behind one small protocol."""

from toyclf.denoisers.base import Denoiser
from toyclf.denoisers.mlp import MLPDenoiser

__all__ = ["Denoiser", "MLPDenoiser"]
