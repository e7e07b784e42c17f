"""Checkpoint files: plain tensors and Python values, saved atomically, loaded without pickle code.

A checkpoint is a dict ``{"format": FORMAT, "kind": ..., "version": ..., ...}`` written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, which refuses anything but
tensors and plain containers: loading a checkpoint never runs code from the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from toyclf.utils.files import atomic_write

FORMAT = "toyclf-checkpoint"
VERSION = 1


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike, *, kind: str) -> Path:
    """Write ``payload`` (tensors, str, int, float, bool, None, lists, dicts) to ``path`` atomically."""
    document = {"format": FORMAT, "version": VERSION, "kind": kind, **payload}
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
