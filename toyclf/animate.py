"""python -m toyclf.animate: the four animations of the README, as GIFs.

Trains the default spirals classifier, then draws diffusion as a process in time and the
classifier at work: the forward process (the spirals dissolving into noise), reverse sampling
(each class condensing out of noise), the decision map gathering evidence as the number of
(t, eps) trials doubles, and per-point early stopping deciding the map round by round.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from toyclf.classifier import DiffusionClassifier
from toyclf.cli import (
    add_output_arguments,
    command,
    command_parser,
    grid_int,
    int_range,
    output_folder,
    positive_int,
    seed_int,
    write_and_report,
)
from toyclf.lecture.experiments.comparison import make_split
from toyclf.lecture.plots import animations
from toyclf.mapping import make_grid

ANIMATIONS = ("forward_process", "reverse_sampling", "gathering_evidence", "early_stopping")
MAX_FRAMES = 1000  # --frames: every frame of a GIF is held in memory while it is written


def build_parser():
    parser = command_parser("toyclf.animate", __doc__)
    parser.add_argument("--seed", type=seed_int, default=0, help="seeds the data, training and the plan")
    parser.add_argument("--steps", type=positive_int, default=3000, help="training steps of the denoiser")
    parser.add_argument("--grid", type=grid_int, default=120, help="resolution of the animated maps")
    parser.add_argument(
        "--frames", type=int_range(2, MAX_FRAMES), default=40, help="frames of the forward and reverse process"
    )
    add_output_arguments(parser, what="GIFs")
    return parser


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = output_folder(parser, args)
    split = make_split("spirals", 2000, 2000, random_state=args.seed)
    clf = DiffusionClassifier(max_iter=args.steps, random_state=args.seed, verbose=not args.quiet)
    clf.fit(split.X_train, split.y_train)
    write_and_report(
        "animations", lambda: write_animations(clf, split, out, grid=args.grid, frames=args.frames, seed=args.seed)
    )
    return 0


def write_animations(
    clf: DiffusionClassifier, split, out: Path, *, grid: int = 120, frames: int = 40, seed: int = 0
) -> list[Path]:
    """Make every animation of ``clf`` on ``split`` and write them into ``out`` as ``NAME.gif``."""
    y_train = np.searchsorted(clf.classes_, split.y_train)
    x0 = clf.scaler_.transform(split.X_train)  # [n, 2] the denoiser's space
    xx, yy, _ = make_grid(np.vstack([split.X_train, split.X_test]), grid)
    clip = 1.5 * clf.data_bound_
    classes = clf.classes_
    made = {
        "forward_process": animations.forward_process(
            x0, y_train, clf.denoiser_.schedule, n_frames=frames, seed=seed, class_labels=classes
        ),
        "reverse_sampling": animations.reverse_sampling(
            clf.denoiser_, 500, clip=clip, n_frames=frames, seed=seed, class_labels=classes
        ),
        "gathering_evidence": animations.gathering_evidence(clf, xx, yy, split.X_test, split.y_test),
        "early_stopping": animations.early_stopping(clf, xx, yy),
    }
    fps = {"gathering_evidence": 1.5, "early_stopping": 1.5}
    return [animations.save_animation(anim, out / f"{name}.gif", fps=fps.get(name, 10)) for name, anim in made.items()]


if __name__ == "__main__":
    sys.exit(main())
