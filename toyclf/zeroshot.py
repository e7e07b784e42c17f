"""python -m toyclf.zeroshot: classify images with a pretrained diffusion model, zero-shot.

Loads a Stable Diffusion 1/2, SDXL or Stable Diffusion 3 pipeline (classes are text prompts) or a
DiT pipeline (classes are its ImageNet labels) from a hub id or a local folder and runs the same
Monte Carlo estimator as the toy model on every image: one line per image with the prediction and the per-class errors and
probabilities. A folder with one subfolder per class is a labelled set: accuracy is reported.
Images come before --classes, or after -- (IMAGES --classes A B, or --classes A B -- IMAGES).
Results can go to a CSV as they are computed; running the same command again resumes.
A file that is not a readable image is skipped with a warning and listed at the end (and beside
the CSV), unless --strict asks to stop there.
With several processes (``accelerate launch -m toyclf.zeroshot ...`` or ``torchrun -m ...``)
the images are split between them and their results gathered into the one CSV.

--paper runs the paper's settings (:mod:`toyclf.paper`): every class on the first 50 trials, the
best 5 on trials up to 500, then 1 (its Algorithm 2 with CIFAR-10's stages), uniform weighting,
the l2 loss, independent Gaussian noise and evenly spaced timesteps; a flag given with it still
wins (``--paper --to-keep 2 1``). The command's own defaults differ only in the elimination:
every class on 100 trials, none eliminated, because the paper's stages need at least 500 trials
and, for the few classes a command line names, more evaluations (10 classes: 2,750 an image
against 1,000). Its loss, weighting, noise and timesteps are the command's defaults too.

The toy classifier's defaults differ (ELBO weights over a band of noise levels, scrambled Sobol
noise, early stopping; :mod:`toyclf.paper`): they were chosen, and measured, on low-dimensional
data. On images the paper found uniform weights best, Sobol noise does not reach SDXL's 65,536
latent dimensions (torch's Sobol engine stops at 21,201), and the others are not yet measured on
images, so the command keeps the paper's estimator.

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
import itertools
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch

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
from toyclf.paper import PAPER_ALGORITHM_2
from toyclf.plan import NOISE_SAMPLINGS, make_plan
from toyclf.pretrained.image_classification import classify_images, images_per_group
from toyclf.pretrained.image_results import ResultTable, interruption_note
from toyclf.pretrained.images import could_be_image_path, image_key
from toyclf.pretrained.loading import DEFAULT_MODEL, DTYPES, load_denoiser
from toyclf.pretrained.processes import RunProcesses
from toyclf.pretrained.zero_shot_run import (
    image_set_with_classes,
    images_to_do,
    report_run,
    score_images,
    settle_skip_log,
)
from toyclf.pruning import StagedElimination, resolve_pruning
from toyclf.utils.results_file import skipped_path


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
        "--eval-batch-size",
        type=positive_int,
        default=None,
        help="denoiser evaluations per forward pass (default: what fills half the GPU's free memory; 32 on a CPU)",
    )
    add_old_name(parser, "--batch-size", "eval_batch_size", type=positive_int)
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the network (pays off on long runs: minutes to compile)"
    )
    parser.add_argument(
        "--paper",
        action="store_true",
        help="the paper's settings: every class on the first 50 trials, the best 5 on trials up to 500, then 1 "
        "(its Algorithm 2, CIFAR-10's stages), uniform weighting, l2, independent Gaussian noise, evenly spaced "
        "timesteps; they set the defaults of --pruning --stage-trials --to-keep --weighting --loss --noise-sampling, "
        "and a flag given wins. Without it: every class on 100 trials, no elimination (the paper's "
        "stages need >= 500 trials: 10 classes cost 2,750 evaluations an image instead of 1,000)",
    )
    parser.add_argument(
        "--trials",
        type=positive_int,
        default=None,
        help="(t, eps) trials per class (default 100, or the last --stage-trials)",
    )
    parser.add_argument("--pruning", choices=PRUNING_CHOICES, default="none", help="how trials are spent")
    parser.add_argument(
        "--stage-trials",
        type=positive_int,
        nargs="+",
        default=list(StagedElimination().trials),  # the paper's CIFAR-10 stages
        help="staged: cumulative trials at the end of each stage",
    )
    add_old_name(parser, "--n-samples", "stage_trials", type=positive_int, nargs="+")  # the paper's code's name
    parser.add_argument(
        "--to-keep",
        type=positive_int,
        nargs="+",
        default=list(StagedElimination().to_keep),
        help="staged: classes kept after each stage",
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


def add_old_name(parser: argparse.ArgumentParser, flag: str, dest: str, **kwargs: Any) -> None:
    """Accept ``flag``, a flag's name before it was renamed, for command lines typed with it; it
    sets ``dest`` as the new flag does and is left out of --help, so one name means one thing."""
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def paper_defaults() -> dict[str, Any]:
    """The defaults --paper gives the flags (their dests -> values), read from :mod:`toyclf.paper`:
    its Algorithm 2 (``PAPER_ALGORITHM_2``), with the stages of ``staged`` elimination that the
    paper runs on CIFAR-10 (:class:`~toyclf.pruning.StagedElimination`'s own)."""
    stages = resolve_pruning(PAPER_ALGORITHM_2["pruning"])  # StagedElimination(): trials (50, 500), to_keep (5, 1)
    flags = {
        "pruning": PAPER_ALGORITHM_2["pruning"],
        "stage_trials": list(stages.trials),
        "to_keep": list(stages.to_keep),
    }
    return flags | {name: PAPER_ALGORITHM_2[name] for name in ("weighting", "loss", "noise_sampling")}


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """The flags of ``argv``; with --paper, the flags it does not give take :func:`paper_defaults`
    (a flag given wins, before or after --paper)."""
    args = parser.parse_args(argv)
    if args.paper:
        parser.set_defaults(**paper_defaults())
        args = parser.parse_args(argv)
    return args


def choose_pruning(args: argparse.Namespace) -> str | StagedElimination | None:
    """The ``pruning`` of --pruning (:func:`toyclf.cli.pruning_of`); ``staged`` with the stages of
    --stage-trials and --to-keep (the paper's Algorithm 2)."""
    if args.pruning == "staged":
        return StagedElimination(tuple(args.stage_trials), tuple(args.to_keep))
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


def check_stages(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str]) -> None:
    """The stages of --pruning staged, checked in the flags' own words before anything loads (exit
    2): one --to-keep per --stage-trials, stages that end later and keep no more classes than the
    one before, a plan (--trials) that ends where the last stage does, and no stage flag typed for
    a run that has no stages (it would be ignored)."""
    stage_flags = ("--stage-trials", "--n-samples", "--to-keep")
    typed = sorted({flag for arg in argv for flag in stage_flags if arg == flag or arg.startswith(flag + "=")})
    if args.pruning != "staged":
        if typed:
            verb = "sets" if len(typed) == 1 else "set"
            parser.error(
                f"{' and '.join(typed)} {verb} the stages of --pruning staged; this run has --pruning {args.pruning}"
            )
        return
    stages, keep = " ".join(map(str, args.stage_trials)), " ".join(map(str, args.to_keep))
    if len(args.stage_trials) != len(args.to_keep):
        parser.error(
            f"--stage-trials and --to-keep need one value per stage; got {len(args.stage_trials)} ({stages}) "
            f"and {len(args.to_keep)} ({keep})"
        )
    if any(b <= a for a, b in itertools.pairwise(args.stage_trials)):
        parser.error(f"--stage-trials {stages}: each stage must end later than the one before (they count trials)")
    if any(b > a for a, b in itertools.pairwise(args.to_keep)):
        parser.error(f"--to-keep {keep}: a stage cannot keep more classes than the one before")
    if args.trials is not None and args.trials != args.stage_trials[-1]:
        parser.error(
            f"--trials {args.trials}: the stages end at {args.stage_trials[-1]} trials (--stage-trials {stages}); "
            f"give --trials {args.stage_trials[-1]}, or leave it out"
        )


@command
def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parse_arguments(parser, argv)
    check_names(parser, args, argv)
    check_stages(parser, args, argv)
    return run(args)


def run(args: argparse.Namespace) -> int:
    """The command after its arguments are checked: the images found, the CSV read back (checked,
    repaired and locked before the model loads), the model loaded, the images still to do split
    between the processes and scored into it, their rows gathered and summed up."""
    processes = RunProcesses(args.device)  # one process, or the one of many that accelerate / torchrun started
    if processes.several and args.csv is None:
        raise ValueError("with several processes, give --csv: it is where their results are gathered.")
    found = image_set_with_classes(args.images, args.classes, say_repeats=processes.main)
    n_trials, settings = estimator_settings(args)  # checked now, not once the model has loaded
    table = ResultTable(found.classes, recorded_settings(args, n_trials))
    key_of = {p: image_key(p) for p in found.paths}  # each image's real path, looked up once
    log = None if args.csv is None else skipped_path(args.csv)  # unreadable files: appended as they come

    with processes.open_results(table, args.csv, exit_code=EXIT_ERROR) as results:
        done = processes.images_done(table, results, args.csv)
        todo = images_to_do(found, key_of, done, args.csv, announce=processes.main and not args.quiet)
        processes.wait()  # every process has read the same `done` before any writes
        classify, group_size = zero_shot_classifier(args, found.classes, processes.device, n_trials, settings)
        with processes.share(todo, table, results, args.csv, log) as (mine, writer, skips):
            try:
                score_images(
                    mine,
                    classify,
                    group_size,
                    table,
                    writer,
                    skips,
                    strict=args.strict,
                    quiet=args.quiet,
                    progress=processes.main,
                )
            except KeyboardInterrupt:
                note = interruption_note(args.csv, results, writer, [key_of[p] for p, _ in mine], processes.state)
                raise Interrupted(note) from None
        processes.wait()  # every share is written
        if not processes.main:
            return 0  # the main process gathers the rows and reports
        processes.merge_parts(results, key_of.values())
        skipped = settle_skip_log(args.csv, key_of, results.done, skips)
        report_run(found, key_of, results, skipped, log)
    return 0


def estimator_settings(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """The trials and the estimator's settings of the flags, the pruning rule checked against the trials."""
    n_trials = args.trials or (args.stage_trials[-1] if args.pruning == "staged" else 100)
    settings = dict(pruning=choose_pruning(args), loss=args.loss, weighting=args.weighting)
    resolve_pruning(settings["pruning"]).stage_ends(n_trials)  # e.g. --trials below the last --stage-trials
    return n_trials, settings | dict(temperature=args.temperature, eval_batch_size=args.eval_batch_size)


def recorded_settings(args: argparse.Namespace, n_trials: int) -> dict[str, Any]:
    """The flags that decide a row's numbers, recorded with the CSV: a run with others is refused
    rather than mixed in (the device, dtype and batch size change only float rounding)."""
    model = os.path.realpath(args.model) if os.path.exists(args.model) else str(args.model)
    recorded = {"--model": model, "--trials": n_trials, "--pruning": args.pruning, "--seed": args.seed}
    recorded |= {"--prompts": args.prompts} if args.prompts else {"--template": args.template}
    if args.pruning == "staged":
        recorded |= {"--stage-trials": args.stage_trials, "--to-keep": args.to_keep}
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
        eval_batch_size=args.eval_batch_size,
        compile=args.compile,
    )
    plan = make_plan(denoiser, n_trials, noise_sampling=args.noise_sampling, seed=args.seed)
    group_size = images_per_group(denoiser, plan, settings["pruning"], args.eval_batch_size)  # images scored together
    return partial(classify_images, denoiser, plan=plan, group_size=group_size, **settings), group_size


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    raise SystemExit(main())
