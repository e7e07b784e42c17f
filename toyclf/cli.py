"""What the command lines share: one error boundary (:func:`command`), argument types, the
estimator's flags, checks that fail before any work is done (not after minutes of training), and
the report of the figures written."""

from __future__ import annotations

import argparse
import contextlib
import functools
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from toyclf.pruning import PRUNINGS, resolve_pruning
from toyclf.utils.device import resolve_device
from toyclf.utils.files import ensure_writable_dir
from toyclf.utils.validation import POSITIVE_FINITE

PRUNING_CHOICES = (*PRUNINGS, "none")  # the --pruning flag: a rule of toyclf.pruning, or none (every trial)
EXIT_ERROR = 2  # bad input, as argparse exits for a bad flag
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
MAX_SEED = 2**32 - 1  # numpy's seeds: 0 .. 2**32 - 1
MAX_GRID = 1000  # --grid: a 1000 x 1000 map is finer than any screen shows it


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a command, with one line saying what was kept. Within
    :func:`command` both signals raise it rather than a plain ``KeyboardInterrupt``: CPython exits
    with SIGINT after a plain one interrupted code run by ``exec`` (as ``dataclasses`` does),
    whatever the program did with it; a subclass is handled like any exception."""


def command(main: Callable[[Sequence[str] | None], int]) -> Callable[[Sequence[str] | None], int]:
    """The one error boundary of the command lines, around ``main(argv)``.

    Bad input (``ValueError``, ``OSError``: a missing file, a damaged checkpoint, a model folder
    that does not load) prints ``error: ...`` on one line and returns 2; running out of memory
    says so and returns 2; Ctrl-C, or SIGTERM (what a scheduler or ``torchrun`` sends to stop a
    run), prints ``interrupted`` and what was kept (:class:`Interrupted`'s message) and returns
    130. None of them prints a traceback; an exception of any other type keeps its traceback.
    argparse's own errors exit 2 as before.
    """

    @functools.wraps(main)
    def guarded(argv: Sequence[str] | None = None) -> int:
        with signals_as_interruptions():
            try:
                return main(argv)
            except KeyboardInterrupt as interrupt:
                print(f"\ninterrupted{f': {interrupt}' if str(interrupt) else ''}", file=sys.stderr)
                return EXIT_INTERRUPTED
            except (MemoryError, torch.OutOfMemoryError) as error:
                reason = str(error).splitlines()[0] if str(error) else "no memory left"
                print(f"error: out of memory ({reason}); smaller sizes or batches need less.", file=sys.stderr)
                return EXIT_ERROR
            except (ValueError, OSError) as error:
                print(f"error: {error}", file=sys.stderr)
                return EXIT_ERROR

    return guarded


@contextlib.contextmanager
def signals_as_interruptions() -> Iterator[None]:
    """Within it Ctrl-C (SIGINT) and SIGTERM raise :class:`Interrupted`, so that ``finally`` blocks
    run (a half-written file is removed) before the process ends. Only where the signal has its
    default handling (not where it is ignored, as in a background job), in the main thread;
    restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    previous = {
        sig: signal.signal(sig, _interrupt) for sig, default in defaults.items() if signal.getsignal(sig) is default
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: Any) -> None:
    raise Interrupted


def command_parser(module: str, module_doc: str) -> argparse.ArgumentParser:
    """The parser of ``python -m {module}``: its description is the second paragraph of the
    module's docstring, and ``--help`` shows every default."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=module_doc.split("\n\n")[1].replace("\n", " "),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def int_range(low: int, high: int | None = None, expected: str | None = None) -> Callable[[str], int]:
    """An argparse type: an int from ``low`` to ``high`` (None: no upper bound); its error says
    what was ``expected``."""
    expected = expected or (f"an integer >= {low}" if high is None else f"an integer from {low} to {high}")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


positive_int = int_range(1, expected="a positive integer")
seed_int = int_range(0, MAX_SEED, expected=f"a seed from 0 to {MAX_SEED}")  # --seed
grid_int = int_range(2, MAX_GRID, expected=f"a grid size from 2 to {MAX_GRID}")  # --grid


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
        help=f"Monte Carlo trials (t, eps) per class: the most one {item} gets with early stopping, all of them without",
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
