"""Images in, pixel tensors out: what the pretrained backends encode.

Every image (a file path, a PIL image, or a [3, H, W] tensor in [0, 1]) is converted to RGB (as
torchvision's image-folder loader does), brought to ``size`` x ``size`` exactly as the paper's
code does it, then scaled to [-1, 1] (torchvision's ``ToTensor`` and ``Normalize([0.5], [0.5])``):

- ``"bicubic_center_crop"`` (its Stable Diffusion script, ``eval_prob_adaptive.py``): torchvision's
  ``Resize(size, interpolation=BICUBIC)``, the short side to ``size`` and the long one to
  int(size * long / short), then ``CenterCrop(size)``, whose offsets are round((side - size) / 2)
  (Python's round: halves to even). :func:`resize_center_crop`.
- ``"adm_center_crop"`` (its DiT script, ``eval_prob_dit.py``, from ADM): halve the image with a
  box filter while its short side is at least 2 ``size``, resize bicubic by size / short side
  (each side rounded), crop at floor((side - size) / 2). :func:`adm_center_crop`.

diffusers' ``VaeImageProcessor`` is not used: it resizes with Lanczos and places the crop
otherwise, which moves pixels visibly (benchmarks/README.md, "Other measurements"). A file that cannot be
decoded raises :class:`UnreadableImageError`. :func:`collect_images` finds the files of a command
line: image files, folders of images, or one folder per class, each image once
(:func:`image_key`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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


def resize_center_crop(picture: Any, size: int) -> Any:
    """torchvision's ``Resize(size, BICUBIC)`` then ``CenterCrop(size)`` of a PIL image: the paper's
    Stable Diffusion preprocessing. [H, W] -> [size, size]"""
    from PIL import Image

    width, height = picture.size
    short, long = min(width, height), max(width, height)
    resized = (size, int(size * long / short))  # (short, long) sides
    new_width, new_height = resized if width <= height else resized[::-1]
    if (new_width, new_height) != (width, height):
        picture = picture.resize((new_width, new_height), Image.Resampling.BICUBIC)
    top, left = round((new_height - size) / 2), round((new_width - size) / 2)  # Python rounds halves to even
    return picture.crop((left, top, left + size, top + size))


def adm_center_crop(picture: Any, size: int) -> Any:
    """ADM's centre crop of a PIL image (box-filter halvings, one bicubic resize, a floored crop):
    the paper's DiT preprocessing. [H, W] -> [size, size]"""
    from PIL import Image

    while min(picture.size) >= 2 * size:
        picture = picture.resize(tuple(side // 2 for side in picture.size), resample=Image.Resampling.BOX)
    scale = size / min(picture.size)
    picture = picture.resize(tuple(round(side * scale) for side in picture.size), resample=Image.Resampling.BICUBIC)
    top, left = (picture.size[1] - size) // 2, (picture.size[0] - size) // 2
    return picture.crop((left, top, left + size, top + size))


PREPROCESSINGS = {"bicubic_center_crop": resize_center_crop, "adm_center_crop": adm_center_crop}


def preprocess_images(images: Sequence[Any], size: int, *, method: str = "bicubic_center_crop") -> Tensor:
    """Images -> [B, 3, size, size] float32 in [-1, 1], by one of :data:`PREPROCESSINGS` (the
    paper's for Stable Diffusion by default; a denoiser's :meth:`preprocess` picks its own)."""
    if method not in PREPROCESSINGS:
        raise ValueError(f"method must be one of {', '.join(map(repr, PREPROCESSINGS))}; got {method!r}.")
    pictures = [PREPROCESSINGS[method](load_image(image), size) for image in images]
    if not pictures:
        raise ValueError("no images were given.")
    pixels = torch.stack([torch.from_numpy(np.array(picture)).permute(2, 0, 1) for picture in pictures])
    return pixels.float().div(255).sub(0.5).div(0.5)  # [B, 3, size, size]: ToTensor, Normalize([0.5], [0.5])


def image_key(path: str | os.PathLike) -> str:
    """What identifies an image file however its path is spelled (relative or absolute, ``./``,
    ``..``, a doubled or trailing slash, a symlink): its real path."""
    return os.path.realpath(path)


def could_be_image_path(name: str) -> str | None:
    """Why the text ``name`` (a class name, a prompt) could be meant as an image path: it has an image
    suffix, ends with a slash, or exists on disk (None if none of these)."""
    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
        return "has an image file's suffix"
    if name.endswith(("/", os.sep)):
        return "ends with a slash"
    try:
        exists = Path(name).exists()
    except OSError:  # not a path the system takes (too long a name): not one on disk
        return None
    return ("is an existing " + ("folder" if Path(name).is_dir() else "file")) if exists else None


def find_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name. Links with an image suffix that
    lead nowhere (dangling, or a loop) are included, so that they are reported as unreadable,
    not silently left out."""
    return sorted(
        p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and (p.is_file() or p.is_symlink())
    )


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


@dataclass
class ImageSet:
    """The images of a command line: ``paths`` (as given), their class ``labels`` (None where
    unlabelled), the class names (None when not known), and how many paths were left out as
    ``repeated``: another spelling of an image already in the set."""

    paths: list[str]
    labels: list[str | None]
    classes: list[str] | None
    repeated: int = 0


def collect_images(inputs: Sequence[str | os.PathLike], classes: Sequence[str] | None = None) -> ImageSet:
    """Image files, folders of images, or one folder with a subfolder per class -> the
    :class:`ImageSet`, each image once (by :func:`image_key`, the first time it is named); the
    class names are ``classes``, else the subfolders of a labelled folder."""
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
    seen, unique = set(), []
    for f, label in files:  # the first time each image is named
        key = image_key(f)
        if key not in seen:
            seen.add(key)
            unique.append((f, label))
    return ImageSet(
        [f for f, _ in unique],
        [label for _, label in unique],
        None if classes is None else list(classes),
        repeated=len(files) - len(unique),
    )
