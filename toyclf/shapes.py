"""python -m toyclf.shapes: train a tiny Stable Diffusion and a tiny CLIP on the world of shapes.

Trains, from scratch on captioned scenes of coloured circles, squares and triangles (the
held-out colour-shape pairs never shown), Stable Diffusion's architecture at toy size (a KL
autoencoder first, then the cross-attention UNet with its CLIP text encoder) and, for
comparison, a CLIP of the same size on the same scenes and as many steps; writes both with
save_pretrained, a training record, and a panel of generated samples per prompt.

The pipeline loads as a hub Stable Diffusion does, ``load_denoiser(OUT / "stable_diffusion",
prompts=[...])``, and ``python -m toyclf.zeroshot --model OUT/stable_diffusion`` classifies by
prompt with it. The defaults take about half an hour on 2 CPU cores; ``--tiny`` is a smoke run of
seconds. The shipped model (``toyclf.pretrained.shapes.SHAPES_MODEL``) was made by
``toyclf.pretrained.shapes.SHAPES_COMMAND``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from toyclf.cli import command, command_parser, positive_int, seed_int
from toyclf.lecture.plots.maps import save_figure
from toyclf.lecture.plots.shapes import plot_prompt_samples
from toyclf.pretrained.shapes import CLIP_FOLDER, PIPELINE_FOLDER, RECORD_FILE, load_shapes_pipeline
from toyclf.pretrained.shapes_model import shapes_pipeline
from toyclf.pretrained.shapes_training import (
    library_versions,
    sample_images,
    scene_pool,
    train_autoencoder,
    train_denoiser,
)
from toyclf.pretrained.tiny_clip import tiny_clip, train_clip
from toyclf.scenes import HELD_OUT_COMBINATIONS, attribute_prompts
from toyclf.utils.files import atomic_folder, check_replaceable, ensure_writable_dir

TINY = dict(scenes=128, autoencoder_steps=3, steps=3, clip_steps=3, sample_steps=3)  # --tiny: seconds


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("toyclf.shapes", __doc__)
    parser.add_argument("--out", type=Path, default=Path("shapes_model"), help="folder for the two models")
    parser.add_argument("--figures", type=Path, default=Path("figures"), help="folder for the sample grid")
    parser.add_argument("--scenes", type=positive_int, default=20_000, help="training scenes drawn once")
    parser.add_argument("--autoencoder-steps", type=positive_int, default=800, help="autoencoder steps")
    parser.add_argument("--steps", type=positive_int, default=5_000, help="UNet and text encoder steps")
    parser.add_argument("--clip-steps", type=positive_int, default=None, help="CLIP steps (default: --steps)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="scenes per step, all three")
    parser.add_argument("--sample-steps", type=positive_int, default=50, help="sampler steps of the grid")
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--tiny", action="store_true", help=f"a smoke run of seconds: {TINY}")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--samples-only", action="store_true", help="only redraw the sample grid of the model in --out")
    return parser


def is_shapes_output(folder: Path) -> bool:
    """Whether ``folder`` is what an earlier run wrote (its record and pipeline are there)."""
    return (folder / RECORD_FILE).is_file() and (folder / PIPELINE_FOLDER / "model_index.json").is_file()


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.samples_only:
        return redraw_samples(args)
    if args.tiny:  # smaller defaults; flags given explicitly still win
        parser.set_defaults(**TINY)
        args = parser.parse_args(argv)
    settings = dict(vars(args), clip_steps=args.clip_steps or args.steps)
    try:
        check_replaceable(args.out, is_shapes_output, "an earlier python -m toyclf.shapes output")
        for folder in (args.out.resolve().parent, args.figures):
            ensure_writable_dir(folder)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    pipeline, clip, tokenizer, record = train_models(settings, progress=not args.quiet)
    record["command"] = "python -m toyclf.shapes " + " ".join(sys.argv[1:] if argv is None else argv)

    def write(folder: Path) -> None:
        pipeline.save_pretrained(folder / PIPELINE_FOLDER)
        clip.save_pretrained(folder / CLIP_FOLDER)
        tokenizer.save_pretrained(folder / CLIP_FOLDER)
        (folder / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")

    atomic_folder(args.out, write)
    figure = draw_samples(pipeline, args.figures, steps=settings["sample_steps"], seed=args.seed)
    seconds = record["seconds"]
    print(f"trained in {sum(seconds.values()):.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())})")
    print(f"final losses: {record['final_loss']}")
    print(f"models: {args.out / PIPELINE_FOLDER}, {args.out / CLIP_FOLDER}\nsamples: {figure}")
    return 0


def train_models(settings: dict, *, progress: bool) -> tuple[Any, Any, Any, dict]:
    """The autoencoder, then the UNet with the text encoder, then the CLIP, on one pool of scenes:
    (pipeline, CLIP, its tokenizer, the record of the run: settings, seconds, final losses)."""
    seed, batch = settings["seed"], settings["batch_size"]
    torch.manual_seed(seed)
    images, scenes = scene_pool(settings["scenes"], random_state=seed)
    pipeline = shapes_pipeline(seed=seed)
    clip, tokenizer = tiny_clip(seed=seed)
    steps = {"autoencoder": settings["autoencoder_steps"], "unet": settings["steps"], "clip": settings["clip_steps"]}
    runs = {
        "autoencoder": lambda n: train_autoencoder(pipeline.vae, images, steps=n, batch_size=batch, seed=seed,
                                                   progress=progress),
        "unet": lambda n: train_denoiser(pipeline, images, scenes, steps=n, batch_size=batch, seed=seed,
                                         progress=progress),
        "clip": lambda n: train_clip(clip, tokenizer, images, scenes, steps=n, batch_size=batch, seed=seed,
                                     progress=progress),
    }  # fmt: skip
    seconds, losses = {}, {}
    for name, run in runs.items():
        start = time.perf_counter()
        losses[name] = run(steps[name])
        seconds[name] = round(time.perf_counter() - start, 1)
    record = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
        "seconds": seconds,
        "final_loss": {k: round(sum(v[-100:]) / len(v[-100:]), 4) for k, v in losses.items()},
        "versions": library_versions(),
    }
    return pipeline, clip, tokenizer, record


def draw_samples(pipeline: Any, figures: Path, *, steps: int, seed: int) -> Path:
    """figures/shapes_samples.png: 8 images generated for every colour-and-shape prompt, the
    held-out pairs marked; 1280 x 720."""
    prompts = attribute_prompts("shape_and_colour")
    samples = sample_images(pipeline, prompts, per_prompt=8, steps=steps, seed=seed)
    held_out = {f"a {colour} {shape}" for colour, shape in HELD_OUT_COMBINATIONS}
    title = "Generated by the tiny Stable Diffusion, a panel a prompt"
    figure = plot_prompt_samples(samples, prompts, columns=3, marked=held_out, title=title)
    return save_figure(figure, figures / "shapes_samples.png", dpi=100)  # 1280 x 720, a slide


def redraw_samples(args: argparse.Namespace) -> int:
    """--samples-only: the sample grid of the pipeline already in --out, no training."""
    pipeline = load_shapes_pipeline(args.out)
    ensure_writable_dir(args.figures)
    print(f"samples: {draw_samples(pipeline, args.figures, steps=args.sample_steps, seed=args.seed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
