"""The exact denoiser for Gaussian-mixture data: a ground truth to check the estimator against.

If every class is a mixture of Gaussians, p(x | c) = sum_j pi_cj N(x; mu_cj, Sigma_cj), then so
is every noisy marginal: x_t = alpha_t x + sigma_t eps (alpha = sqrt(abar), sigma = sqrt(1 - abar)
on DDPM's path, alpha = 1 - sigma on rectified flow's) gives

    p_t(x_t | c) = sum_j pi_cj N(x_t; alpha_t mu_cj, alpha_t^2 Sigma_cj + sigma_t^2 I),

and the best possible noise prediction (the one training converges to) is Tweedie's formula,

    eps*(x_t, t, c) = E[eps | x_t, c] = -sigma_t grad log p_t(x_t | c)
                    = sigma_t sum_j r_j(x_t) S_j^-1 (x_t - alpha_t mu_cj),

with S_j = alpha_t^2 Sigma_cj + sigma_t^2 I and r_j the responsibilities of the components. The
best velocity v = eps - x (flow matching) has a closed form of its own, from the posterior mean
of the clean point, E[x | x_t, j] = mu_cj + alpha_t Sigma_cj S_j^-1 (x_t - alpha_t mu_cj) (the
Gaussian conditional): v* = (x_t - alpha_t E[x | x_t]) / sigma_t - E[x | x_t].
The oracle implements the :class:`~toyclf.denoisers.Denoiser` protocol with eps*, and also
gives what no trained model can: the exact log p(x | c) and the exact Bayes posterior p(c | x).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from toyclf.schedule import NoiseSchedule


class GaussianMixtureOracle:
    """Closed-form eps*(x_t, t, c) and log p(x | c) for data that is a Gaussian mixture per class.

    Parameters
    ----------
    means : array-like of shape (n_classes, n_components, n_features)
        mu_cj, the mean of component j of class c.
    covariances : array-like of shape (n_classes, n_components, n_features, n_features)
        Sigma_cj, symmetric positive definite.
    weights : array-like of shape (n_classes, n_components), default=None
        pi_cj, each row summing to 1 (default: equal weights).
    schedule : NoiseSchedule, default=None
        The forward process (default: linear, T = 1000, the DDPM schedule).
    """

    def __init__(self, means, covariances, weights=None, schedule: NoiseSchedule | None = None) -> None:
        means = torch.as_tensor(np.asarray(means, dtype=np.float64))
        covariances = torch.as_tensor(np.asarray(covariances, dtype=np.float64))
        if means.ndim != 3:
            raise ValueError(f"means must have shape (n_classes, n_components, n_features); got {tuple(means.shape)}.")
        K, J, D = means.shape
        if covariances.shape != (K, J, D, D):
            raise ValueError(f"covariances must have shape {(K, J, D, D)}; got {tuple(covariances.shape)}.")
        if weights is None:
            weights = torch.full((K, J), 1.0 / J, dtype=torch.float64)
        weights = torch.as_tensor(np.asarray(weights, dtype=np.float64))
        if (
            weights.shape != (K, J)
            or torch.any(weights < 0)
            or not torch.allclose(weights.sum(1), torch.ones(K, dtype=torch.float64))
        ):
            raise ValueError(f"weights must have shape {(K, J)}, be non-negative and sum to 1 in every row.")
        if not torch.allclose(covariances, covariances.transpose(-1, -2)):
            raise ValueError("covariances must be symmetric.")
        variances, axes = torch.linalg.eigh(covariances)  # [K, J, D], [K, J, D, D]: Sigma = U diag(s) U^T
        if torch.any(variances <= 0):
            raise ValueError("covariances must be positive definite.")
        self.means, self.covariances, self.weights = means, covariances, weights
        self._variances, self._axes = variances, axes
        self.schedule = schedule if schedule is not None else NoiseSchedule.linear()
        self.n_classes = K
        self.latent_shape = (D,)

    @classmethod
    def ring(
        cls,
        n_classes: int = 2,
        n_components: int = 3,
        *,
        radius: float = 2.0,
        std: float = 0.6,
        schedule: NoiseSchedule | None = None,
    ) -> GaussianMixtureOracle:
        """n_classes * n_components round Gaussians evenly spaced on a circle, the classes taking
        turns: neighbouring blobs belong to different classes and overlap, so the Bayes posterior
        goes smoothly from certain to uncertain. The 2D example of the tests and notebook 02."""
        angles = 2 * math.pi * torch.arange(n_classes * n_components, dtype=torch.float64) / (n_classes * n_components)
        centres = radius * torch.stack([angles.cos(), angles.sin()], dim=1)  # [K*J, 2], blob m in class m % K
        means = centres.view(n_components, n_classes, 2).transpose(0, 1)  # [K, J, 2]
        covariances = std**2 * torch.eye(2, dtype=torch.float64).expand(n_classes, n_components, 2, 2)
        return cls(means, covariances, schedule=schedule)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def encode(self, x: Tensor) -> Tensor:
        """The oracle works on the points themselves: identity."""
        return torch.as_tensor(x)

    def _components(self, x: Tensor, labels: Tensor, alpha: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        """log pi_j N(x; alpha mu_j, alpha^2 Sigma_j + sigma^2 I) for the components of each row's
        class, [M, J], and S_j^-1 (x - alpha mu_j), [M, J, D]. Float64. ``x`` [M, D], ``labels``
        [M], ``alpha`` and ``sigma`` [M] (1 and 0 for the clean data)."""
        axes = self._axes[labels]  # [M, J, D, D]
        offset = x[:, None, :] - alpha[:, None, None] * self.means[labels]  # [M, J, D]
        z = torch.einsum("mjde,mjd->mje", axes, offset)  # offset in each component's eigenbasis
        variances = alpha.square()[:, None, None] * self._variances[labels] + sigma.square()[:, None, None]  # [M, J, D]
        log_density = -0.5 * (z.square() / variances + torch.log(2 * math.pi * variances)).sum(-1)  # [M, J]
        solved = torch.einsum("mjde,mje->mjd", axes, z / variances)  # S^-1 offset, [M, J, D]
        return self.weights[labels].log() + log_density, solved

    def _posterior(self, x_t: Tensor, t: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """alpha_t, sigma_t [M], the responsibilities r_j [M, J] and S_j^-1 (x_t - alpha_t mu_cj) [M, J, D]."""
        alpha, sigma = self.schedule.scales(t.cpu())  # [M] float64 each
        log_components, solved = self._components(x_t.double().cpu(), labels.cpu(), alpha, sigma)
        return alpha, sigma, torch.softmax(log_components, dim=1), solved

    def predict_noise(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """eps*(x_t, t, c) = sigma_t sum_j r_j S_j^-1 (x_t - alpha_t mu_cj) (Tweedie): [M, D], [M], [M] -> [M, D]."""
        _, sigma, responsibilities, solved = self._posterior(x_t, t, labels)
        eps = sigma[:, None] * (responsibilities[..., None] * solved).sum(1)  # [M, D]
        return eps.to(x_t.dtype)

    def predict_velocity(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """v*(x_t, t, c) = E[eps - x | x_t, c] from the posterior mean of the clean point (module
        docstring), not from Tweedie's formula: [M, D], [M], [M] -> [M, D]."""
        alpha, sigma, responsibilities, solved = self._posterior(x_t, t, labels)
        covariances = self.covariances[labels.cpu()]  # [M, J, D, D]
        x0_j = self.means[labels.cpu()] + alpha[:, None, None] * torch.einsum("mjde,mje->mjd", covariances, solved)
        x0 = (responsibilities[..., None] * x0_j).sum(1)  # E[x | x_t, c], [M, D]
        eps = (x_t.double().cpu() - alpha[:, None] * x0) / sigma[:, None]  # x_t = alpha x + sigma eps
        return (eps - x0).to(x_t.dtype)

    def log_likelihood(self, x) -> Tensor:
        """The exact log p(x | c) for every point and class: (n, D) -> [n, K] float64."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        columns = []
        for c in range(self.n_classes):
            labels = torch.full((len(x),), c, dtype=torch.long)
            clean = torch.ones(len(x), dtype=torch.float64), torch.zeros(len(x), dtype=torch.float64)  # alpha, sigma
            log_components, _ = self._components(x, labels, *clean)
            columns.append(torch.logsumexp(log_components, dim=1))
        return torch.stack(columns, dim=1)

    def log_posterior(self, x, log_prior=None) -> Tensor:
        """The exact Bayes posterior log p(c | x) = log_softmax_c(log p(x | c) + log p(c)), [n, K]
        float64 (equal priors by default)."""
        logits = self.log_likelihood(x)
        if log_prior is not None:
            logits = logits + torch.as_tensor(log_prior, dtype=torch.float64)
        return torch.log_softmax(logits, dim=1)

    def sample(self, n_samples: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` points, classes equally likely: X (n, D) float64, y (n,) class ids."""
        generator = torch.Generator().manual_seed(int(seed))
        K, _, D = self.means.shape
        y = torch.randint(K, (n_samples,), generator=generator)
        j = torch.multinomial(self.weights[y], 1, generator=generator)[:, 0]
        z = torch.randn(n_samples, D, generator=generator, dtype=torch.float64)
        x = self.means[y, j] + torch.einsum("nde,ne->nd", self._axes[y, j], self._variances[y, j].sqrt() * z)
        return x.numpy(), y.numpy()

    def __repr__(self) -> str:
        K, J, D = self.means.shape
        return f"GaussianMixtureOracle(n_classes={K}, n_components={J}, n_features={D}, schedule={self.schedule})"
