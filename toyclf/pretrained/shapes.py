"""The tiny Stable Diffusion and tiny CLIP shipped with toyclf, trained on the world of shapes.

``python -m toyclf.shapes`` made them (:data:`SHAPES_COMMAND`, about half an hour on 2 CPU
cores); they sit in ``toyclf/weights/shapes/``, a few MB, so the zero-shot classifier by prompt
runs with weights that mean something and nothing downloaded:

    denoiser = load_shapes_denoiser(["a red circle", "a blue square"])   # the same load_denoiser
    clip, tokenizer = load_shapes_clip()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PIPELINE_FOLDER = "stable_diffusion"  # the StableDiffusionPipeline, saved with save_pretrained
CLIP_FOLDER = "clip"  # the CLIPModel and its tokenizer
RECORD_FILE = "training.json"  # the command, settings, seconds and losses of the run
SHAPES_MODEL = Path(__file__).resolve().parents[1] / "weights" / "shapes"
SHAPES_COMMAND = "python -m toyclf.shapes --out toyclf/weights/shapes --figures figures"


def _check_folder(folder: Path, what: str) -> Path:
    if not folder.is_dir():
        raise ValueError(
            f"no {what} at {str(folder)!r}: the folder is missing. Make one with `{SHAPES_COMMAND}` "
            f"(or pass the folder a `python -m toyclf.shapes --out` run wrote)."
        )
    return folder


def load_shapes_denoiser(prompts: Sequence[str], path: str | os.PathLike = SHAPES_MODEL, **options: Any):
    """The tiny Stable Diffusion as a classifier's denoiser, one class per prompt: exactly
    :func:`toyclf.pretrained.load_denoiser` on ``path / "stable_diffusion"`` (``options`` go to it)."""
    from toyclf.pretrained.loading import load_denoiser

    if isinstance(prompts, str):
        raise ValueError(f"prompts must be a list of prompts, one per class; got the string {prompts!r}.")
    folder = _check_folder(Path(path) / PIPELINE_FOLDER, "tiny Stable Diffusion")
    return load_denoiser(folder, prompts=list(prompts), **options)


def load_shapes_clip(path: str | os.PathLike = SHAPES_MODEL) -> tuple[Any, Any]:
    """The tiny CLIP trained on the same scenes: (``CLIPModel`` in eval mode, its tokenizer)."""
    from safetensors import SafetensorError
    from transformers import CLIPModel, CLIPTokenizer

    from toyclf.pretrained.loading import quiet_libraries

    folder = _check_folder(Path(path) / CLIP_FOLDER, "tiny CLIP")
    quiet_libraries()
    try:
        model, tokenizer = CLIPModel.from_pretrained(folder), CLIPTokenizer.from_pretrained(folder)
    except (OSError, ValueError, KeyError, SafetensorError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"could not load the tiny CLIP from {str(folder)!r}: {reason}") from None
    return model.eval().requires_grad_(False), tokenizer


def load_shapes_pipeline(path: str | os.PathLike = SHAPES_MODEL) -> Any:
    """The tiny Stable Diffusion as the diffusers ``StableDiffusionPipeline`` it is (to generate
    images from prompts), loaded by :func:`toyclf.pretrained.loading.load_pipeline`."""
    import torch

    from toyclf.pretrained.loading import load_pipeline

    return load_pipeline(_check_folder(Path(path) / PIPELINE_FOLDER, "tiny Stable Diffusion"), torch.float32)
