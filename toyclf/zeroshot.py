"""python -m toyclf.zeroshot: classify images with a pretrained diffusion model, zero-shot.

Loads a Stable Diffusion 1/2, SDXL or Stable Diffusion 3 pipeline (classes are text prompts) or a
DiT pipeline (classes are its ImageNet labels) from a hub id or a local folder and runs the same Monte Carlo estimator as the
toy model on every image: one line per image with the prediction and the per-class errors and
probabilities. A folder with one subfolder per class is a labelled set: accuracy is reported.
Images come before --classes, or after -- (IMAGES --classes A B, or --classes A B -- IMAGES).
Results can go to a CSV as they are computed; running the same command again resumes.
A file that is not a readable image is skipped with a warning and listed at the end (and beside
the CSV), unless --strict asks to stop there.
With several processes (``accelerate launch -m toyclf.zeroshot ...`` or ``torchrun -m ...``)
the images are split between them and their results gathered into the one CSV.

Each image is one row, however its path was spelled (:func:`toyclf.pretrained.images.image_key`):
an image named twice is scored once, and a resumed run skips every image already in the CSV.
The CSV is read back checked (:class:`toyclf.utils.results_file.ResultsFile`): a last line cut
short by a killed run is removed and its image scored again; a damaged row is an error naming its
line; a CSV made with other settings (recorded beside it) or being written by another run is
refused. Images are scored in groups (:func:`toyclf.pretrained.image_classification.images_per_group`, up
to 16) and each group's rows are written when it finishes: Ctrl-C keeps every row written and
says so; the group being scored is scored again by the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from toyclf.cli import (
    EXIT_ERROR,
    PRUNING_CHOICES,
    Interrupted,
    command,
    command_parser,
    positive_float,
    positive_int,
    pruning_of,
    seed_int,
)
from toyclf.estimator import LOSSES, WEIGHTINGS
from toyclf.plan import NOISE_SAMPLINGS, make_plan
from toyclf.pretrained.image_classification import classify_images, images_per_group
from toyclf.pretrained.image_results import (
    ResultTable,
    announce_resume,
    interruption_note,
    report_accuracy,
    report_repairs,
    report_skipped,
    row_key,
    row_path,
)
from toyclf.pretrained.images import UnreadableImageError, collect_images, could_be_image_path, image_key, load_image
from toyclf.pretrained.loading import DEFAULT_MODEL, DTYPES, load_denoiser
from toyclf.pruning import StagedElimination, resolve_pruning
from toyclf.utils.results_file import (
    SKIPPED_COLUMNS,
    ResultsFile,
    part_path,
    read_skipped,
    skipped_path,
    write_skipped,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m toyclf.zeroshot``."""
    parser = command_parser("toyclf.zeroshot", __doc__)
    parser.add_argument(
        "images",
        nargs="*",
        help="image files, folders of images, or one folder with a subfolder per class; before --classes, or after --",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="diffusers hub id or local folder (Stable Diffusion 1/2, XL or 3, or DiT)",
    )
    parser.add_argument(
        "--classes",
        nargs="+",
        help="two or more class names (default: the subfolders of a labelled folder); they end at the next flag or --",
    )
    parser.add_argument("--template", default="a photo of a {}.", help="prompt of a class name (text-to-image models)")
    parser.add_argument(
        "--prompts", nargs="+", help="one prompt per class instead of --template (text-to-image models)"
    )
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:1, mps; auto: this process's GPU if any, else cpu"
    )
    parser.add_argument(
        "--dtype", choices=DTYPES, default=None, help="network dtype (default: float16 on CUDA, float32 elsewhere)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="denoiser evaluations per forward pass (default: what fills half the GPU's free memory; 32 on a CPU)",
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the network (pays off on long runs: minutes to compile)"
    )
    parser.add_argument(
        "--trials",
        type=positive_int,
        default=None,
        help="(t, eps) trials per class (default 100, or the last --n-samples)",
    )
    parser.add_argument("--pruning", choices=PRUNING_CHOICES, default="none", help="how trials are spent")
    parser.add_argument(
        "--n-samples", type=positive_int, nargs="+", default=[50, 500], help="staged: cumulative trials per stage"
    )
    parser.add_argument(
        "--to-keep", type=positive_int, nargs="+", default=[5, 1], help="staged: classes kept after each stage"
    )
    parser.add_argument("--loss", choices=LOSSES, default="l2")
    parser.add_argument("--weighting", choices=WEIGHTINGS, default="uniform")
    parser.add_argument(
        "--noise-sampling", choices=NOISE_SAMPLINGS, default="gaussian", help="how the plan's noise is drawn"
    )
    parser.add_argument("--temperature", type=positive_float, default=1.0, help="divides the errors before the softmax")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the plan of (t, eps), shared by every image")
    parser.add_argument(
        "--csv", type=Path, default=None, help="write one row per image here, as they finish; resume from it"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first file that is not a readable image (exit 2). Without it such files are skipped "
        "with a warning, listed at the end and in NAME.skipped.csv beside --csv NAME.csv, and tried again "
        "when the run is resumed; a run where no file is readable fails (exit 2)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-image lines and no progress bar")
    return parser


def choose_pruning(args: argparse.Namespace) -> str | StagedElimination | None:
    """The ``pruning`` of --pruning (:func:`toyclf.cli.pruning_of`); ``staged`` with the stages of
    --n-samples and --to-keep (the paper's Algorithm 2)."""
    if args.pruning == "staged":
        return StagedElimination(tuple(args.n_samples), tuple(args.to_keep))
    return pruning_of(args)


def check_names(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str]) -> None:
    """The boundary between class names and images, checked before anything loads (exit 2).

    The names after --classes (or --prompts) end at the next flag or at ``--``: ``IMAGES --classes
    A B`` or ``--classes A B -- IMAGES`` (every image after ``--``: argparse takes no positional
    argument on both sides of a flag). Without ``--``, a name that could be an image path (an
    image suffix, a trailing slash, an existing file or folder) is refused as ambiguous, never
    taken as a class: a mistyped image is not a class, nor is an image folder silently one.
    """
    names = [("--classes", n) for n in args.classes or []] + [("--prompts", n) for n in args.prompts or []]
    if "--" not in argv:
        for flag, name in names:
            why = could_be_image_path(name)
            if why:
                parser.error(
                    f"{flag}: {name!r} {why}: is it a name or an image? To say the names are names, put every "
                    f"image after -- at the end ({flag} A B ... -- IMAGES)"
                )
    if not args.images:
        parser.error("no images given: name image files or folders before --classes, or after -- at the end")
    if args.classes is not None and len(args.classes) < 2:
        parser.error(f"--classes needs at least two classes; got {args.classes}")
    if args.classes is not None and len(set(args.classes)) < len(args.classes):
        repeated = sorted({c for c in args.classes if args.classes.count(c) > 1})
        parser.error(f"--classes needs distinct classes; got {args.classes}, with {repeated} more than once")


@command
def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    check_names(parser, args, argv)
    return run(args)


def run(args: argparse.Namespace) -> int:
    """The command after its arguments are checked: images found, the CSV read back (checked,
    repaired and locked before the model loads), the model loaded, the images to do scored."""
    from accelerate import PartialState

    on_cpu = args.device == "cpu" or (args.device == "auto" and not torch.cuda.is_available())
    state = PartialState(cpu=on_cpu)  # one process, or the one of many that accelerate / torchrun started
    main_process, several = state.is_main_process, state.num_processes > 1
    if several and args.csv is None:
        raise ValueError("with several processes, give --csv: it is where their results are gathered.")
    found = collect_images(args.images, args.classes)
    if not found.classes:
        raise ValueError("give the class names with --classes (or one folder with a subfolder per class).")
    if found.repeated and main_process:
        print(f"note: {found.repeated} of the paths given name an image given before it; each image is scored once")
    n_trials, settings = estimator_settings(args)  # checked now, not once the model has loaded
    paths, table = found.paths, ResultTable(found.classes, recorded_settings(args, n_trials))
    key_of = {p: image_key(p) for p in paths}  # each image's real path, looked up once

    with open_results(table, args.csv, state) as results:  # the main process checks, repairs and locks it
        if main_process:
            report_repairs(results)
        done = results.done if main_process else table.keys_in(args.csv)
        if args.csv is not None:  # the parts an interrupted multi-process run left count as done
            done = done | table.keys_in_parts(args.csv)
        todo = [(p, label) for p, label in zip(paths, found.labels, strict=True) if key_of[p] not in done]
        if main_process and not args.quiet:
            announce_resume(args.csv, len(paths), todo)
        state.wait_for_everyone()  # every process has read the same `done` before any writes

        classify, group_size = zero_shot_classifier(args, found.classes, state.device, n_trials, settings)
        log = None if args.csv is None else skipped_path(args.csv)  # unreadable files: appended as they come
        with state.split_between_processes(todo) as mine:
            writer = table.open(part_path(args.csv, state.process_index), lock=True, part=True) if several else results
            skips = ResultsFile(part_path(log, state.process_index) if several else log, SKIPPED_COLUMNS, unique=False)
            with skips, writer if several else contextlib.nullcontext():
                try:
                    score_images(mine, classify, group_size, table, writer, skips, args, progress=main_process)
                except KeyboardInterrupt:
                    note = interruption_note(args.csv, results, writer, [key_of[p] for p, _ in mine], state)
                    raise Interrupted(note) from None

        state.wait_for_everyone()
        if not main_process:
            return 0
        skipped = {row["path"]: row["reason"] for row in skips.rows}
        if args.csv is not None:
            results.merge_parts(list(key_of.values()))
            earlier = {image_key(p): reason for p, reason in read_skipped(args.csv).items()}  # the log and its parts
            skipped = {row_path(p): earlier[k] for p, k in key_of.items() if k in earlier.keys() - results.done}
            write_skipped(args.csv, skipped)  # this run's skips: files read since are left out
        keys = set(key_of.values())
        rows = [row for row in results.rows if row_key(row) in keys]  # this run's images, not all the CSV holds
        if any(label is not None for label in found.labels) and rows:
            report_accuracy(rows, found.classes)
    report_skipped(skipped, len(paths), log)
    if len(skipped) == len(paths):
        raise ValueError(f"no readable image among the {len(paths)} file(s) given; nothing was classified.")
    return 0


def open_results(table: ResultTable, csv: Path | None, state: Any) -> ResultsFile:
    """The results CSV, opened by the main process (checked, repaired and locked); the others get
    an in-memory table once it is. Where the main process cannot take the file (another run holds
    it, a damaged row, other settings) every process stops: the main one with the error, the
    others quietly with the same exit code, rather than waiting at a barrier it never reaches."""
    problem, results = None, table.open(None)
    if state.is_main_process:
        try:
            results = table.open(csv, lock=True)
        except (ValueError, OSError) as error:
            problem = error
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        failed = broadcast_object_list([problem is not None])[0]
        state.wait_for_everyone()  # every process has the answer before any of them leaves
        if failed and problem is None:
            raise SystemExit(EXIT_ERROR)  # the main process says why
    if problem is not None:
        raise problem
    return results


def estimator_settings(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """The trials and the estimator's settings of the flags, the pruning rule checked against the trials."""
    n_trials = args.trials or (args.n_samples[-1] if args.pruning == "staged" else 100)
    settings = dict(pruning=choose_pruning(args), loss=args.loss, weighting=args.weighting)
    resolve_pruning(settings["pruning"]).stage_ends(n_trials)  # e.g. --trials below the last --n-samples
    return n_trials, settings | dict(temperature=args.temperature, batch_size=args.batch_size)


def recorded_settings(args: argparse.Namespace, n_trials: int) -> dict[str, Any]:
    """The flags that decide a row's numbers, recorded with the CSV: a run with others is refused
    rather than mixed in (the device, dtype and batch size change only float rounding)."""
    model = os.path.realpath(args.model) if os.path.exists(args.model) else str(args.model)
    recorded = {"--model": model, "--trials": n_trials, "--pruning": args.pruning, "--seed": args.seed}
    recorded |= {"--prompts": args.prompts} if args.prompts else {"--template": args.template}
    if args.pruning == "staged":
        recorded |= {"--n-samples": args.n_samples, "--to-keep": args.to_keep}
    names = ("loss", "weighting", "noise_sampling", "temperature")
    return recorded | {f"--{name.replace('_', '-')}": getattr(args, name) for name in names}


def zero_shot_classifier(
    args: argparse.Namespace, classes: list[str], auto_device: Any, n_trials: int, settings: dict[str, Any]
) -> tuple[Any, int]:
    """The model of --model loaded for ``classes``, as ``classify(pictures) -> outcomes`` with the
    estimator's ``settings``, and how many images it scores together."""
    denoiser = load_denoiser(
        args.model,
        classes,
        prompts=args.prompts,
        template=args.template,
        device=auto_device if args.device == "auto" else args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        compile=args.compile,
    )
    plan = make_plan(denoiser, n_trials, noise_sampling=args.noise_sampling, seed=args.seed)
    group_size = images_per_group(denoiser, plan, settings["pruning"], args.batch_size)  # images scored together
    return partial(classify_images, denoiser, plan=plan, group_size=group_size, **settings), group_size


def score_images(mine, classify, group_size, table, writer, skips, args, *, progress: bool = True) -> None:
    """Score the images ``mine`` [(path, label)] ``group_size`` at a time with ``classify``
    (pictures -> outcomes), writing each group's rows to ``writer`` when it finishes and each
    unreadable file to ``skips`` as it is met (or stopping there, with --strict)."""
    with tqdm(total=len(mine), desc="images", disable=args.quiet or not progress) as bar:
        for start in range(0, len(mine), group_size):
            chunk, group, pictures, stop = mine[start : start + group_size], [], [], None
            for path, label in chunk:
                try:
                    pictures.append(load_image(path))
                    group.append((path, label))
                except UnreadableImageError as error:
                    if args.strict:  # stop here, once the files read before it are scored and written
                        stop = error
                        break
                    skips.append({"path": row_path(path), "reason": error.reason})
                    bar.write(f"warning: skipped {path!r}, not a readable image: {error.reason}", file=sys.stderr)
            for (path, label), out in zip(group, classify(pictures), strict=True):
                writer.append(table.row(path, label, out))
                if not args.quiet:
                    scores = "  ".join(
                        f"{c}: p={p:.3f} err={e:.4g}"
                        for c, p, e in zip(table.classes, out["probabilities"], out["errors"], strict=True)
                    )
                    bar.write(f"{path}  ->  {out['prediction']}   ({scores})")
            if stop is not None:
                raise stop
            bar.update(len(chunk))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    raise SystemExit(main())
