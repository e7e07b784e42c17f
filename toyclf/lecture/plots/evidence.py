"""The picture that explains the method (:mod:`toyclf.lecture.experiments.evidence`): for a point
deep inside a class and one on the boundary, every class's denoising error against the noise
level, and the running mean that Algorithm 1 reports after n trials."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from toyclf.lecture.experiments.evidence import ClassEvidence
from toyclf.lecture.plots.keys import class_colors, class_names


def binned_means(log_snr: np.ndarray, losses: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-trial losses averaged over ``n_bins`` bins of equally many trials along lambda (at
    most one bin per trial): ([n_bins] centres, [..., n_bins] means) of [N] and [..., N]."""
    if not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ValueError(f"n_bins must be an int >= 1; got {n_bins!r}.")
    n_bins = min(int(n_bins), len(log_snr))
    order = np.argsort(log_snr)
    groups = np.array_split(order, n_bins)
    centres = np.array([log_snr[g].mean() for g in groups])
    means = np.stack([losses[..., g].mean(-1) for g in groups], axis=-1)
    return centres, means


def plot_class_evidence(
    evidence: ClassEvidence,
    points: Sequence[int],
    titles: Sequence[str],
    *,
    class_labels: Sequence | None = None,
    n_bins: int = 24,
    figsize: tuple[float, float] = (12.8, 6.4),
) -> Figure:
    """A column per point: on top, ||eps - eps_theta(x_t, t, c)||^2 of every class on each trial
    (dots) and averaged in bins of lambda = log SNR (lines), noise growing to the right, the area
    between the first two classes shaded in the colour of the class it favours (the one with the
    lower error); below, the estimate of Algorithm 1 (the mean of w(t) times the error) after the
    first n trials of the plan. With the ELBO weights, half the signed area (one colour minus the
    other) is the ELBO's estimate of the log-likelihood ratio, the gap at the right end of the
    lower panel."""
    K = evidence.losses.shape[1]
    colours, names = class_colors(K), class_names(K, class_labels)
    fig, axes = plt.subplots(2, len(points), figsize=figsize, squeeze=False, layout="constrained", sharex="row")
    n = np.arange(1, evidence.losses.shape[-1] + 1)
    for column, (point, title) in enumerate(zip(points, titles, strict=True)):
        top, bottom = axes[0, column], axes[1, column]
        centres, means = binned_means(evidence.log_snr, evidence.losses[point], n_bins)  # [n_bins], [K, n_bins]
        for k in range(K):
            top.scatter(evidence.log_snr, evidence.losses[point, k], s=6, color=colours[k], alpha=0.25, linewidths=0)
            top.plot(centres, means[k], color=colours[k], linewidth=2.5, label=names[k])
            bottom.plot(n, evidence.running_errors[point, k], color=colours[k], linewidth=2.5, label=names[k])
        for favoured, where in ((0, means[0] <= means[1]), (1, means[0] > means[1])):  # signed: a colour a side
            label = f"favours {names[favoured]}" if column == 0 else None
            top.fill_between(
                centres, means[0], means[1], where=where, interpolate=True, color=colours[favoured], alpha=0.3,
                linewidth=0, label=label,
            )  # fmt: skip
        top.set_ylim(0, np.quantile(evidence.losses[point], 0.98) * 1.1)
        top.set_title(title, loc="left", fontweight="bold")
        ratio = evidence.log_likelihood_ratio(point)
        if evidence.weighting == "elbo":
            estimate = f"ELBO: log p(x|{names[0]}) - log p(x|{names[1]}) = {ratio:+.1f} nats"
            bottom.set_title(estimate, fontsize="medium")
        else:
            bottom.set_title(f"err({names[1]}) - err({names[0]}) = {ratio:+.2f}", fontsize="medium")
        bottom.set_xscale("log")
        bottom.set_xlabel("trials n, in the plan's order")
    axes[0, 0].invert_xaxis()  # noise grows to the right, like t (the row shares its x axis)
    lam = evidence.schedule_log_snr  # [T], decreasing in t
    steps = np.arange(len(lam), dtype=float)
    for ax in axes[0]:
        ax.set_xlabel(r"log SNR $\lambda_t$ (noise grows $\rightarrow$)")
        on_t = ax.secondary_xaxis(
            "top", functions=(lambda v: np.interp(-v, -lam, steps), lambda t: np.interp(t, steps, lam))
        )
        span = evidence.log_snr.min(), evidence.log_snr.max()  # the trials' range of lambda
        on_t.set_xticks([t for t in range(0, len(lam), max(1, len(lam) // 4)) if span[0] <= lam[t] <= span[1]])
        on_t.set_xlabel("t")
    axes[0, 0].set_ylabel(r"$\|\epsilon - \epsilon_\theta(x_t, t, c)\|^2$")
    axes[1, 0].set_ylabel("error after n trials")
    axes[0, 0].legend(loc="upper right", framealpha=0.9)
    return fig
