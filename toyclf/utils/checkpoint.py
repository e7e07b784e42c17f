"""Checkpoint files: plain tensors and Python values, saved atomically, loaded without pickle code.

A checkpoint is a dict ``{"format": FORMAT, "kind": ..., "version": ..., ...}`` written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, which refuses anything but
tensors and plain containers: loading a checkpoint never runs code from the file.

What goes in is made plain first (:func:`plain`, the one place that does it): numpy scalars and
arrays become Python numbers and lists, and anything that is not a tensor, a number, a string,
None or a container of those is refused *before* a file is written, naming where it sits. A
numpy scalar saved as it is would be pickled as a reference to its numpy class, which
``weights_only`` loading refuses: the file would be written and never load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from toyclf.utils.files import atomic_write

FORMAT = "toyclf-checkpoint"
VERSION = 1


PLAIN_TYPES = (str, int, float, bool, type(None))  # exactly these classes: a subclass would be pickled by name


def plain(value: Any, where: str = "value") -> Any:
    """``value`` as tensors and plain Python values only: numpy scalars -> int / float / bool,
    numpy arrays -> nested lists, a ``Path`` or ``torch.device`` -> str, inside lists, tuples
    and dicts (str keys) too. Raises ``TypeError`` naming ``where`` for anything else."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if type(value) in PLAIN_TYPES:
        return value
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (os.PathLike, torch.device)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return (tuple if isinstance(value, tuple) else list)(plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where} has keys that are not str: {list(value)[:5]}; a checkpoint holds str keys only.")
        return {k: plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(
        f"{where} is a {type(value).__name__} ({value!r}); a checkpoint holds only tensors, numbers, strings, None "
        "and lists, tuples or dicts of them."
    )


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike, *, kind: str) -> Path:
    """Write ``payload`` (tensors and plain values, :func:`plain`) to ``path`` atomically. Anything
    that could not be loaded back raises ``TypeError`` before the file is touched."""
    document = plain({"format": FORMAT, "version": VERSION, "kind": kind, **payload}, "the checkpoint")
    return atomic_write(path, lambda tmp: torch.save(document, tmp))


def load_checkpoint(path: str | os.PathLike, *, kind: str) -> dict[str, Any]:
    """Read a checkpoint of ``kind`` written by :func:`save_checkpoint`, on the CPU.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a truncated, corrupt
    or foreign one (anything that is not a toyclf checkpoint of this kind and version).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint file at {str(path)!r}.")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways (zip, pickle, KeyError...): all mean "not ours"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"{str(path)!r} is not a readable toyclf checkpoint (truncated, corrupt, or not a torch file): {reason}"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is a torch file, but not a toyclf checkpoint.")
    if document.get("kind") != kind:
        raise ValueError(f"{str(path)!r} holds a {document.get('kind')!r} checkpoint; expected {kind!r}.")
    if document.get("version") != VERSION:
        raise ValueError(
            f"{str(path)!r} is a checkpoint of format version {document.get('version')!r}; "
            f"this toyclf reads version {VERSION}."
        )
    return document
