"""The model's exact log-likelihood log p(x | c), by the probability-flow ODE: what the ELBO stands in for.

The classifier (Li et al. 2023) ranks classes by the denoising error, a Monte Carlo estimate of
the negative ELBO (the paper's eq. 3 and 5). For a low-dimensional model the quantity it bounds
can be computed instead. Write the path as x_t = alpha_t x_bar with sigma = sigma_t / alpha_t
(sqrt((1 - abar_t) / abar_t) on DDPM's path): x_bar = x_0 + sigma eps on every path, and the
probability-flow ODE of Song et al. (2021, eq. 13; in this form Karras et al. 2022, eq. 1, with
the score -eps / sigma) is

    d x_bar / d sigma = eps_theta(alpha x_bar, t(sigma), c) =: eps_bar(x_bar, sigma),

a deterministic map from the data at sigma_min to a Gaussian at sigma_max that carries the model's
marginals. The density follows by the instantaneous change of variables (Chen et al. 2018,
Theorem 1; Song et al. 2021, eq. 39 of appendix D.2):

    d log p_sigma(x_bar(sigma)) / d sigma = -div eps_bar(x_bar(sigma), sigma),
    log p_{sigma_min}(x | c) = log N(x_bar(sigma_max); 0, (v + sigma_max^2) I) + int div eps_bar d sigma,

v the variance of the data per feature (1 for standardised data, what ``DiffusionClassifier``'s
denoiser sees). The divergence is the trace of a D x D Jacobian, computed exactly, with D backward
passes of autograd (no Hutchinson estimator): meant for small D, such as the toy's 2. The ODE is
solved in s = log sigma and y = x_bar / sqrt(v + sigma^2) (on DDPM's path with v = 1, y is x_t
itself), where it is still for Gaussian data: its right-hand side is then small at the noisy end,
however long that end is in s (:class:`_Flow`).

What is computed, exactly:

- **where it starts**: at the timestep ``t_min`` (default 0, the least noise the model was trained
  at). The value is the log-density of x_0 + sigma_min eps at x, the data seen through Gaussian
  noise of standard deviation sigma_min = :func:`noise_to_signal` at t_min (0.0016 on the
  classifier's shifted cosine schedule, 0.01 on DDPM's linear one), in the denoiser's units.
- **where it ends**: at ``t_max`` (default T - 1), with the Gaussian above; sigma_max is 157 on
  the linear schedule, 5073 on the shifted cosine one. For a class whose covariance Sigma_c is not
  v I that Gaussian is off by the order of |Sigma_c - v I| / (2 sigma_max^2) nats: nothing at 5073,
  0.023 on average at the classifier's sigma = 10 for the suite's standardised 3-class Gaussian
  mixture. An earlier end leaves out what the model does above it, which for a trained model is
  much (``benchmarks/README.md``, "The ELBO against the exact likelihood").
- **between the timesteps**: the model exists only at t = 0 .. T-1. ``method="rk45"`` (default)
  interpolates: between two neighbouring timesteps the model's prediction relative to the
  Gaussian's (u / g in :class:`_Flow`, at the same y) is the straight line in s between its values
  at the two, so that Gaussian data are followed exactly; a right-hand side then costs two
  network evaluations. ``scipy.integrate.solve_ivp`` (RK45, Dormand-Prince) solves every row in one
  ODE (the divergence of rows that do not interact is the sum of their own) to ``rtol`` = ``atol`` =
  1e-5 by default, on scipy's RMS norm over all rows: a row's value moves with the rows beside it,
  within that tolerance. ``method="heun"``: Heun's method (the trapezoid rule) with its nodes on
  ``n_steps`` + 1 of the model's own timesteps, no interpolation; on the shifted cosine schedule its
  last steps are long (the final one spans sigma = 160 to 5073), and on a trained model it does not
  converge there even with every timestep.

The ODE's density is that of the deterministic flow; the ELBO bounds the density of the stochastic
sampler. The two agree for the exact denoiser (``tests/core/test_likelihood.py``: the
Gaussian-mixture oracle's closed form, to 0.002 nats, 0.007 for classes of anisotropic spread),
not for a trained one. :func:`elbo_from_errors` turns the estimator's ELBO-weighted errors into the
ELBO itself, constant included, to compare the two (``benchmarks/likelihood_benchmark.py``,
notebook 02).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import Tensor

from toyclf.denoisers.base import Denoiser
from toyclf.plan import TrialPlan
from toyclf.scaling import standardize
from toyclf.schedule import NoiseSchedule
from toyclf.utils.validation import is_int, is_positive
from toyclf.weighting import timestep_weights, trial_weights

METHODS = ("rk45", "heun")  # scipy's adaptive RK45 (the default); Heun's method on the model's own timesteps
RTOL, ATOL = 1e-5, 1e-5  # the default tolerances of RK45 (relative, absolute)
MIN_RTOL = 1e-12  # float64 cannot honour less (scipy itself raises an rtol under 100 machine epsilons)


def noise_to_signal(schedule: NoiseSchedule, t: int) -> float:
    """sigma = sigma_t / alpha_t at timestep ``t``, in the denoiser's units: at ``t_min``, the noise
    through which :func:`exact_log_likelihood` sees the data; at ``t_max``, where its Gaussian is."""
    return float(schedule.noise_to_signal[t])


def timestep_range(schedule: NoiseSchedule, noise_range: tuple[float, float]) -> tuple[int, int]:
    """(t_min, t_max): the first and the last timestep whose sigma_t / alpha_t lies in ``noise_range``
    = (low, high), the range ``DiffusionClassifier``'s ``noise_range`` counts; ``ValueError`` unless
    it holds two timesteps."""
    kept = timestep_weights(schedule, "uniform", noise_range=noise_range).nonzero().flatten()  # [T'] in order
    if len(kept) < 2:
        raise ValueError(f"noise_range={noise_range!r} holds fewer than two timesteps of the schedule.")
    return int(kept[0]), int(kept[-1])


def _check_options(
    denoiser: Denoiser,
    t_min: Any,
    t_max: Any,
    method: Any,
    n_steps: Any,
    rtol: Any,
    atol: Any,
    data_variance: Any,
) -> dict[str, Any]:
    """The solver's settings, checked (``ValueError`` naming the bad one), as plain Python numbers."""
    if not hasattr(denoiser, "schedule"):
        raise TypeError(
            f"denoiser must be a toyclf denoiser (a fitted classifier's clf.denoiser_); got {type(denoiser).__name__}"
            ". For a DiffusionClassifier, use classifier_log_likelihoods(clf, X)."
        )
    T = denoiser.schedule.num_timesteps
    if not is_int(t_min, 0) or t_min > T - 2:
        raise ValueError(f"t_min must be an int timestep in [0, {T - 2}] (the ODE needs two timesteps); got {t_min!r}.")
    t_max = T - 1 if t_max is None else t_max
    if not is_int(t_max, 0) or not t_min < t_max <= T - 1:
        raise ValueError(f"t_max must be None (T - 1) or an int timestep in [{t_min + 1}, {T - 1}]; got {t_max!r}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")
    steps = int(t_max) - int(t_min)
    if n_steps is not None and method == "rk45":
        raise ValueError(f"n_steps is for method='heun' (RK45 chooses its own steps); got n_steps={n_steps!r}.")
    if n_steps is not None and not (is_int(n_steps) and n_steps <= steps):
        raise ValueError(
            f"n_steps must be None (every timestep) or an int in [1, {steps}] (t_max - t_min); got {n_steps!r}."
        )
    if not (is_positive(rtol) and MIN_RTOL <= rtol < 1):
        raise ValueError(f"rtol must be a number in [{MIN_RTOL:g}, 1); got {rtol!r}.")
    if not is_positive(atol):
        raise ValueError(f"atol must be a positive finite number; got {atol!r}.")
    if not is_positive(data_variance):
        raise ValueError(f"data_variance must be a positive finite number; got {data_variance!r}.")
    if len(tuple(denoiser.latent_shape)) != 1:
        raise ValueError(
            f"the exact likelihood needs a denoiser of flat points, latent_shape (D,); got {tuple(denoiser.latent_shape)}."
        )
    n_steps = None if n_steps is None else int(n_steps)
    numbers = {"t_min": int(t_min), "t_max": int(t_max), "n_steps": n_steps, "rtol": float(rtol), "atol": float(atol)}
    return {**numbers, "method": method, "data_variance": float(data_variance)}


def _check_points(denoiser: Denoiser, x: Any) -> Tensor:
    """``x`` as a float64 tensor [N, D], refused unless it is N >= 1 finite points of the denoiser's D."""
    D = denoiser.latent_shape[0]
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(
                f"x must be an array of numbers of shape (n_points, {D}); got {type(x).__name__}."
            ) from None
    if x.ndim != 2 or x.shape[1] != D or len(x) == 0:
        raise ValueError(f"x must have shape (n_points, {D}) with n_points >= 1; got {tuple(x.shape)}.")
    if not x.dtype.is_floating_point:
        x = x.double()
    x = x.detach().cpu().double()
    bad = ~torch.isfinite(x).all(1)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"x must be finite; row {i} is {x[i].tolist()}.")
    return x


def _check_labels(denoiser: Denoiser, labels: Any, n: int, name: str = "y") -> Tensor:
    """``labels`` as a long tensor [n] of class ids 0 .. K-1, refused otherwise (naming the first unknown one)."""
    K = denoiser.n_classes
    array = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if array.shape != (n,):
        raise ValueError(f"{name} must hold one class id per point, shape ({n},); got shape {array.shape}.")
    if array.dtype.kind not in "iu":  # floats like 0.5, bools and strings are not class ids
        raise ValueError(f"{name} must be integer class ids in [0, {K}); got dtype {array.dtype}.")
    unknown = array[(array < 0) | (array >= K)]
    if len(unknown):
        raise ValueError(f"{name} holds unknown class {unknown[0].item()!r}; expected class ids in [0, {K}).")
    return torch.as_tensor(array, dtype=torch.long)


def _model_dtype(denoiser: Denoiser) -> torch.dtype:
    """The dtype the denoiser computes in: its first floating parameter's (the MLP: float32), else float64."""
    if isinstance(denoiser, torch.nn.Module):
        for parameter in denoiser.parameters():
            if parameter.dtype.is_floating_point:
                return parameter.dtype
    return torch.float64


class _Flow:
    """The probability-flow ODE of one denoiser in y = x_bar / sqrt(v + sigma^2), s = log sigma.

    dy/ds = u(y, s) - g(s) y, with g = sigma^2 / (v + sigma^2) and u = sigma eps_bar / sqrt(v + sigma^2),
    the model's eps_theta at timestep t_j taken at x_t = alpha_j x_bar; for Gaussian data of variance
    v, u = g y and y stays put (so does x_t on DDPM's path, where y = x_t for v = 1). Between two
    timesteps, u / g is the straight line in s between its values at the two, at the same y: exact
    for Gaussian data. The divergence of dy/ds is tr(du/dy) - D g, its trace exact by autograd."""

    def __init__(self, denoiser: Denoiser, labels: Tensor, t_min: int, t_max: int, data_variance: float) -> None:
        schedule, v, span = denoiser.schedule, data_variance, slice(t_min, t_max + 1)
        self.denoiser, self.labels, self.v = denoiser, labels.to(denoiser.device), v
        self.dtype = _model_dtype(denoiser)
        self.timesteps = list(range(t_min, t_max + 1))  # [T'] the model's own
        self.log_sigma = (-schedule.log_snr[span] / 2).numpy()  # [T'] increasing
        sigma = np.exp(self.log_sigma)
        self.x_scale = (schedule.signal_scale[span].numpy() * np.sqrt(v + sigma**2)).tolist()  # x_t = this * y
        self.out_scale = (np.sqrt(v + sigma**2) / sigma).tolist()  # u / g = this * eps_theta at a timestep
        self.evaluations = 0  # network calls per row so far

    def gaussian(self, s: float) -> float:
        """g(s) = sigma^2 / (v + sigma^2), sigma = e^s."""
        return 1 / (1 + self.v * math.exp(-2 * s))

    def __call__(self, y: Tensor, s: float, at: int | None = None) -> tuple[Tensor, Tensor]:
        """dy/ds and its divergence, [M, D] float64 -> ([M, D], [M]) float64, at s (between the two
        timesteps around it), or exactly at the ``at``-th timestep (one network call instead of two)."""
        if at is None:
            i = int(np.clip(np.searchsorted(self.log_sigma, s, side="right") - 1, 0, len(self.log_sigma) - 2))
            w = float(np.clip((s - self.log_sigma[i]) / (self.log_sigma[i + 1] - self.log_sigma[i]), 0.0, 1.0))
            nodes = [(j, weight) for j, weight in ((i, 1 - w), (i + 1, w)) if weight > 0]
        else:
            nodes, s = [(at, 1.0)], float(self.log_sigma[at])
        g, device = self.gaussian(s), self.denoiser.device
        with torch.enable_grad():
            x = y.to(device=device, dtype=self.dtype).detach().requires_grad_(True)  # [M, D], a new leaf
            u = torch.zeros_like(x)  # [M, D]
            for j, weight in nodes:
                t = torch.full((len(x),), self.timesteps[j], dtype=torch.long, device=device)  # [M]
                u = u + g * weight * self.out_scale[j] * self.denoiser.predict_noise(
                    self.x_scale[j] * x, t, self.labels
                )
                self.evaluations += 1
            trace = torch.zeros(len(x), dtype=torch.float64, device=device)  # [M]
            for d in range(x.shape[1]):  # the exact trace of du/dy: one backward pass per dimension
                (row,) = torch.autograd.grad(u[:, d].sum(), x, retain_graph=d < x.shape[1] - 1, allow_unused=True)
                trace += 0 if row is None else row[:, d].double()
        u = u.detach().double().cpu()
        return u - g * y, trace.cpu() - x.shape[1] * g


def heun_nodes(n_intervals: int, n_steps: int | None) -> list[int]:
    """Where Heun's method evaluates the model, as indices 0 .. ``n_intervals`` of the timesteps t_min ..
    t_max: ``n_steps`` + 1 of them evenly spaced (rounded), or every one (None)."""
    count = n_intervals if n_steps is None else n_steps
    return sorted({round(k * n_intervals / count) for k in range(count + 1)})


def _solve(denoiser: Denoiser, x: Tensor, labels: Tensor, options: dict) -> tuple[Tensor, int]:
    """The ODE for every row at once: x [M, D] float64, labels [M] -> (log p [M] float64, network calls per row)."""
    with torch.inference_mode(False):  # autograd, also when called inside inference mode
        return _solve_for_grad(denoiser, x.clone(), labels.clone(), options)  # clones: tensors autograd may save


def _solve_for_grad(denoiser: Denoiser, x: Tensor, labels: Tensor, options: dict) -> tuple[Tensor, int]:
    flow = _Flow(denoiser, labels, options["t_min"], options["t_max"], options["data_variance"])
    M, D = x.shape
    scale = [1 / math.sqrt(flow.v + math.exp(2 * s)) for s in flow.log_sigma[[0, -1]]]  # y = scale * x_bar at both ends
    y, integral = scale[0] * x, torch.zeros(M, dtype=torch.float64)  # [M, D], [M]
    if options["method"] == "heun":  # the trapezoid rule on the model's own timesteps, no interpolation
        nodes = heun_nodes(options["t_max"] - options["t_min"], options["n_steps"])
        for here, there in itertools.pairwise(nodes):
            h = float(flow.log_sigma[there] - flow.log_sigma[here])
            drift, divergence = flow(y, 0.0, at=here)
            drift_there, divergence_there = flow(y + h * drift, 0.0, at=there)
            y = y + h / 2 * (drift + drift_there)
            integral += h / 2 * (divergence + divergence_there)
    else:

        def rhs(s: float, state: np.ndarray) -> np.ndarray:
            drift, divergence = flow(torch.from_numpy(state[: M * D].reshape(M, D)), s)
            return np.concatenate([drift.numpy().ravel(), divergence.numpy()])  # [M*D + M]

        start = np.concatenate([y.numpy().ravel(), np.zeros(M)])
        span = (flow.log_sigma[0], flow.log_sigma[-1])
        solution = solve_ivp(rhs, span, start, method="RK45", rtol=options["rtol"], atol=options["atol"])
        if not solution.success:
            raise RuntimeError(f"the probability-flow ODE did not solve: {solution.message}")
        end = torch.from_numpy(solution.y[:, -1])
        y, integral = end[: M * D].view(M, D), end[M * D :]
    # log p(x_bar at sigma_min) = log N(y_end; 0, I) + int div ds + D log(dy / dx_bar at sigma_min)
    log_likelihood = -0.5 * (y.square().sum(1) + D * math.log(2 * math.pi)) + integral + D * math.log(scale[0])
    if not torch.isfinite(log_likelihood).all():
        raise ValueError("the denoiser's predictions are not finite along the ODE: no likelihood can be computed.")
    return log_likelihood, flow.evaluations


def exact_log_likelihood(
    denoiser: Denoiser,
    x: Any,
    y: Any,
    *,
    t_min: int = 0,
    t_max: int | None = None,
    method: str = "rk45",
    n_steps: int | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    data_variance: float = 1.0,
    return_evaluations: bool = False,
) -> Tensor | tuple[Tensor, int]:
    """log p_{sigma_min}(x_i | y_i) of the model, by the probability-flow ODE (module docstring).

    ``x`` [N, D] points in the denoiser's units (for ``DiffusionClassifier``: standardised, see
    :func:`classifier_log_likelihoods`), ``y`` [N] class ids. Returns [N] float64: the log-density of
    x_0 + sigma_min eps at x_i, sigma_min = :func:`noise_to_signal` at ``t_min``; the ODE runs from
    ``t_min`` to ``t_max`` (default T - 1; :func:`timestep_range` turns a noise range into both), where
    the data are taken for N(0, (``data_variance`` + sigma_max^2) I). ``method="rk45"`` (default):
    scipy's adaptive RK45 to ``rtol`` and ``atol``, the model interpolated between its timesteps;
    ``"heun"``: Heun's method on ``n_steps`` steps between the model's own timesteps (None: every
    one, t_max - t_min steps). With ``return_evaluations=True`` also the network evaluations each row
    cost (each with D backward passes). Bad input is refused with a ``ValueError`` naming it.
    """
    options = _check_options(denoiser, t_min, t_max, method, n_steps, rtol, atol, data_variance)
    x = _check_points(denoiser, x)
    labels = _check_labels(denoiser, y, len(x))
    log_likelihood, evaluations = _solve(denoiser, x, labels, options)
    return (log_likelihood, evaluations) if return_evaluations else log_likelihood


def exact_class_log_likelihoods(
    denoiser: Denoiser,
    x: Any,
    *,
    classes: Any = None,
    t_min: int = 0,
    t_max: int | None = None,
    method: str = "rk45",
    n_steps: int | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    data_variance: float = 1.0,
    return_evaluations: bool = False,
) -> Tensor | tuple[Tensor, int]:
    """log p_{sigma_min}(x_i | c) for every point and every class of ``classes`` (default: all), in one
    ODE: [N, D] -> [N, K] float64 (and, with ``return_evaluations``, the network evaluations per
    (point, class) pair). Bayes' rule on these is the exact-likelihood classifier:
    :func:`exact_log_posterior`. Otherwise as :func:`exact_log_likelihood`."""
    options = _check_options(denoiser, t_min, t_max, method, n_steps, rtol, atol, data_variance)
    x = _check_points(denoiser, x)
    classes = torch.arange(denoiser.n_classes) if classes is None else classes
    classes = _check_labels(denoiser, classes, len(classes) if hasattr(classes, "__len__") else -1, name="classes")
    if len(classes) == 0:
        raise ValueError("classes must name at least one class id.")
    N, K = len(x), len(classes)
    rows = x.repeat_interleave(K, dim=0)  # [N*K, D]: point i under class k is row i*K + k
    log_likelihood, evaluations = _solve(denoiser, rows, classes.repeat(N), options)  # [N*K]
    log_likelihood = log_likelihood.view(N, K)
    return (log_likelihood, evaluations) if return_evaluations else log_likelihood


def exact_log_posterior(log_likelihoods: Any, log_prior: Any = None) -> Tensor:
    """Bayes' rule on exact likelihoods: log p(c | x) = log_softmax_c(log p(x | c) + log p(c)) (the
    paper's eq. 1, with no ELBO in place of the likelihood and no temperature). [N, K] -> [N, K]
    float64; ``log_prior`` [K] (default: equal priors; -inf for a class of prior 0)."""
    logits = torch.as_tensor(log_likelihoods, dtype=torch.float64)
    if logits.ndim != 2 or not torch.isfinite(logits).all():
        raise ValueError(
            f"log_likelihoods must be a finite (n_points, n_classes) array; got shape {tuple(logits.shape)}."
        )
    if log_prior is not None:
        prior = torch.as_tensor(log_prior, dtype=torch.float64)
        if prior.shape != (logits.shape[1],) or torch.isnan(prior).any() or not (prior < math.inf).all():
            raise ValueError(
                f"log_prior must be {logits.shape[1]} log-probabilities (-inf allowed); got {prior.tolist()}."
            )
        logits = logits + prior
    return torch.log_softmax(logits, dim=1)


def classifier_log_likelihoods(
    clf: Any, X: Any, *, return_evaluations: bool = False, **options: Any
) -> np.ndarray | tuple[np.ndarray, int]:
    """log p(x | c) of a fitted ``DiffusionClassifier`` in the units of X, for every class in
    ``clf.classes_`` order: (n_samples, n_classes) float64 (and, with ``return_evaluations``, the
    network evaluations per (sample, class) pair).

    The denoiser models the standardised z = (x - mean) / scale (``clf.scaler_``), so
    log p_X(x | c) = log p_Z(z | c) - sum_j log scale_j (the change of variables; a constant, which
    cancels between classes). Its data have variance 1 per feature (the Gaussian at sigma_max), and
    its sigma_min is in standardised units: in the units of feature j, sigma_min * scale_j.
    ``options`` go to :func:`exact_class_log_likelihoods` (``t_min``, ``t_max``, ``rtol``, ...)."""
    check_is_fitted(clf)
    X = validate_data(clf, X, dtype=np.float64, reset=False)  # [n, D]: the features it was fitted on, finite
    z = standardize(clf.scaler_, X)  # [n, D]
    log_likelihood, evaluations = exact_class_log_likelihoods(clf.denoiser_, z, return_evaluations=True, **options)
    log_likelihood = log_likelihood.numpy() - np.log(clf.scaler_.scale_).sum()  # [n, K] in the units of X
    return (log_likelihood, evaluations) if return_evaluations else log_likelihood


def elbo_from_errors(
    errors: Any,
    schedule: NoiseSchedule,
    n_features: int,
    *,
    noise_range: tuple[float, float] | None = None,
    plan: TrialPlan | None = None,
    trials: Any = None,
) -> Tensor:
    """The ELBO on log p(x | c) from the estimator's errors with ``weighting="elbo"`` (the paper's eq. 3
    and 5), the constant included: [N, K] -> [N, K] float64.

    With lambda = log SNR, the continuous-time bound of Kingma et al. (2021), written pointwise
    (the I-MMSE form of Kong et al. 2023; an equality for the exact denoiser), is

        log p(x | c) >= -D/2 log(2 pi e) + 1/2 int [D sigmoid(lambda) - E||eps - eps_theta||^2] d lambda,

    and err = mean_n w(t_n) ||eps_n - eps_theta||^2 estimates the second half of the integral, with
    w_t = -T/2 d lambda/dt (:meth:`NoiseSchedule.elbo_weights`). So ELBO = -err + C - D/2 log(2 pi e),
    C the first half: without ``plan``, its exact value mean_t w_t D sigmoid(lambda_t); with the
    ``plan`` the errors were estimated on, its estimate on the same trials, mean_n w_n ||eps_n||^2
    sigmoid(lambda_n) (``trials`` [N, K], the trials each pair received: the longest of each row; default
    every trial of the plan). The second has the same expectation and cancels the Monte Carlo noise of
    the ||eps_n||^2 in the errors, which the huge low-noise weights blow up (on the Gaussian-mixture
    oracle, 1000 trials: the ELBO 1.4 nats above log p(x | c) with the exact C, within 0.01 with the
    estimated one; the noise is common to all classes, so it never changes a decision). Pass the
    errors' ``noise_range``: C then counts the same timesteps, and the two ends outside the range
    (which differ between classes) are missing from the ELBO. Errors of other weightings are not on
    this scale.
    """
    errors = torch.as_tensor(errors, dtype=torch.float64)
    if errors.ndim != 2:
        raise ValueError(f"errors must have shape (n_points, n_classes); got {tuple(errors.shape)}.")
    if not is_int(n_features):
        raise ValueError(f"n_features must be a positive int; got {n_features!r}.")
    if plan is None:
        weights = timestep_weights(schedule, "elbo", noise_range=noise_range)  # [T]
        constant = (weights * n_features * torch.sigmoid(schedule.log_snr)).mean()  # mean_t w_t D sigmoid(lambda_t)
    else:
        weights = trial_weights(schedule, plan, "elbo", noise_range=noise_range)  # [N']
        norms = plan.noise.double().flatten(1).square().sum(1)  # [N'] ||eps_n||^2
        terms = (weights * norms * torch.sigmoid(schedule.log_snr[plan.timesteps])).cumsum(0)  # [N']
        n = torch.full((len(errors),), len(plan)) if trials is None else torch.as_tensor(trials).max(1).values
        if n.shape != (len(errors),) or n.min() < 1 or n.max() > len(plan):
            raise ValueError(f"trials must be (n_points, n_classes) counts in [1, {len(plan)}], one row per point.")
        constant = (terms[n - 1] / n)[:, None]  # [N, 1], the mean over each row's trials
    return -errors + constant - n_features / 2 * math.log(2 * math.pi * math.e)
