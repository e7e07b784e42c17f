"""Benchmark: the 200 x 200 spirals decision map, per point and adaptive, in one run.

    python benchmarks/map_benchmark.py              # the defaults of python -m toyclf.spirals
    python benchmarks/map_benchmark.py --compile    # also time torch.compile of the denoiser

Prints, side by side on this machine:
- its matrix-multiply speed (1024 x 1024 float32, measured between the other timings), the unit
  every time is normalised by: seconds on a machine of 86 GFLOP/s;
- the denoiser's forward at the map's batch size (4096 rows): rows per second and the fraction of
  the matmul speed it reaches (target: 80 %), eager, and compiled with ``--compile``;
- the map classified at every point (``predict_proba``) and by :func:`toyclf.mapping.probability_map`:
  seconds, normalised seconds (target: at most 2 s), denoiser evaluations per grid point, the
  agreement of the decisions with the per-point map of 1024 trials per class (target: 99.5 %),
  and how far the adaptive posterior is from the per-point one;
- the first map in a fresh ``python`` after ``import toyclf`` against the second (target: within 2x);
- the map with another busy process on the machine: with the thread count toyclf chooses against
  all of torch's threads.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from spirals_benchmark import timed

import toyclf.classifier
from toyclf import DiffusionClassifier
from toyclf.lecture.experiments.comparison import make_split
from toyclf.mapping import make_grid, probability_map
from toyclf.spirals import build_parser
from toyclf.utils.threads import threads_for_load

REFERENCE_GFLOPS = 86.0  # the machine every time is scaled to
BATCH = 4096  # rows per denoiser call in the estimator (toyclf.estimator.class_errors' eval_batch_size)
FRESH_PROCESS = """
import sys, time, numpy as np
start = time.perf_counter()
import toyclf
from toyclf.mapping import probability_map
from toyclf.lecture.plots import maps
clf = toyclf.DiffusionClassifier.load(sys.argv[1])
xx, yy, _ = make_grid(np.load(sys.argv[2]), int(sys.argv[3]))
ready = time.perf_counter()
for _ in range(2):
    t = time.perf_counter(); probability_map(clf, xx, yy); print(time.perf_counter() - t)
print(ready - start)
"""


class Roof:
    """This machine's float32 matmul speed, sampled between the timings it normalises."""

    def __init__(self) -> None:
        self.a, self.b, self.samples = torch.randn(1024, 1024), torch.randn(1024, 1024), []
        for _ in range(3):
            self.sample()

    def sample(self) -> float:
        start = time.perf_counter()
        self.a @ self.b
        self.samples.append(2 * 1024**3 / (time.perf_counter() - start))
        return self.samples[-1]

    @property
    def flops(self) -> float:
        return float(np.median(self.samples))

    def normalised(self, seconds: float) -> float:
        """Seconds scaled to a machine of :data:`REFERENCE_GFLOPS`."""
        return seconds * self.flops / (REFERENCE_GFLOPS * 1e9)


def flops_per_row(denoiser) -> int:
    """Multiply-adds of the denoiser's linear layers for one row, times two."""
    return 2 * sum(m.in_features * m.out_features for m in denoiser.modules() if isinstance(m, torch.nn.Linear))


def forward_speed(forward, denoiser, roof: Roof, repeats: int = 60) -> tuple[float, float]:
    """Rows per second of ``forward`` on BATCH rows, and its FLOP rate as a fraction of the matmul
    speed sampled right around each call (each call against the faster of the two samples)."""
    x, t, c = torch.randn(BATCH, 2), torch.randint(1000, (BATCH,)), torch.randint(denoiser.n_classes, (BATCH,))
    flops = flops_per_row(denoiser)
    rates, fractions = [], []
    with torch.inference_mode():
        for _ in range(3):
            forward(x, t, c)
        for _ in range(repeats):
            before = roof.sample()
            _, seconds = timed(forward, x, t, c)
            rates.append(BATCH / seconds)
            fractions.append(BATCH * flops / seconds / max(before, roof.sample()))
    return float(np.median(rates)), float(np.median(fractions))


def busy_process() -> subprocess.Popen:
    """Another program that keeps one core busy (a stand-in for a browser or a second notebook)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    defaults = build_parser().parse_args([])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-trials", type=int, default=1024)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to start)")
    args = parser.parse_args()

    roof = Roof()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    split = make_split(defaults.dataset, defaults.n_samples, defaults.n_test, random_state=defaults.seed)
    clf = DiffusionClassifier(max_iter=defaults.steps, random_state=defaults.seed).fit(split.X_train, split.y_train)
    denoiser = clf.denoiser_

    rate, fraction = forward_speed(denoiser, denoiser, roof)
    print(f"\nforward, {BATCH} rows: eager {rate / 1e6:.2f} M rows/s = {100 * fraction:.0f} % of the matmul speed")
    if args.compile:
        compiled = torch.compile(denoiser)
        with torch.inference_mode():
            _, compile_seconds = timed(
                compiled,
                torch.randn(BATCH, 2),
                torch.zeros(BATCH, dtype=torch.long),
                torch.zeros(BATCH, dtype=torch.long),
            )
        rate, fraction = forward_speed(compiled, denoiser, roof)
        print(
            f"forward, torch.compile: {rate / 1e6:.2f} M rows/s = {100 * fraction:.0f} % (first call {compile_seconds:.1f} s)"
        )
    print(f"  (target: 80 %) {'PASS' if fraction >= 0.8 else 'FAIL'}")

    r = defaults.grid
    xx, yy, grid = make_grid(np.vstack([split.X_train, split.X_test]), r)
    long_run = clf.set_params(n_trials=args.reference_trials, pruning=None).predict_proba(grid).reshape(r, r, -1)
    reference = clf.classes_[long_run.argmax(-1)]  # [r, r] the per-point decisions of 1024 trials
    clf.set_params(n_trials=defaults.trials, pruning="early_stopping")
    roof.sample()
    per_point, per_point_seconds = timed(lambda: clf.predict_proba(grid).reshape(r, r, -1))
    roof.sample()
    (adaptive, evaluated), adaptive_seconds = timed(lambda: probability_map(clf, xx, yy, return_evaluated=True))
    roof.sample()
    per_point_evaluations = clf.class_errors(grid, return_trials=True)[1].sum() / r**2
    adaptive_evaluations = clf.class_errors(grid[evaluated.ravel()], return_trials=True)[1].sum() / r**2

    print(
        f"\n{r} x {r} map, matmul {roof.flops / 1e9:.0f} GFLOP/s; normalised = seconds on {REFERENCE_GFLOPS:.0f} GFLOP/s"
    )
    print("                  seconds  normalised  evaluations/point  classified  agreement with 1024 trials")
    for name, proba, seconds, evaluations, share in (
        ("every point", per_point, per_point_seconds, per_point_evaluations, 1.0),
        ("adaptive", adaptive, adaptive_seconds, adaptive_evaluations, evaluated.mean()),
    ):
        agreement = np.mean(clf.classes_[proba.argmax(-1)] == reference)
        print(
            f"  {name:14s} {seconds:8.2f}  {roof.normalised(seconds):10.2f}  {evaluations:17.1f}  "
            f"{100 * share:9.1f} %  {100 * agreement:.2f} %"
        )
    print(
        f"  adaptive: {per_point_seconds / adaptive_seconds:.1f} x faster, "
        f"{per_point_evaluations / adaptive_evaluations:.1f} x fewer evaluations"
    )
    gap, own_error = np.abs(adaptive - per_point).max(-1), np.abs(per_point - long_run).max(-1)
    print(
        f"  |p(adaptive) - p(every point)|: mean {gap.mean():.4f}, max {gap.max():.3f}; "
        f"the per-point map's own |p - p(1024 trials)|: mean {own_error.mean():.4f}, max {own_error.max():.3f}"
    )
    floor = adaptive_evaluations * r**2 * flops_per_row(denoiser) / (REFERENCE_GFLOPS * 1e9)
    print(
        f"  the adaptive map's evaluations at the full matmul speed: {floor:.2f} s normalised (the floor of this model)"
    )
    seconds, agreement = roof.normalised(adaptive_seconds), np.mean(clf.classes_[adaptive.argmax(-1)] == reference)
    print(
        f"  (target: at most 2 s normalised) {'PASS' if seconds <= 2 else 'FAIL'}; "
        f"(target: agreement >= 99.5 %) {'PASS' if agreement >= 0.995 else 'FAIL'}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        model, data = Path(tmp) / "spirals.pt", Path(tmp) / "X.npy"
        clf.save(model)
        np.save(data, np.vstack([split.X_train, split.X_test]))
        out = subprocess.run(
            [sys.executable, "-c", FRESH_PROCESS, str(model), str(data), str(r)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    first, second, start = (float(v) for v in out)
    print(
        f"\nfresh process: import and load {start:.1f} s, first map {first:.2f} s, second {second:.2f} s: "
        f"{first / second:.2f} x (target: within 2 x) {'PASS' if first <= 2 * second else 'FAIL'}"
    )

    print("\nwith another busy process on the machine:")
    competitor = busy_process()
    try:
        time.sleep(0.5)
        print(f"  toyclf chooses {threads_for_load()} of {torch.get_num_threads()} threads")
        _, chosen = timed(lambda: probability_map(clf, xx, yy))
        all_threads, toyclf.classifier.threads_for_load = toyclf.classifier.threads_for_load, torch.get_num_threads
        try:
            _, forced = timed(lambda: probability_map(clf, xx, yy))
        finally:
            toyclf.classifier.threads_for_load = all_threads
    finally:
        competitor.kill()
    print(
        f"  adaptive map: {chosen:.2f} s with toyclf's choice, {forced:.2f} s with all {torch.get_num_threads()} "
        f"threads ({forced / chosen:.1f} x); {adaptive_seconds:.2f} s with the machine to itself"
    )


if __name__ == "__main__":
    main()
