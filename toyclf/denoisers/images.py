"""Images in, pixel tensors out: what the pretrained backends encode.

Every image (a file path, a PIL image, or a [3, H, W] tensor in [0, 1]) is converted to RGB,
resized so that its short side is ``size`` and centre-cropped to ``size`` x ``size``, then scaled
to [-1, 1] (diffusers' ``VaeImageProcessor`` with ``resize_mode="crop"``), as the paper does.
A file that cannot be decoded raises :class:`UnreadableImageError`. :func:`collect_images` finds
the files of a command line: image files, folders of images, or one folder per class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class UnreadableImageError(ValueError):
    """A file that is not an image PIL can decode (not an image, truncated, unreadable, too large):
    ``path`` and ``reason`` (PIL's or the system's message)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"could not read image {self.path!r}: {reason}")


def load_image(image: Any):
    """One image as an RGB ``PIL.Image``; :class:`UnreadableImageError` naming the file when it
    cannot be read."""
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        try:
            with Image.open(image) as opened:
                return opened.convert("RGB")
        except (OSError, SyntaxError, Image.DecompressionBombError) as error:  # UnidentifiedImageError is an OSError
            raise UnreadableImageError(image, str(error)) from None
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, Tensor) and image.ndim == 3 and image.shape[0] == 3:
        if image.is_floating_point() and (image.min() < 0 or image.max() > 1):
            raise ValueError("a float image tensor must hold values in [0, 1], shape [3, H, W].")
        pixels = image if image.dtype == torch.uint8 else (image * 255).round().to(torch.uint8)
        return Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy())
    raise ValueError(
        f"an image must be a file path, a PIL image or a [3, H, W] tensor in [0, 1]; got {type(image).__name__}"
        + (f" of shape {tuple(image.shape)}" if isinstance(image, Tensor) else "")
        + "."
    )


def preprocess_images(images: Sequence[Any], size: int) -> Tensor:
    """Images -> [B, 3, size, size] float32 in [-1, 1]: short side resized to ``size``, centre crop."""
    from diffusers.image_processor import VaeImageProcessor

    pictures = [load_image(image) for image in images]
    if not pictures:
        raise ValueError("no images were given.")
    return VaeImageProcessor().preprocess(pictures, height=size, width=size, resize_mode="crop").float()


def find_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def class_folders(folder: str | os.PathLike) -> dict[str, list[Path]]:
    """A folder laid out as one subfolder per class -> {class name: its images}, sorted by name."""
    folder = Path(folder)
    classes = {p.name: find_images(p) for p in sorted(folder.iterdir()) if p.is_dir()}
    if not classes:
        raise ValueError(f"{str(folder)!r} has no subfolders; a labelled folder has one subfolder of images per class.")
    empty = [name for name, files in classes.items() if not files]
    if empty:
        raise ValueError(f"class folders without images in {str(folder)!r}: {empty}.")
    return classes


def collect_images(
    inputs: Sequence[str | os.PathLike], classes: Sequence[str] | None = None
) -> tuple[list[str], list[str | None], list[str] | None]:
    """Image files, folders of images, or one folder with a subfolder per class -> (image paths,
    their class or None, the class names: ``classes``, else the subfolders of a labelled folder)."""
    paths = [Path(p) for p in inputs]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ValueError(f"no such image file or folder: {', '.join(map(repr, missing))}.")
    if len(paths) == 1 and paths[0].is_dir() and any(p.is_dir() for p in paths[0].iterdir()):
        folders = class_folders(paths[0])
        if classes is None and len(folders) < 2:
            raise ValueError(
                f"{str(paths[0])!r} has one class subfolder, {list(folders)}: a labelled folder needs two or more."
            )
        classes = list(folders) if classes is None else classes
        unknown = sorted(set(folders) - set(classes))
        if unknown:
            raise ValueError(f"subfolders {unknown} of {str(paths[0])!r} are not among the classes {list(classes)}.")
        files = [(str(f), name) for name, found in folders.items() for f in found]
    else:
        files = []
        for p in paths:
            found = find_images(p) if p.is_dir() else [p]
            if not found:
                raise ValueError(f"the folder {str(p)!r} holds no images ({', '.join(('.png', '.jpg', '...'))}).")
            files += [(str(f), None) for f in found]
    return [f for f, _ in files], [label for _, label in files], None if classes is None else list(classes)
