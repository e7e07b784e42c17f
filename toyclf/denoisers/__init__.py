"""Denoisers of the toy: the protocol every model the estimator drives satisfies
(:mod:`~toyclf.denoisers.base`), the small conditional MLP trained from scratch
(:mod:`~toyclf.denoisers.mlp`) and the exact denoiser of a Gaussian mixture
(:mod:`~toyclf.denoisers.oracle`). The pretrained ones (Stable Diffusion, DiT) are in
:mod:`toyclf.pretrained`."""

from toyclf.denoisers.base import Denoiser
from toyclf.denoisers.mlp import MLPDenoiser
from toyclf.denoisers.oracle import GaussianMixtureOracle

__all__ = ["Denoiser", "GaussianMixtureOracle", "MLPDenoiser"]
