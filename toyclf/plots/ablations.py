"""Figures for the estimator's ablations (:mod:`toyclf.experiments.ablations`, notebook 02, ``python -m toyclf.inside``).

Each function draws one result and returns the matplotlib figure; titles carry the number behind it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from toyclf.calibration import reliability_curve
from toyclf.experiments.ablations import posterior_gap
from toyclf.plots.maps import draw_posterior, finish_map


def draw_single_timestep(ax, timesteps: Sequence[int], accuracy: np.ndarray) -> None:
    """Accuracy when every trial uses one timestep, against t."""
    ax.plot(timesteps, accuracy, "o-", color="C0")
    best = int(np.argmax(accuracy))
    ax.set_title(f"One timestep only: best t = {timesteps[best]} ({accuracy[best]:.3f})")
    ax.set_xlabel("timestep t (0 = clean, T - 1 = pure noise)")
    ax.set_ylabel("test accuracy")


def draw_error_against_trials(ax, sizes: Sequence[int], curves: dict, title: str) -> None:
    """Test error (1 - accuracy) against trials per class, log-log; toyclf's default in black."""
    for i, (name, curve) in enumerate((k, v) for k, v in curves.items() if k != "variance_ratio"):
        style = "k-" if "toyclf" in name else f"C{i}-"
        ax.plot(sizes, 1 - np.asarray(curve), style, marker="o", markersize=3, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("trials (t, eps) per class")
    ax.set_ylabel("test error (1 - accuracy)")
    ax.set_title(title)
    ax.legend(fontsize=9, loc="upper right")


def draw_loss_weighting(ax, accuracy: dict[str, float]) -> None:
    """Accuracy for each loss and weighting, as bars."""
    names = list(accuracy)
    values = [accuracy[name] for name in names]
    bars = ax.bar(names, values, color=[f"C{i}" for i in range(len(names))])
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in values])
    low = min(values)
    ax.set_ylim(max(0.0, low - 3 * (1 - low)), 1.0)
    ax.set_title("Loss and weighting")
    ax.set_ylabel("test accuracy")


def plot_estimator_ablations(
    timesteps: Sequence[int],
    single_accuracy: np.ndarray,
    sizes: Sequence[int],
    trial_curves: dict[str, np.ndarray],
    noise_curves: dict,
    loss_weighting: dict[str, float],
):
    """Four panels: accuracy from one timestep against t; error against trials for the timestep
    schemes; shared against independent noise; l2 / l1 by uniform / ELBO weighting."""
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.8), layout="constrained")
    draw_single_timestep(axes[0], timesteps, single_accuracy)
    draw_error_against_trials(axes[1], sizes, trial_curves, "Which timesteps")
    ratio = noise_curves["variance_ratio"]
    draw_error_against_trials(
        axes[2], sizes, noise_curves, f"Shared noise: {ratio:.1f}x less variance in err(c) - err(c')"
    )
    draw_loss_weighting(axes[3], loss_weighting)
    return fig


def plot_oracle(result: dict):
    """Estimated against exact log p(x | 1) - log p(x | 0) on Gaussian-mixture data: the ELBO
    estimators (left) and uniform weighting before and after its temperature (right)."""
    exact, estimates = result["exact"], result["estimates"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5), layout="constrained")
    low, high = float(exact.min()), float(exact.max())
    for ax, names in (
        (axes[0], [n for n in estimates if n.startswith("ELBO")]),
        (axes[1], [n for n in estimates if n.startswith("uniform")]),
    ):
        ax.plot([low, high], [low, high], color="0.3", linewidth=1, label="exact")
        for i, name in enumerate(names):
            gap = posterior_gap(estimates[name], exact)
            slope = np.polyfit(exact, estimates[name], 1)[0]
            label = f"{name}\n  mean |p - p*| = {gap:.3f}, slope {slope:.3f}"
            ax.scatter(exact, estimates[name], s=7, alpha=0.6, color=f"C{i}", label=label)
        ax.set_xlabel("exact log p(x | 1) - log p(x | 0)")
        ax.set_ylabel("estimated: err(x, 0) - err(x, 1)")
        ax.legend(fontsize=9, loc="upper left")
    axes[0].set_title("ELBO weighting converges to the exact posterior")
    axes[1].set_title(
        f"Uniform weighting is too flat by one factor:\na fitted temperature ({result['temperature']:.3f}) removes it"
    )
    return fig


def plot_reliability(settings: dict[str, dict], y_index: np.ndarray, *, n_bins: int = 15, min_count: int = 30):
    """Reliability diagram (top-label accuracy against confidence) for each setting, ECE in the
    legend; bins with fewer than ``min_count`` samples are too noisy to draw (ECE counts them)."""
    fig, ax = plt.subplots(figsize=(6.2, 6), layout="constrained")
    ax.plot([0, 1], [0, 1], color="0.3", linewidth=1, label="calibrated")
    low = 1.0
    for i, (name, entry) in enumerate(settings.items()):
        confidence, accuracy, counts = reliability_curve(entry["proba"], y_index, n_bins=n_bins)
        confidence, accuracy = confidence[counts >= min_count], accuracy[counts >= min_count]
        low = min(low, confidence.min(), accuracy.min())
        label = (
            f"{name}"
            + ("" if entry["temperature"] == 1 else f" {entry['temperature']:.2f}")
            + f": ECE {entry['ece']:.3f}"
        )
        ax.plot(confidence, accuracy, "o-", color=f"C{i}", markersize=4, label=label)
    ax.set_xlim(low - 0.02, 1.005)
    ax.set_ylim(low - 0.02, 1.005)
    ax.set_xlabel("confidence, max_c p(c | x)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability of p(c | x) on held-out spirals\n(bins of {min_count}+ points)")
    ax.legend(fontsize=9, loc="upper left")
    return fig


def plot_pruning_maps(xx: np.ndarray, yy: np.ndarray, maps: dict[str, dict], reference: str):
    """The decision map each pruning rule produces, its evaluations per point and its agreement
    with ``reference``, and where early stopping spent them."""
    r = xx.shape[0]
    K = next(iter(maps.values()))["proba"].shape[-1]
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(5 * (len(maps) + 1), 5.2), layout="constrained")
    decisions = maps[reference]["proba"].argmax(1)
    for ax, (name, entry) in zip(axes, maps.items(), strict=False):
        draw_posterior(ax, xx, yy, entry["proba"].reshape(r, r, K))
        agreement = (entry["proba"].argmax(1) == decisions).mean()
        finish_map(ax, xx, yy, f"{name}\n{entry['evaluations'].mean():.0f} evaluations / point, agrees {agreement:.2%}")
    last = list(maps)[-1]
    image = axes[-1].imshow(
        maps[last]["evaluations"].reshape(r, r),
        origin="lower",
        extent=(xx.min(), xx.max(), yy.min(), yy.max()),
        aspect="auto",
        cmap="viridis",
        norm="log",
    )
    finish_map(axes[-1], xx, yy, f"{last}: evaluations spent on each point")
    fig.colorbar(image, ax=axes[-1], shrink=0.85)
    return fig
