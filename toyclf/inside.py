"""python -m toyclf.inside: inside the estimator, the ablations of notebook 02 at full size.

Trains the default diffusion classifier on 2-arm and 4-arm spirals, measures what each of the
estimator's choices buys (timesteps, trials, shared noise, loss and weighting, the exact check
on a Gaussian mixture, calibration, pruning), prints the numbers and writes four figures.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np
import torch

from toyclf.classifier import DiffusionClassifier
from toyclf.cli import add_output_arguments, command, command_parser, grid_int, output_folder, positive_int, seed_int
from toyclf.data import make_spirals
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.lecture.experiments.calibration_settings import calibration_settings
from toyclf.lecture.experiments.exact_posterior import oracle_against_exact, posterior_gap
from toyclf.lecture.experiments.loss_and_weighting import loss_and_weighting_accuracy
from toyclf.lecture.experiments.noise_sharing import shared_against_independent_noise
from toyclf.lecture.experiments.per_trial import TrialScheme
from toyclf.lecture.experiments.pruning_maps import pruning_maps
from toyclf.lecture.experiments.trials import accuracy_against_trials, single_timestep_accuracy
from toyclf.lecture.plots import ablations as ablation_plots
from toyclf.lecture.plots import maps
from toyclf.mapping import make_grid
from toyclf.pruning import StagedElimination

FIGURES = ("estimator_ablations", "oracle_posterior", "calibration", "pruning_maps")
TRIAL_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
PLAN_SEEDS = 3  # every curve and bar is the mean over this many plan seeds (error bars: their standard error)
CALIBRATION_BINS = 20  # equal-width confidence bins: 10 of them over [0.5, 1], where two classes' confidences lie


def spirals_classifier(
    n_arms: int, n_samples: int, steps: int, seed: int, verbose: bool
) -> tuple[DiffusionClassifier, np.ndarray]:
    """The default classifier trained on ``n_arms`` spirals, and its training points."""
    X, y = make_spirals(n_samples, noise=0.2, random_state=seed, n_arms=n_arms)
    return DiffusionClassifier(max_iter=steps, random_state=seed, verbose=verbose).fit(X, y), X


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = command_parser("toyclf.inside", __doc__)
    parser.add_argument("--n-test", type=positive_int, default=4000, help="held-out spirals points per measurement")
    parser.add_argument("--steps", type=positive_int, default=3000, help="training steps of each denoiser")
    parser.add_argument("--grid", type=grid_int, default=120, help="resolution of the pruning maps")
    parser.add_argument("--seed", type=seed_int, default=0, help="seeds the data, training and the plans")
    add_output_arguments(parser)
    args = parser.parse_args(argv)
    out = output_folder(parser, args)
    start = time.perf_counter()

    clf, _ = spirals_classifier(2, 2000, args.steps, args.seed, not args.quiet)
    X_test, y_test = make_spirals(2 * args.n_test, noise=0.2, random_state=args.seed + 1)
    x = torch.tensor(clf.scaler_.transform(X_test[: args.n_test]), dtype=torch.float32)
    y = np.searchsorted(clf.classes_, y_test[: args.n_test])
    denoiser = clf.denoiser_

    timesteps = list(range(0, clf.n_timesteps, clf.n_timesteps // 20))
    seeds = [args.seed + i for i in range(PLAN_SEEDS)]
    single = single_timestep_accuracy(denoiser, x, y, timesteps, seeds=seeds)  # [seeds, len(timesteps)]
    curves = accuracy_against_trials(denoiser, x, y, TRIAL_SIZES, fixed_timesteps=(100, 500, 900), seeds=seeds)
    shared = curves[TrialScheme(noise_sampling="gaussian")]  # the same plans as shared noise
    noise = shared_against_independent_noise(denoiser, x, y, TRIAL_SIZES, seeds=seeds, shared_curve=shared)
    losses = loss_and_weighting_accuracy(denoiser, x, y, 64, seeds=seeds)
    mean = single.mean(0)
    print(f"accuracy from one timestep, mean of {len(seeds)} noise seeds: best t = {timesteps[int(np.argmax(mean))]}")
    print(f"  {dict(zip(timesteps, np.round(mean, 4).tolist(), strict=True))}")
    for label, keyed_curves in ((ablation_plots.scheme_label, curves), (ablation_plots.noise_label, noise["curves"])):
        for scheme, curve in keyed_curves.items():
            mean = np.round(curve.mean(0), 4).tolist()
            print(f"accuracy against trials {list(TRIAL_SIZES)}, {label(scheme)}, mean of {len(seeds)} plans: {mean}")
    ratios = noise["variance_ratios"]
    print(f"shared noise: {ratios.mean():.2f}x less variance of err(c) - err(c') (seeds: {np.round(ratios, 2)})")
    scores = ", ".join(f"{ablation_plots.scoring_label(k)} {v.mean():.4f}" for k, v in losses.items())
    print(f"loss and weighting, 64 trials, mean of {len(seeds)} plans: {scores}")

    oracle = oracle_against_exact(GaussianMixtureOracle.ring(), seed=args.seed)
    for key, ratio in oracle["estimates"].items():
        slope = np.polyfit(oracle["exact"], ratio, 1)[0]
        gap = posterior_gap(ratio, oracle["exact"])
        print(f"oracle, {ablation_plots.estimate_label(key)}: mean |p - p_exact| = {gap:.4f}, slope {slope:.3f}")

    X_cal, y_cal, X_eval, y_eval = (
        X_test[: args.n_test],
        y_test[: args.n_test],
        X_test[args.n_test :],
        y_test[args.n_test :],
    )
    calibration = calibration_settings(clf, X_cal, y_cal, X_eval, y_eval, n_bins=CALIBRATION_BINS)
    for setting, entry in calibration.items():
        label = ablation_plots.calibration_label(setting)
        print(f"calibration, {label} ({entry['temperature']:.3f}): ECE {entry['ece']:.4f}")

    clf4, X4 = spirals_classifier(4, 3000, args.steps, args.seed, not args.quiet)
    xx, yy, grid = make_grid(X4, args.grid)
    rules = (None, StagedElimination((32, 256), (2, 1)), "early_stopping")  # Algorithm 1, Algorithm 2, per point
    rule_maps = pruning_maps(clf4, grid, rules)
    every_trial = rule_maps[None]["proba"].argmax(1)  # the decisions with every class on every trial
    for rule, entry in rule_maps.items():
        agreement = (entry["proba"].argmax(1) == every_trial).mean()
        name = ablation_plots.pruning_label(rule, clf4.n_trials)
        print(f"4-arm map, {name}: {entry['evaluations'].mean():.1f} evaluations / point, agreement {agreement:.4f}")

    figures = {
        "estimator_ablations": ablation_plots.plot_estimator_ablations(
            timesteps, single, TRIAL_SIZES, curves, noise, losses
        ),
        "oracle_posterior": ablation_plots.plot_oracle(oracle),
        "calibration": ablation_plots.plot_reliability(
            calibration, np.searchsorted(clf.classes_, y_eval), n_bins=CALIBRATION_BINS
        ),
        "pruning_maps": ablation_plots.plot_pruning_maps(xx, yy, rule_maps, n_trials=clf4.n_trials),
    }
    for name, fig in figures.items():
        print(f"  {maps.save_figure(fig, out / f'{name}.png')}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
