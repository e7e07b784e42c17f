"""Benchmark: DDPM-trained against flow-trained classifiers, under each weighting of the trials,
side by side in one run; the exact Bayes posterior of a Gaussian mixture as the reference.

    python benchmarks/flow_benchmark.py                    # spirals, moons, XOR; test seeds 0, 1
    python benchmarks/flow_benchmark.py --problems xor --seeds 0

The toy MLP is trained twice per draw, with the same settings but the objective:
``objective="epsilon"`` (DDPM's path, the network predicts the noise) and ``objective="flow"``
(flow matching on the straight path of rectified flow, the network predicts the velocity
eps - x_0). Each is then scored by the same estimator under the three weightings of
:mod:`toyclf.weighting` (uniform in epsilon, the ELBO, uniform in velocity), with the defaults
otherwise (noise levels 0.03-10, early stopping). Prints per problem, objective and weighting the
mean held-out accuracy, expected calibration error at temperature 1, denoiser evaluations per
point and, for XOR (a Gaussian mixture), the total variation to the exact posterior.

Then the exact denoiser of a Gaussian mixture on each path (no training: eps* in closed form),
256 Sobol trials over every timestep: how far each weighting's posterior is from the exact one,
and the slope of the estimated log-likelihood ratio on the exact one (1: calibrated).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from defaults_benchmark import score_diffusion  # one scoring for both benchmarks (run from benchmarks/)

from toyclf import DiffusionClassifier
from toyclf.denoisers import GaussianMixtureOracle
from toyclf.estimator import class_errors
from toyclf.lecture.experiments.suite import TEST_SEEDS, problem
from toyclf.plan import make_plan
from toyclf.schedule import NoiseSchedule, RectifiedFlowSchedule
from toyclf.weighting import WEIGHTINGS

OBJECTIVES = ("epsilon", "flow")


def trained(args) -> dict:
    """(problem, objective, weighting) -> list over seeds of score_diffusion's results."""
    rows = {}
    for key in args.problems:
        prob = problem(key)
        for seed in args.seeds:
            split = prob.split(seed, n_test=args.n_test)
            for objective in OBJECTIVES:
                start = time.perf_counter()
                clf = DiffusionClassifier(objective=objective, random_state=seed).fit(split.X_train, split.y_train)
                seconds = time.perf_counter() - start
                for weighting in WEIGHTINGS:
                    result = score_diffusion(clf.set_params(weighting=weighting), split, prob.oracle)
                    rows.setdefault((key, objective, weighting), []).append({**result, "fit_seconds": seconds})
        print_problem(key, rows)
    return rows


def print_problem(key: str, rows: dict) -> None:
    print(f"\n{problem(key).label}: mean over seeds")
    print(f"  {'trained':8s} {'weighting':9s} {'accuracy':>8s} {'ECE':>7s} {'evals':>6s} {'TV':>7s} {'fit s':>6s}")
    for objective in OBJECTIVES:
        for weighting in WEIGHTINGS:
            results = rows[(key, objective, weighting)]
            mean = {name: np.mean([r[name] for r in results]) for name in results[0]}
            tv = f"{mean['tv']:7.4f}" if "tv" in mean else " " * 7
            print(
                f"  {objective:8s} {weighting:9s} {mean['accuracy']:8.4f} {mean['ece']:7.4f} "
                f"{mean['evaluations']:6.0f} {tv} {mean['fit_seconds']:6.1f}",
                flush=True,
            )


def exact_check(n_points: int = 400, n_trials: int = 256) -> None:
    print(
        f"\nthe exact denoiser (2 classes of 3 Gaussians), {n_trials} Sobol trials over every timestep, {n_points} points"
    )
    print(f"  {'path':15s} {'weighting':9s} {'mean |p - p_exact|':>18s} {'slope':>6s}")
    for name, schedule in (
        ("DDPM (linear)", NoiseSchedule.linear()),
        ("rectified flow", RectifiedFlowSchedule.linear()),
    ):
        oracle = GaussianMixtureOracle.ring(schedule=schedule)
        X, _ = oracle.sample(n_points, seed=0)
        exact = oracle.log_posterior(X)  # [n, 2]
        plan = make_plan(oracle, n_trials, seed=0)
        for weighting in WEIGHTINGS:
            errors = class_errors(oracle, torch.tensor(X), plan, weighting=weighting).double()  # [n, 2]
            gap = (torch.softmax(-errors, dim=1) - exact.exp())[:, 1].abs().mean()
            slope = np.polyfit((exact[:, 1] - exact[:, 0]).numpy(), (errors[:, 0] - errors[:, 1]).numpy(), 1)[0]
            print(f"  {name:15s} {weighting:9s} {gap:18.4f} {slope:6.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=["spirals_2", "moons_0.3", "xor"], help="keys of the suite")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(TEST_SEEDS[:2]))
    parser.add_argument("--n-test", type=int, default=4000)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the toy's small matrices: one thread is as fast, and robust to a busy machine
    start = time.perf_counter()
    exact_check()
    trained(args)
    print(f"\ndone in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
