"""Figures for the estimator's ablations (notebook 02, ``python -m toyclf.inside``).

The ablations of :mod:`toyclf.lecture.experiments` key their results by data
(:class:`~toyclf.lecture.experiments.per_trial.TrialScheme`,
:class:`~toyclf.lecture.experiments.loss_and_weighting.Scoring`,
:class:`~toyclf.lecture.experiments.exact_posterior.OracleEstimate`,
:class:`~toyclf.lecture.experiments.calibration_settings.CalibrationSetting`, pruning rules); the
``*_label`` functions here turn a key into the text of a legend, a bar or a printed line. Each
``plot_*`` function draws one result and returns the matplotlib figure; titles carry the number
behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from toyclf.calibration import reliability_curve
from toyclf.lecture.experiments.calibration_settings import CalibrationSetting
from toyclf.lecture.experiments.exact_posterior import OracleEstimate, posterior_gap
from toyclf.lecture.experiments.loss_and_weighting import Scoring
from toyclf.lecture.experiments.per_trial import TrialScheme
from toyclf.lecture.plots.keys import KEY_FONTSIZE, boundary_handle, class_legend, posterior_colorbar, posterior_image
from toyclf.lecture.plots.maps import draw_posterior, finish_map
from toyclf.pruning import EarlyStopping, FixedTrials, StagedElimination


def _noise_name(noise_sampling: str) -> str:
    return "Gaussian" if noise_sampling == "gaussian" else noise_sampling.capitalize()  # "sobol" -> "Sobol"


def scheme_label(scheme: TrialScheme) -> str:
    """ "random t", "evenly spaced t", "t = 500 only"; the noise when it is not the paper's
    Gaussian, and toyclf's default plan marked: "evenly spaced t, Sobol noise (toyclf)"."""
    if scheme.fixed_timestep is not None:
        label = f"t = {scheme.fixed_timestep} only"
    else:
        label = "random t" if scheme.timesteps == "random" else "evenly spaced t"
    if scheme.noise_sampling != "gaussian":
        label += f", {_noise_name(scheme.noise_sampling)} noise"
    if not scheme.shared_noise:
        label += ", independent noise per class"
    return label + " (toyclf)" if scheme == TrialScheme() else label


def noise_label(scheme: TrialScheme) -> str:
    """What the shared-noise ablation varies: "shared noise" or "independent noise"."""
    return "shared noise" if scheme.shared_noise else "independent noise"


def scoring_label(scoring: Scoring) -> str:
    """ "l2, uniform", "l1, elbo", ..."""
    return f"{scoring.loss}, {scoring.weighting}"


def estimate_label(estimate: OracleEstimate) -> str:
    """ "ELBO, 256 trials, Gaussian noise (paper's plan)", "ELBO, 256 trials, Sobol noise, t ~ sqrt(w)",
    "uniform, 256 trials, fitted temperature", ...: the ELBO estimates differ in their noise and
    say it; the uniform ones share one plan and say only whether the temperature was fitted. The
    paper's setting is its plan (evenly spaced t, Gaussian noise) with uniform weights
    (:data:`toyclf.paper.PAPER_ESTIMATOR`): an ELBO estimate with Gaussian noise has its plan only."""
    parts = ["ELBO" if estimate.weighting == "elbo" else estimate.weighting, f"{estimate.n_trials} trials"]
    if estimate.weighting == "elbo":
        paper = " (paper's plan)" if estimate.noise_sampling == "gaussian" else ""
        parts.append(f"{_noise_name(estimate.noise_sampling)} noise{paper}")
    if estimate.sqrt_density:
        parts.append("t ~ sqrt(w)")
    if estimate.fitted_temperature:
        parts.append("fitted temperature")
    return ", ".join(parts)


def calibration_label(setting: CalibrationSetting) -> str:
    """ "uniform, temperature 1", "elbo, fitted temperature", ..."""
    return f"{setting.weighting}, " + ("fitted temperature" if setting.fitted_temperature else "temperature 1")


def pruning_label(rule, n_trials: int) -> str:
    """A pruning rule (as :class:`DiffusionClassifier`'s ``pruning`` takes it) with a plan of
    ``n_trials``: "every class, all 256 trials", "staged (32, 256), keep (2, 1)", "early
    stopping, at most 256"; any other rule by its repr."""
    if rule is None or isinstance(rule, FixedTrials):
        return f"every class, all {n_trials} trials"
    if rule == "staged":
        rule = StagedElimination()
    if isinstance(rule, StagedElimination):
        return f"staged {rule.trials}, keep {rule.to_keep}"
    if rule in ("early_stopping", EarlyStopping()):
        return f"early stopping, at most {n_trials}"
    return repr(rule)


def _mean_and_error(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean over the first axis (seeds) and its standard error (None for one seed). [seeds, ...]"""
    values = np.atleast_2d(values)
    error = values.std(0, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else None
    return values.mean(0), error


def draw_single_timestep(ax, timesteps: Sequence[int], accuracy: np.ndarray) -> None:
    """Accuracy when every trial uses one timestep, against t ([seeds, len(timesteps)]: the mean
    over the noise seeds, with their standard error as bars); the best t marked."""
    mean, error = _mean_and_error(accuracy)
    ax.errorbar(timesteps, mean, yerr=error, marker="o", markersize=4, capsize=2, color="C0")
    best = int(np.argmax(mean))
    ax.axvline(timesteps[best], color="0.5", linestyle=":", linewidth=1)
    ax.set_title(f"One timestep only: best t = {timesteps[best]} ({mean[best]:.3f})")
    ax.set_xlabel("timestep t (0 = clean, T - 1 = pure noise)")
    ax.set_ylabel("test accuracy")


def draw_error_against_trials(
    ax,
    sizes: Sequence[int],
    curves: dict[TrialScheme, np.ndarray],
    title: str,
    label: Callable[[TrialScheme], str] = scheme_label,
) -> None:
    """Test error (1 - accuracy) against trials per class, log-log, one curve per scheme (accuracy
    [len(sizes)], or [seeds, len(sizes)]: the mean, with the standard error over the seeds as
    bars), named by ``label``; toyclf's default ``TrialScheme()`` in black."""
    for i, (scheme, curve) in enumerate(curves.items()):
        error, spread = _mean_and_error(1 - np.asarray(curve))
        colour = "k" if scheme == TrialScheme() else f"C{i}"
        ax.errorbar(sizes, error, yerr=spread, color=colour, marker="o", markersize=3, capsize=2, label=label(scheme))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("trials (t, eps) per class")
    ax.set_ylabel("test error (1 - accuracy)")
    ax.set_title(title)
    # below the axes, off the curves
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def draw_loss_weighting(ax, accuracy: dict[Scoring, np.ndarray]) -> None:
    """Test error (1 - accuracy) for each loss and weighting, as bars from zero, so that their
    lengths compare honestly (accuracy [seeds]: the mean, standard error as bars); the mean
    accuracy is written on each bar."""
    names = [scoring_label(scoring) for scoring in accuracy]
    stats = [_mean_and_error(1 - np.asarray(value, dtype=float).reshape(-1, 1)) for value in accuracy.values()]
    errors = [float(mean[0]) for mean, _ in stats]
    spread = None if stats[0][1] is None else [float(e[0]) for _, e in stats]
    bars = ax.bar(names, errors, yerr=spread, capsize=4, color=[f"C{i}" for i in range(len(names))])
    ax.bar_label(bars, labels=[f"accuracy\n{1 - e:.3f}" for e in errors], fontsize=9, padding=6)
    ax.set_ylim(0, 1.3 * max(errors))
    ax.set_title(
        "Loss and weighting"
        + ("" if spread is None else f" (bars: s.e. over {len(next(iter(accuracy.values())))} plans)")
    )
    ax.set_ylabel("test error (1 - accuracy)")


def plot_estimator_ablations(
    timesteps: Sequence[int],
    single_accuracy: np.ndarray,
    sizes: Sequence[int],
    trial_curves: dict[TrialScheme, np.ndarray],
    noise: dict,
    loss_weighting: dict[Scoring, np.ndarray],
):
    """Four panels: accuracy from one timestep against t; error against trials for the timestep
    schemes; shared against independent noise (``noise``, as
    :func:`~toyclf.lecture.experiments.noise_sharing.shared_against_independent_noise` returns
    it); l2 / l1 by uniform / ELBO weighting."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.6), layout="constrained")  # one slide; 864 px wide at 72 dpi
    axes = axes.ravel()
    draw_single_timestep(axes[0], timesteps, single_accuracy)
    draw_error_against_trials(axes[1], sizes, trial_curves, "Which timesteps")
    ratios = noise["variance_ratios"]
    spread = f" +- {ratios.std(ddof=1):.1f}" if len(ratios) > 1 else ""
    title = f"Shared noise: {ratios.mean():.1f}{spread}x less variance in err(c) - err(c')"
    draw_error_against_trials(axes[2], sizes, noise["curves"], title, label=noise_label)
    draw_loss_weighting(axes[3], loss_weighting)
    return fig


def plot_oracle(result: dict):
    """The exact Bayes posterior of the Gaussian mixture with the points coloured by the ELBO
    estimate on the same scale (left), then estimated against exact log p(x | 1) - log p(x | 0):
    the ELBO estimators (middle), uniform weighting before and after its temperature (right).
    12 x 6 inches, 864 px wide at the notebooks' 72 dpi: it shows at its own size."""
    exact, estimates = result["exact"], result["estimates"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 6), width_ratios=(1.15, 1, 1), layout="constrained")
    fig.get_layout_engine().set(wspace=0.08)  # room between the colourbar's label and the next panel
    xx, yy, X = result["xx"], result["yy"], result["X"]
    extent = (xx.min(), xx.max(), yy.min(), yy.max())
    p = np.linspace(0, 1, 256)
    cmap = ListedColormap(posterior_image(np.column_stack([1 - p, p])))  # the maps' colours of p(class 1 | x)
    axes[0].imshow(result["grid_posterior"], origin="lower", extent=extent, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    best = max((key for key in estimates if key.weighting == "elbo"), key=lambda key: key.n_trials)
    estimated = 1 / (1 + np.exp(-estimates[best]))  # p(1 | x) from the estimated log-likelihood ratio
    axes[0].scatter(X[:, 0], X[:, 1], c=estimated, cmap=cmap, vmin=0, vmax=1, s=16, edgecolors="k", linewidths=0.4)
    axes[0].set_title(f"Exact p(class 1 | x); points: the estimate\n({estimate_label(best)})", fontsize=12)
    axes[0].set_aspect("equal", adjustable="box")
    posterior_colorbar(fig, axes[0], 2).ax.tick_params(labelsize=11)
    low, high = float(exact.min()), float(exact.max())
    for ax, weighting in zip(axes[1:], ("elbo", "uniform"), strict=True):
        ax.plot([low, high], [low, high], color="0.3", linewidth=1, label="exact")
        for i, key in enumerate(key for key in estimates if key.weighting == weighting):
            gap = posterior_gap(estimates[key], exact)
            slope = np.polyfit(exact, estimates[key], 1)[0]
            label = f"{estimate_label(key)}:\nmean |p - p*| = {gap:.3f}, slope {slope:.3f}"
            ax.scatter(exact, estimates[key], s=7, alpha=0.6, color=f"C{i}", label=label)
        ax.set_xlabel("exact log p(x | 1) - log p(x | 0)")
        ax.set_ylabel("estimated: err(x, 0) - err(x, 1)")
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False, markerscale=2)
    axes[1].set_title("ELBO weighting converges\nto the exact posterior", fontsize=12)
    axes[2].set_title(
        f"Uniform: too flat by one factor,\nwhich temperature {result['temperature']:.3f} removes", fontsize=12
    )
    return fig


def plot_reliability(
    settings: dict[CalibrationSetting, dict],
    y_index: np.ndarray,
    *,
    n_bins: int = 20,
    min_count: int = 10,
    figsize: tuple[float, float] = (9.5, 7.5),
    legend_fontsize: float = 9,
):
    """Reliability diagram (top-label accuracy against mean confidence in ``n_bins`` equal-width
    bins, those of at least ``min_count`` samples, with the binomial standard error of each bin's
    accuracy as bars) for each setting, and below it the number of samples in every bin; ECE in
    the legend, beside the axes."""
    fig, (ax, bottom) = plt.subplots(2, 1, figsize=figsize, height_ratios=(3, 1.3), sharex=True, layout="constrained")
    K = next(iter(settings.values()))["proba"].shape[1]
    ax.plot([1 / K, 1], [1 / K, 1], color="0.3", linewidth=1, label="calibrated")
    edges, low = np.linspace(0, 1, n_bins + 1), 1 / K
    for i, (setting, entry) in enumerate(settings.items()):
        confidence, accuracy, counts = reliability_curve(entry["proba"], y_index, n_bins=n_bins)
        full = counts >= min_count
        spread = np.sqrt(accuracy * (1 - accuracy) / counts)  # binomial standard error of each bin's accuracy
        temperature = "" if entry["temperature"] == 1 else f" {entry['temperature']:.2f}"
        label = f"{calibration_label(setting)}{temperature}: ECE {entry['ece']:.3f}"
        style = dict(fmt="o-", color=f"C{i}", markersize=4, capsize=2, label=label)
        ax.errorbar(confidence[full], accuracy[full], yerr=spread[full], **style)
        low = min([low, *(accuracy - spread)[full]])
        bins = np.minimum((entry["proba"].max(1) * n_bins).astype(int), n_bins - 1)
        bottom.stairs(np.bincount(bins, minlength=n_bins), edges, color=f"C{i}", linewidth=1.5)
    ax.set_xlim(1 / K - 0.01, 1.005)
    ax.set_ylim(low - 0.02, 1.02)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability of p(c | x) on held-out points ({n_bins} bins; drawn where {min_count}+ points)")
    ax.legend(fontsize=legend_fontsize, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    bottom.set_yscale("log")
    bottom.set_xlabel("confidence, max_c p(c | x)")
    bottom.set_ylabel("points per bin")
    return fig


def plot_pruning_maps(xx: np.ndarray, yy: np.ndarray, maps: dict, *, n_trials: int, baseline=None):
    """The decision map each pruning rule produces (``maps``: rule -> {"proba" (n, K),
    "evaluations" (n,)} on the r x r grid ``xx``, ``yy``), its evaluations per point and its
    agreement with the decisions of the rule ``baseline`` (default None: every class on all
    ``n_trials`` trials), and where the last rule spent them. Two panels a row, 10 inches wide
    (720 px at the notebooks' 72 dpi), each colourbar beside the panel it keys."""
    r = xx.shape[0]
    K = next(iter(maps.values()))["proba"].shape[-1]
    n_rows = (len(maps) + 2) // 2  # the maps, then the evaluations
    fig, grid = plt.subplots(n_rows, 2, figsize=(10, 4.6 * n_rows + 0.7), layout="constrained", squeeze=False)
    axes = list(grid.ravel())
    for unused in axes[len(maps) + 1 :]:
        unused.set_visible(False)
    decisions = maps[baseline]["proba"].argmax(1)  # [r * r], the baseline's
    for ax, (rule, entry) in zip(axes, maps.items(), strict=False):
        draw_posterior(ax, xx, yy, entry["proba"].reshape(r, r, K))
        agreement = (entry["proba"].argmax(1) == decisions).mean()
        title = f"{pruning_label(rule, n_trials)}\n{entry['evaluations'].mean():.0f} evaluations / point, agrees {agreement:.2%}"
        finish_map(ax, xx, yy, title)
    key = posterior_colorbar(fig, axes[min(1, len(maps) - 1)], K)  # beside the top row's last map
    key.ax.tick_params(labelsize=11)
    class_legend(fig, K, extra=[boundary_handle(n_classes=K)])
    last, spent = list(maps)[-1], axes[len(maps)]
    image = spent.imshow(
        maps[last]["evaluations"].reshape(r, r),
        origin="lower",
        extent=(xx.min(), xx.max(), yy.min(), yy.max()),
        aspect="auto",
        cmap="viridis",
        norm="log",
    )
    finish_map(spent, xx, yy, f"{pruning_label(last, n_trials)}:\nevaluations spent on each point")
    bar = fig.colorbar(image, ax=spent, shrink=0.85)
    bar.set_label("denoiser evaluations per point (all classes)", fontsize=KEY_FONTSIZE)
    bar.ax.tick_params(labelsize=11)
    return fig
