"""What a network predicts, and the noise eps it implies: one error scale for every model.

On a path x_t = alpha x_0 + sigma eps (:mod:`toyclf.schedule`) a denoiser may be trained to
predict one of three things, each a linear function of (x_t, eps) given the path:

- ``"epsilon"``: the noise eps itself (DDPM, Stable Diffusion 1 and 2 base);
- ``"v_prediction"``: v = alpha eps - sigma x_0 (Salimans & Ho 2022; Stable Diffusion 2 at 768 px).
  Then sigma x_t + alpha v = (alpha^2 + sigma^2) eps, so eps = (sigma x_t + alpha v) / (alpha^2 + sigma^2);
- ``"velocity"``: the flow-matching velocity v = eps - x_0, the derivative of x_t along the
  straight path of rectified flow (Stable Diffusion 3, FLUX). Then x_t + alpha v = (alpha + sigma)
  eps, so eps = (x_t + alpha v) / (alpha + sigma).

The estimator always scores the implied noise, ||eps - eps_hat||^2 (the ELBO's scale). An error
in the velocity maps to it linearly: eps_hat - eps = alpha / (alpha + sigma) (v_hat - v), which on
rectified flow (alpha + sigma = 1) is (1 - sigma) (v_hat - v). So a plain velocity MSE is the
epsilon error with weight ((alpha + sigma) / alpha)^2 = 1 / (1 - sigma)^2: it weights noisy
timesteps up, without bound as sigma -> 1 (see ``"velocity"`` in :mod:`toyclf.weighting`).
"""

from __future__ import annotations

from torch import Tensor

PREDICTION_TYPES = ("epsilon", "v_prediction", "velocity")


def check_prediction_type(prediction_type: str) -> str:
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(
            f"prediction_type must be one of {', '.join(map(repr, PREDICTION_TYPES))}; got {prediction_type!r}."
        )
    return prediction_type


def _broadcast(scale: Tensor, like: Tensor) -> Tensor:
    """alpha_t or sigma_t per row, [M], shaped [M, 1, ...] to multiply rows of ``like`` [M, *S]."""
    return scale.to(like.device, like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def prediction_target(
    x0: Tensor, noise: Tensor, signal_scale: Tensor, noise_scale: Tensor, prediction_type: str
) -> Tensor:
    """What a network of ``prediction_type`` is trained to output for x_t = alpha x0 + sigma noise
    (alpha = ``signal_scale``, sigma = ``noise_scale``, [M] each): eps, alpha eps - sigma x0, or
    eps - x0. ``x0``, ``noise`` [M, *S]."""
    if check_prediction_type(prediction_type) == "epsilon":
        return noise
    if prediction_type == "velocity":
        return noise - x0
    return _broadcast(signal_scale, x0) * noise - _broadcast(noise_scale, x0) * x0


def epsilon_from_prediction(
    output: Tensor, x_t: Tensor, signal_scale: Tensor, noise_scale: Tensor, prediction_type: str
) -> Tensor:
    """The noise eps_hat implied by a network's ``output`` at x_t (the formulas of the module
    docstring, alpha = ``signal_scale``, sigma = ``noise_scale``). ``output``, ``x_t`` [M, *S];
    the scales [M] -> [M, *S], in output's dtype."""
    if check_prediction_type(prediction_type) == "epsilon":
        return output
    a, s = _broadcast(signal_scale, output), _broadcast(noise_scale, output)
    x_t = x_t.to(output.dtype)
    if prediction_type == "velocity":
        return (x_t + a * output) / (a + s)
    return (s * x_t + a * output) / (a.square() + s.square())
