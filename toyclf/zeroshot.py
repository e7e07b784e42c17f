"""python -m toyclf.zeroshot: classify images with a pretrained diffusion model, zero-shot.

Loads a Stable Diffusion 1/2, SDXL or Stable Diffusion 3 pipeline (classes are text prompts) or a
DiT pipeline (classes are its ImageNet labels) from a hub id or a local folder and runs the same Monte Carlo estimator as the
toy model on every image: one line per image with the prediction and the per-class errors and
probabilities. A folder with one subfolder per class is a labelled set: accuracy is reported.
Results can go to a CSV as they are computed; running the same command again resumes.
A file that is not a readable image is skipped with a warning and listed at the end (and beside
the CSV), unless --strict asks to stop there.
With several processes (``accelerate launch -m toyclf.zeroshot ...`` or ``torchrun -m ...``)
the images are split between them and their results gathered into the one CSV.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from toyclf.cli import PRUNING_CHOICES, command_parser, positive_float, positive_int, pruning_of
from toyclf.denoisers.images import UnreadableImageError, collect_images, load_image
from toyclf.denoisers.pretrained import DEFAULT_MODEL, DTYPES, load_denoiser
from toyclf.estimator import LOSSES, WEIGHTINGS
from toyclf.image_classification import classify_images, images_per_group
from toyclf.plan import NOISE_SAMPLINGS, make_plan
from toyclf.pruning import StagedElimination
from toyclf.utils.results_file import (
    SKIPPED_COLUMNS,
    ResultsFile,
    merge_parts,
    part_path,
    part_rows,
    read_skipped,
    skipped_path,
    write_skipped,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m toyclf.zeroshot``."""
    parser = command_parser("toyclf.zeroshot", __doc__)
    parser.add_argument(
        "images", nargs="*", help="image files, folders of images, or one folder with a subfolder per class"
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="diffusers hub id or local folder (Stable Diffusion 1/2, XL or 3, or DiT)",
    )
    parser.add_argument(
        "--classes", nargs="+", help="two or more class names (default: the subfolders of a labelled folder)"
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
    parser.add_argument("--seed", type=int, default=0, help="seed of the plan of (t, eps), shared by every image")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.classes:  # "--classes cat dog IMAGE...": the class names end at the first existing path
        first_path = next((i for i, name in enumerate(args.classes) if Path(name).exists()), len(args.classes))
        args.images = args.classes[first_path:] + args.images
        args.classes = args.classes[:first_path]
    if not args.images:
        parser.error("no images given (name image files or folders; after --classes, or before it)")
    if args.classes is not None and len(args.classes) < 2:
        parser.error(f"--classes needs at least two classes; got {args.classes}")
    if args.classes is not None and len(set(args.classes)) < len(args.classes):
        repeated = sorted({c for c in args.classes if args.classes.count(c) > 1})
        parser.error(f"--classes needs distinct classes; got {args.classes}, with {repeated} more than once")
    try:
        return run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    from accelerate import PartialState

    on_cpu = args.device == "cpu" or (args.device == "auto" and not torch.cuda.is_available())
    state = PartialState(cpu=on_cpu)  # one process, or the one of many that accelerate / torchrun started
    if state.num_processes > 1 and args.csv is None:
        raise ValueError("with several processes, give --csv: it is where their results are gathered.")
    paths, labels, classes = collect_images(args.images, args.classes)
    if not classes:
        raise ValueError("give the class names with --classes (or one folder with a subfolder per class).")
    n_trials = args.trials or (args.n_samples[-1] if args.pruning == "staged" else 100)
    settings = dict(pruning=choose_pruning(args), loss=args.loss, weighting=args.weighting)
    settings |= dict(temperature=args.temperature, batch_size=args.batch_size)

    device = state.device if args.device == "auto" else args.device
    denoiser = load_denoiser(
        args.model,
        classes,
        prompts=args.prompts,
        template=args.template,
        device=device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        compile=args.compile,
    )
    plan = make_plan(denoiser, n_trials, noise_sampling=args.noise_sampling, seed=args.seed)
    group_size = images_per_group(denoiser, plan, settings["pruning"], args.batch_size)  # images scored together

    columns = ["path", "label", "prediction", "trials"]
    columns += [f"error[{c}]" for c in classes] + [f"p[{c}]" for c in classes]
    results = ResultsFile(args.csv, columns)  # in memory only without --csv
    done = results.done
    if state.num_processes > 1:  # leftovers of an interrupted multi-process run count as done
        done |= set(part_rows(args.csv, columns))
    todo = [(p, label) for p, label in zip(paths, labels, strict=True) if p not in done]
    if state.is_main_process and not args.quiet:
        announce_resume(args.csv, len(paths), todo)
    state.wait_for_everyone()  # every process has read the same `done` before any writes

    with state.split_between_processes(todo) as mine:
        several = state.num_processes > 1
        writer = ResultsFile(part_path(args.csv, state.process_index), columns) if several else results
        log = None if args.csv is None else skipped_path(args.csv)  # unreadable files: appended as they come
        skips = ResultsFile(part_path(log, state.process_index) if several else log, SKIPPED_COLUMNS)
        bar = tqdm(total=len(mine), desc="images", disable=args.quiet or not state.is_main_process)
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
                    skips.append({"path": path, "reason": error.reason})
                    bar.write(f"warning: skipped {path!r}, not a readable image: {error.reason}", file=sys.stderr)
            outcomes = classify_images(denoiser, pictures, plan, group_size=group_size, **settings)
            for (path, label), out in zip(group, outcomes, strict=True):
                writer.append(result_row(path, label, out, classes))
                if not args.quiet:
                    scores = "  ".join(
                        f"{c}: p={p:.3f} err={e:.4g}"
                        for c, p, e in zip(classes, out["probabilities"], out["errors"], strict=True)
                    )
                    bar.write(f"{path}  ->  {out['prediction']}   ({scores})")
            if stop is not None:
                raise stop
            bar.update(len(chunk))
        bar.close()

    state.wait_for_everyone()
    if not state.is_main_process:
        return 0
    if several:
        results = merge_parts(args.csv, columns, paths)
    skipped = {row["path"]: row["reason"] for row in skips.rows}
    if args.csv is not None:  # the log and the parts, less the files read since: this run's skips
        gathered, done = read_skipped(args.csv), results.done
        skipped = {p: gathered[p] for p in paths if p in gathered and p not in done}
        write_skipped(args.csv, skipped)
    if any(label is not None for label in labels) and results.rows:
        report_accuracy(results.rows, classes)
    report_skipped(skipped, len(paths), log)
    if len(skipped) == len(paths):
        raise ValueError(f"no readable image among the {len(paths)} file(s) given; nothing was classified.")
    return 0


def result_row(path: str, label: str | None, out: dict, classes: Sequence[str]) -> dict:
    """The CSV row of one image's outcome (:func:`classify_images`)."""
    row = {"path": path, "label": label or "", "prediction": out["prediction"], "trials": int(out["trials"].sum())}
    row |= {f"error[{c}]": f"{e:.9g}" for c, e in zip(classes, out["errors"], strict=True)}
    return row | {f"p[{c}]": f"{p:.6g}" for c, p in zip(classes, out["probabilities"], strict=True)}


def announce_resume(csv: Path | None, total: int, todo: Sequence[tuple[str, Any]]) -> None:
    """How much of the work an earlier run with this --csv did, and which unreadable files are tried again."""
    if csv is None:
        return
    if len(todo) < total:
        print(f"resuming: {total - len(todo)} of {total} images are already in {csv}")
    earlier = read_skipped(csv)
    retried = sum(path in earlier for path, _ in todo)
    if retried:
        print(f"trying again {retried} file(s) that could not be read before (listed in {skipped_path(csv)})")


def report_skipped(skipped: dict[str, str], total: int, log: Path | None, shown: int = 20) -> None:
    """The files that were skipped and why (the first ``shown`` of them), on stderr."""
    if not skipped:
        return
    where = "" if log is None else f" (listed in {log})"
    print(f"skipped {len(skipped)} of {total} files that are not readable images{where}:", file=sys.stderr)
    for path, reason in list(skipped.items())[:shown]:
        print(f"  {path}: {reason}", file=sys.stderr)
    if len(skipped) > shown:
        print(f"  ... and {len(skipped) - shown} more", file=sys.stderr)


def report_accuracy(rows: list[dict], classes: list[str]) -> None:
    """Accuracy over the labelled rows, overall and per class."""
    labelled = [row for row in rows if row["label"]]
    correct = np.array([row["prediction"] == row["label"] for row in labelled])
    print(f"accuracy: {correct.mean():.4f} ({correct.sum()} of {len(correct)} images)")
    for c in classes:
        mine = [row["prediction"] == c for row in labelled if row["label"] == c]
        if mine:
            print(f"  {c}: {np.mean(mine):.4f} of {len(mine)}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    raise SystemExit(main())
