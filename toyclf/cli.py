"""What the command lines share: argument types, the estimator's flags, checks that fail
before any work is done (not after minutes of training), and the report of the figures written."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from toyclf.pruning import PRUNINGS, resolve_pruning
from toyclf.utils.device import resolve_device
from toyclf.utils.files import ensure_writable_dir
from toyclf.utils.validation import POSITIVE_FINITE

PRUNING_CHOICES = (*PRUNINGS, "none")  # the --pruning flag: a rule of toyclf.pruning, or none (every trial)


def command_parser(module: str, module_doc: str) -> argparse.ArgumentParser:
    """The parser of ``python -m {module}``: its description is the second paragraph of the
    module's docstring, and ``--help`` shows every default."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=module_doc.split("\n\n")[1].replace("\n", " "),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def positive_int(text: str) -> int:
    """An argparse type: an int of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def float_argument(text: str, accept: Callable[[float], bool], expected: str) -> float:
    """``text`` as a float if ``accept`` takes it; otherwise argparse's error "expected {expected}"."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (:data:`toyclf.utils.validation.POSITIVE_FINITE`)."""
    return float_argument(text, POSITIVE_FINITE.is_satisfied_by, "a positive finite number")


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0."""
    return float_argument(text, lambda value: bool(np.isfinite(value)) and value >= 0, "a number >= 0")


def add_classifier_arguments(parser: argparse.ArgumentParser, *, item: str = "point") -> None:
    """--trials, --pruning, --device, --out and --quiet; ``item`` names what is classified."""
    parser.add_argument(
        "--trials",
        type=positive_int,
        default=256,
        help=f"Monte Carlo (t, eps) pairs per class: the most one {item} gets with early stopping, all of them without",
    )
    parser.add_argument(
        "--pruning",
        choices=PRUNING_CHOICES,
        default="early_stopping",
        help=f"early_stopping: stop each {item} once its class is significantly ahead (default); "
        f"staged: the paper's Algorithm 2 (needs --trials >= 500); none: every {item} gets all --trials",
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, mps")
    add_output_arguments(parser)


def add_output_arguments(parser: argparse.ArgumentParser, *, what: str = "figures") -> None:
    """--out (the folder for ``what``) and --quiet."""
    parser.add_argument("--out", type=Path, default=Path("figures"), help=f"folder for the {what}")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def output_folder(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """The --out folder, created and checked now; exits with the parser's error (status 2) if it
    cannot be written."""
    try:
        return ensure_writable_dir(args.out)
    except OSError as error:
        parser.error(str(error))


def pruning_of(args: argparse.Namespace) -> str | None:
    """The ``pruning`` parameter the --pruning flag asks for."""
    return None if args.pruning == "none" else args.pruning


def classifier_params(args: argparse.Namespace) -> dict:
    """The :class:`~toyclf.DiffusionClassifier` parameters the shared flags (and --steps, --seed) set."""
    return {
        "max_iter": args.steps,
        "n_trials": args.trials,
        "pruning": pruning_of(args),
        "random_state": args.seed,
        "device": args.device,
        "verbose": not args.quiet,
    }


def check_classifier_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """Check the device, the pruning rule against --trials and the output folder now, exiting
    with the parser's error (status 2) if one is wrong; returns the output folder."""
    try:
        resolve_device(args.device)
        resolve_pruning(pruning_of(args)).stage_ends(args.trials)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    return output_folder(parser, args)


def write_and_report(what: str, write: Callable[[], list[Path]]) -> list[Path]:
    """Run ``write`` (it draws the figures and returns their paths), then print how long it took
    (``"{what} in 1.2 s:"``) and one path a line."""
    start = time.perf_counter()
    paths = write()
    print(f"{what} in {time.perf_counter() - start:.1f} s:")
    for path in paths:
        print(f"  {path}")
    return paths
