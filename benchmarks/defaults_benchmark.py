"""Benchmark: DiffusionClassifier's defaults on a suite of low-dimensional problems, against tuned
baselines, side by side in one run.

    python benchmarks/defaults_benchmark.py                      # the defaults, on the test seeds
    python benchmarks/defaults_benchmark.py --split validation \\
        --variant elbo=weighting:elbo --variant band='weighting:elbo;noise_range:(0.03,10)'   # candidates, on validation seeds

Every problem of :mod:`toyclf.lecture.experiments.suite` (13: moons, circles, blobs, spirals, XOR, 4-D and
8-D tables, an imbalanced set, a Gaussian mixture) is drawn with each seed of the split, and on
each draw the tuned RBF SVM, k-NN, MLP and gradient boosting are fitted beside the diffusion
classifier (the defaults, and any ``--variant NAME=param:value;param:value``). Defaults are
chosen on ``--split validation`` (seeds 100-102) and reported on ``--split test`` (seeds 0-2).

Prints, per problem, the mean held-out accuracy over the seeds of the best baseline and of every
variant (and the Bayes accuracy where the exact posterior is known), then per variant: the mean
and the worst gap to the best baseline in points, the problems within 0.3 points, the expected
calibration error, the total-variation distance to the exact posterior (Gaussian mixtures),
denoiser evaluations per point and the longest training time.
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path

import numpy as np
import torch

from toyclf import DiffusionClassifier
from toyclf.calibration import expected_calibration_error
from toyclf.estimator import log_posterior
from toyclf.lecture.experiments.comparison import fit_and_score, tabular_baselines
from toyclf.lecture.experiments.suite import PROBLEMS, TEST_SEEDS, VALIDATION_SEEDS, problem

PREDICTION_PARAMS = {
    "n_trials",
    "timesteps",
    "noise_sampling",
    "pruning",
    "loss",
    "weighting",
    "noise_range",
    "temperature",
}


def parse_variant(text: str) -> tuple[str, dict]:
    """``"name=param:value;param:value"`` -> (name, params); values are Python literals or strings."""
    name, _, settings = text.partition("=")
    params = {}
    for item in filter(None, settings.split(";")):
        key, _, value = item.partition(":")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = None if value == "none" else value
    return name, params


def score_diffusion(clf: DiffusionClassifier, split, oracle) -> dict:
    """Accuracy, ECE, evaluations per point and, given the oracle, total variation to the exact posterior."""
    errors, trials = clf.class_errors(split.X_test, return_trials=True)
    proba = log_posterior(torch.as_tensor(errors), temperature=clf.temperature, log_prior=clf._log_prior()).exp()
    proba = proba.numpy()
    y_index = np.searchsorted(clf.classes_, split.y_test)
    result = {
        "accuracy": float(np.mean(proba.argmax(1) == y_index)),
        "ece": expected_calibration_error(proba, y_index),
        "evaluations": float(trials.sum(1).mean()),
    }
    if oracle is not None:
        exact = oracle.log_posterior(split.X_test).exp().numpy()
        result["tv"] = float(0.5 * np.abs(proba - exact).sum(1).mean())
        result["bayes"] = float(np.mean(exact.argmax(1) == split.y_test))
    return result


def baseline_scores(split, seed: int, cache: dict, cache_key: str) -> dict[str, float]:
    if cache_key not in cache:
        cache[cache_key] = {name: fit_and_score(name, b, split).accuracy for name, b in tabular_baselines(seed).items()}
    return cache[cache_key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["validation", "test"], default="test")
    parser.add_argument("--problems", nargs="+", default=[p.key for p in PROBLEMS], help="keys of the suite")
    parser.add_argument("--variant", action="append", default=[], help="NAME=param:value;... (repeatable)")
    parser.add_argument("--no-defaults", action="store_true", help="only the --variant ones")
    parser.add_argument("--cache", type=Path, default=None, help="JSON file keeping the baselines' accuracies")
    args = parser.parse_args()
    seeds = VALIDATION_SEEDS if args.split == "validation" else TEST_SEEDS
    variants = ([] if args.no_defaults else [("defaults", {})]) + [parse_variant(v) for v in args.variant]
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}

    rows = {}  # (problem key, variant name) -> list of per-seed results
    best = {}  # problem key -> list of (best baseline accuracy, its name) per seed
    for key in args.problems:
        prob = problem(key)
        for seed in seeds:
            split = prob.split(seed)
            scores = baseline_scores(split, seed, cache, f"{args.split}/{key}/{seed}")
            name = max(scores, key=scores.get)
            best.setdefault(key, []).append((scores[name], name))
            fitted = {}  # training params -> classifier: variants that differ only at prediction share a fit
            for variant, params in variants:
                training = {k: v for k, v in params.items() if k not in PREDICTION_PARAMS}
                train_key = repr(sorted(training.items()))
                start = time.perf_counter()
                if train_key not in fitted:
                    fitted[train_key] = DiffusionClassifier(random_state=seed, **training).fit(
                        split.X_train, split.y_train
                    )
                    fitted[train_key].fit_seconds_ = time.perf_counter() - start
                clf = fitted[train_key].set_params(**{k: v for k, v in params.items() if k in PREDICTION_PARAMS})
                result = score_diffusion(clf, split, prob.oracle)
                result["fit_seconds"] = clf.fit_seconds_
                clf.set_params(**{k: DiffusionClassifier().get_params()[k] for k in params if k in PREDICTION_PARAMS})
                rows.setdefault((key, variant), []).append(result)
            if args.cache:
                args.cache.write_text(json.dumps(cache, indent=1))
        print_problem(prob, best[key], [(v, rows[(key, v)]) for v, _ in variants], flush=True)

    print(f"\n{args.split} seeds {list(seeds)}; gap = diffusion minus best baseline, in points, mean over seeds")
    for variant, params in variants:
        gaps = {
            k: 100 * np.mean([r["accuracy"] - b for r, (b, _) in zip(rows[(k, variant)], best[k], strict=True)])
            for k in best
        }
        results = [r for k in best for r in rows[(k, variant)]]
        within = sum(g >= -0.3 for g in gaps.values())
        worst = min(gaps, key=gaps.get)
        tv = [r["tv"] for r in results if "tv" in r]
        print(
            f"{variant} {params}: mean gap {np.mean(list(gaps.values())):+.2f}, worst {gaps[worst]:+.2f} ({worst}), "
            f"within 0.3 on {within}/{len(gaps)}; ECE {np.mean([r['ece'] for r in results]):.4f}"
            + (f"; TV to exact {np.mean(tv):.4f}" if tv else "")
            + f"; {np.mean([r['evaluations'] for r in results]):.0f} evaluations/point;"
            f" training up to {max(r['fit_seconds'] for r in results):.1f} s"
        )


def print_problem(prob, best: list, variants: list, flush: bool = False) -> None:
    """One line per problem: Bayes (when known), best baseline, every variant (mean accuracy, gap, ECE)."""
    names = sorted({name for _, name in best})
    line = f"{prob.label:<28} best baseline {np.mean([b for b, _ in best]):.4f} ({'/'.join(names)})"
    if "bayes" in variants[0][1][0]:
        line += f"  Bayes {np.mean([r['bayes'] for r in variants[0][1]]):.4f}"
    for variant, results in variants:
        accuracy = np.mean([r["accuracy"] for r in results])
        gap = 100 * (accuracy - np.mean([b for b, _ in best]))
        line += f"  | {variant} {accuracy:.4f} ({gap:+.2f}) ECE {np.mean([r['ece'] for r in results]):.3f}"
        if "tv" in results[0]:
            line += f" TV {np.mean([r['tv'] for r in results]):.3f}"
    print(line, flush=flush)


if __name__ == "__main__":
    main()
