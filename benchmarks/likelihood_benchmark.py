"""Benchmark: the ELBO the classifier ranks classes by, against the model's exact log-likelihood
(the probability-flow ODE of :mod:`toyclf.likelihood`), on the same trained models, in one run.

    python benchmarks/likelihood_benchmark.py            # spirals and the 3-class Gaussian mixture, ~5 minutes
    python benchmarks/likelihood_benchmark.py --quick    # tiny sizes: a smoke run

Trains the default ``DiffusionClassifier`` on the 2-arm spirals (2000 points) and on the suite's
3-class Gaussian mixture (``mixture_3``, 4000 points; its exact log p(x | c) is known in closed
form), then scores held-out points four ways, all in the units of X:

- exact, every timestep: the ODE from t = 0 (noise 0.0016 in standardised units) to t = T - 1;
- exact, up to sigma 10: the same ODE stopped where sigma_t / alpha_t reaches the top of the
  classifier's noise range (t = 982), the data taken for a Gaussian above it;
- ELBO, the classifier's: ``clf.class_errors`` (ELBO weights over noise levels 0.03 - 10, early
  stopping, at most 256 trials), turned into the ELBO with its constant by
  :func:`toyclf.likelihood.elbo_from_errors` (the constant estimated on the same trials);
- ELBO, every timestep: ELBO weights over the whole schedule, every class on 256 trials.

Prints, per data set: the gap exact minus ELBO per class (mean and spread over points), and how
the ELBO's log-likelihood ratios between classes match the exact ones (correlation, mean absolute
difference, slope); then per scoring rule the held-out accuracy, expected calibration error and log
loss of Bayes' rule on it (equal priors, temperature 1), denoiser evaluations and seconds per point;
for the mixture also the true Bayes posterior and how far each log-likelihood is from the true one.
Last, the ODE at a looser tolerance, on the first points: how much its values move.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch
from sklearn.metrics import log_loss

from toyclf import DiffusionClassifier, make_spirals
from toyclf.calibration import expected_calibration_error
from toyclf.estimator import class_errors
from toyclf.lecture.experiments.suite import problem
from toyclf.likelihood import classifier_log_likelihoods, elbo_from_errors, exact_log_posterior, timestep_range
from toyclf.plan import make_plan


def data_sets(args) -> dict:
    """name -> (X_train, y_train, X_test, y_test, oracle or None)."""
    X, y = make_spirals(args.n_train, noise=0.2, random_state=args.seed)
    X_test, y_test = make_spirals(args.n_test, noise=0.2, random_state=args.seed + 1)
    mixture = problem("mixture_3")
    split = mixture.split(args.seed, n_test=args.n_test)
    n_mixture = 2 * args.n_train  # as the suite: 4000 by default
    return {
        "spirals, 2 arms": (X, y, X_test, y_test, None),
        "Gaussian mixture, 3 classes": (
            split.X_train[:n_mixture],
            split.y_train[:n_mixture],
            split.X_test,
            split.y_test,
            mixture.oracle,
        ),
    }


def elbo_scores(clf: DiffusionClassifier, X: np.ndarray, every_timestep: bool, n_trials: int) -> tuple:
    """The ELBO on log p(x | c) in the units of X [n, K], evaluations per point, seconds."""
    denoiser, schedule, D = clf.denoiser_, clf.denoiser_.schedule, X.shape[1]
    log_det = np.log(clf.scaler_.scale_).sum()  # z = (x - mean) / scale: log p_X = log p_Z - sum log scale
    start = time.perf_counter()
    if every_timestep:
        plan = make_plan(denoiser, n_trials, seed=clf.plan_seed_)
        z = torch.as_tensor(clf.scaler_.transform(X), dtype=torch.float32)
        errors = class_errors(denoiser, z, plan, weighting="elbo")  # [n, K], every class on every trial
        trials, noise_range = torch.full(errors.shape, n_trials), None
    else:
        errors, trials = clf.class_errors(X, return_trials=True)  # the classifier's own settings
        noise_range = clf.noise_range
        plan = clf.trial_plan()  # the plan clf.class_errors drew
    seconds = time.perf_counter() - start
    elbo = elbo_from_errors(errors, schedule, D, noise_range=noise_range, plan=plan, trials=trials).numpy()
    return elbo - log_det, float(np.asarray(trials).sum(1).mean()), seconds


def exact_scores(clf: DiffusionClassifier, X: np.ndarray, t_max: int | None, rtol: float) -> tuple:
    """The exact log p(x | c) in the units of X [n, K], evaluations per point (every class), seconds."""
    start = time.perf_counter()
    log_likelihood, evaluations = classifier_log_likelihoods(
        clf, X, t_max=t_max, rtol=rtol, atol=rtol, return_evaluations=True
    )
    return log_likelihood, float(evaluations * log_likelihood.shape[1]), time.perf_counter() - start


def ratios(log_likelihood: np.ndarray) -> np.ndarray:
    """log p(x | c) - log p(x | c') for every pair c < c': [n, K] -> [n * pairs]."""
    pairs = list(itertools.combinations(range(log_likelihood.shape[1]), 2))
    return np.concatenate([log_likelihood[:, a] - log_likelihood[:, b] for a, b in pairs])


def report(name: str, scores: dict, y_index: np.ndarray, oracle, X_test: np.ndarray) -> None:
    exact_names = [key for key in scores if key.startswith("exact")]
    elbo_names = [key for key in scores if key.startswith("ELBO")]
    print(
        f"\n{name}: the gap exact - ELBO per class (nats; mean +- sd over points), and the log-ratios between classes"
    )
    print(f"  {'ELBO':26s} {'exact':26s} {'gap per class':40s} {'corr':>6s} {'mean |diff|':>11s} {'slope':>6s}")
    for elbo_name, exact_name in itertools.product(elbo_names, exact_names):
        gap = scores[exact_name][0] - scores[elbo_name][0]  # [n, K]
        per_class = ", ".join(f"{m:+.2f} +- {s:.2f}" for m, s in zip(gap.mean(0), gap.std(0), strict=True))
        exact_ratio, elbo_ratio = ratios(scores[exact_name][0]), ratios(scores[elbo_name][0])
        corr = np.corrcoef(exact_ratio, elbo_ratio)[0, 1]
        slope = np.polyfit(exact_ratio, elbo_ratio, 1)[0]
        difference = np.abs(elbo_ratio - exact_ratio).mean()
        print(f"  {elbo_name:26s} {exact_name:26s} {per_class:40s} {corr:6.3f} {difference:11.3f} {slope:6.3f}")

    print(f"\n{name}: Bayes' rule on each (equal priors, temperature 1), {len(y_index)} held-out points")
    header = f"  {'scoring':26s} {'accuracy':>8s} {'ECE':>6s} {'log loss':>8s} {'evals/point':>11s} {'s/point':>8s}"
    print(header + (f" {'TV to Bayes':>11s} {'|log p - true|':>14s}" if oracle is not None else ""))
    truth = None if oracle is None else oracle.log_likelihood(X_test).numpy()  # [n, K], the true log p(x | c)
    rows = dict(scores)
    if truth is not None:
        rows["the true density (Bayes)"] = (truth, 0.0, 0.0)
    base_seconds = scores["ELBO, the classifier's"][2]
    for key, (log_likelihood, evaluations, seconds) in rows.items():
        proba = exact_log_posterior(log_likelihood).exp().numpy()  # [n, K]
        accuracy = np.mean(proba.argmax(1) == y_index)
        line = (
            f"  {key:26s} {accuracy:8.4f} {expected_calibration_error(proba, y_index):6.4f} "
            f"{log_loss(y_index, proba, labels=range(proba.shape[1])):8.4f} {evaluations:11.0f} "
            f"{seconds / len(y_index):8.4f}"
        )
        if truth is not None:
            bayes = exact_log_posterior(truth).exp().numpy()
            tv = 0.5 * np.abs(proba - bayes).sum(1).mean()
            line += f" {tv:11.4f} {np.abs(log_likelihood - truth).mean():14.3f}"
        print(line + (f"   ({seconds / base_seconds:.0f} x the classifier's time)" if key.startswith("exact") else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=2000, help="spirals training points (the mixture: twice)")
    parser.add_argument("--n-test", type=int, default=400, help="held-out points per data set")
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--rtol", type=float, default=1e-5, help="the ODE's rtol and atol")
    parser.add_argument("--n-check", type=int, default=100, help="points of the tolerance check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.train_steps, args.rtol, args.n_check = 200, 12, 100, 1e-3, 4
    torch.set_num_threads(1)  # the toy's small matrices: one thread is as fast, and robust to a busy machine
    begin = time.perf_counter()
    for name, (X, y, X_test, y_test, oracle) in data_sets(args).items():
        start = time.perf_counter()
        clf = DiffusionClassifier(max_iter=args.train_steps, random_state=args.seed).fit(X, y)
        schedule = clf.denoiser_.schedule
        top = timestep_range(schedule, (0.0, clf.noise_range[1]))[1]  # the last timestep with sigma <= 10
        print(f"\n{name}: {len(X)} training points, trained in {time.perf_counter() - start:.1f} s; t_max {top}")
        scores = {
            "exact, every timestep": exact_scores(clf, X_test, None, args.rtol),
            "exact, up to sigma 10": exact_scores(clf, X_test, top, args.rtol),
            "ELBO, the classifier's": elbo_scores(clf, X_test, every_timestep=False, n_trials=clf.n_trials),
            "ELBO, every timestep": elbo_scores(clf, X_test, every_timestep=True, n_trials=clf.n_trials),
        }
        report(name, scores, np.searchsorted(clf.classes_, y_test), oracle, X_test)
        looser = 10 * args.rtol
        for t_max, key in ((None, "exact, every timestep"), (top, "exact, up to sigma 10")):
            coarse = exact_scores(clf, X_test[: args.n_check], t_max, looser)[0]
            moved = np.abs(coarse - scores[key][0][: args.n_check])
            print(
                f"  {key}: rtol {looser:g} instead of {args.rtol:g} on {args.n_check} points moves log p by "
                f"{moved.mean():.4f} on average, {moved.max():.4f} at most"
            )
    print(f"\ndone in {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
