"""The zero-shot tests of the world of shapes: scenes of the held-out colour-shape pairs,
drawings as a paint program makes them, and Winoground's swapped-caption pairs.

* :func:`held_out_scenes`: one-object scenes of only the pairs a training split never shows
  (:data:`toyclf.scenes.HELD_OUT_COMBINATIONS`), for compositional generalisation.
* :func:`make_drawings`: what a user draws first, one disc, square or triangle in a pure
  paint-program colour (#FF0000, ...) on a white canvas of any size and shape.
* :func:`winoground_pairs` and :func:`winoground_scores`: attribute binding as Winoground
  measures it (Thrush et al., 2022; the paper's Table 3). Two scenes I0, I1 and two captions
  C0, C1 with the same words in another order ("a red circle left of a blue square" / "a blue
  circle left of a red square"); C0 is true of I0 and C1 of I1. With s(I, C) a model's score
  (higher: a better match), per pair
      text  = s(I0, C0) > s(I0, C1) and s(I1, C1) > s(I1, C0)      (the right caption for each image)
      image = s(I0, C0) > s(I1, C0) and s(I1, C1) > s(I0, C1)      (the right image for each caption)
      group = text and image
  Chance is 1/4, 1/4 and 1/6.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
from sklearn.utils import check_random_state

from toyclf.scenes import COLOURS, SHAPES, Scene, make_scenes, render_scenes, sample_scenes, signed_distance
from toyclf.utils.validation import is_int

PAINT_COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 0.8, 0.0), "blue": (0.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0)}
"""A paint program's colours (#FF0000, #00CC00, #0000FF, #FFFF00), not the scenes' own shades."""
SWAPS = ("colour", "shape", "relation")  # what C1 swaps of C0 in a Winoground pair
WINOGROUND_CHANCE = {"text": 1 / 4, "image": 1 / 4, "group": 1 / 6}


def held_out_scenes(
    n: int, *, held_out: Iterable[tuple[str, str]], size: int = 32, random_state=None
) -> tuple[np.ndarray, list[Scene]]:
    """``n`` one-object scenes of the ``held_out`` (colour, shape) pairs only: (images, scenes)."""
    held_out = {tuple(pair) for pair in held_out}
    others = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in held_out]
    return make_scenes(n, size=size, exclude=others, random_state=random_state)


def make_drawings(n: int, *, random_state=None) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """``n`` paint-program drawings: (images as a list of [H, W, 3] float32 arrays in [0, 1] of
    random sizes from 48 to 400 pixels a side, their (colour, shape) pairs). One shape filling a
    third to two thirds of the shorter side, near the centre, hard-edged, on white."""
    if not is_int(n, 0):
        raise ValueError(f"n must be an int >= 0; got {n!r}.")
    rng = check_random_state(random_state)
    images, labels = [], []
    for _ in range(int(n)):
        colour, shape = list(PAINT_COLOURS)[rng.randint(len(PAINT_COLOURS))], SHAPES[rng.randint(len(SHAPES))]
        height, width = rng.randint(48, 401, size=2)
        side = min(height, width)
        radius = rng.uniform(1 / 6, 1 / 3) * side  # in pixels
        cx = width / 2 + rng.uniform(-0.1, 0.1) * side
        cy = height / 2 + rng.uniform(-0.1, 0.1) * side
        yy, xx = np.mgrid[0:height, 0:width] + 0.5
        inside = signed_distance(shape, (xx - cx) / side, (yy - cy) / side, radius / side) <= 0  # [H, W]
        image = np.ones((height, width, 3), dtype=np.float32)
        image[inside] = PAINT_COLOURS[colour]
        images.append(image)
        labels.append((colour, shape))
    return images, labels


def _swap(scene: Scene, swap: str) -> Scene:
    """The scene that the swapped caption is true of: the two objects exchange their colours,
    their shapes, or their places (``swap``)."""
    left, right = scene.objects
    if swap == "colour":
        objects = (dataclasses.replace(left, colour=right.colour), dataclasses.replace(right, colour=left.colour))
    elif swap == "shape":
        objects = (dataclasses.replace(left, shape=right.shape), dataclasses.replace(right, shape=left.shape))
    else:  # relation: the scene mirrored left to right, so the right object is now on the left
        objects = (dataclasses.replace(right, x=1 - right.x), dataclasses.replace(left, x=1 - left.x))
    return Scene(objects, scene.background)


def winoground_pairs(
    n: int, swap: str, *, size: int = 32, exclude: Iterable[tuple[str, str]] = (), random_state=None
) -> dict:
    """``n`` Winoground pairs whose captions swap ``swap`` ("colour", "shape" or "relation"):
    {"images": [n, 2, S, S, 3] (I0, I1), "captions": n x (C0, C1), "scenes": n x (scene of I0,
    scene of I1)}. Only pairs whose two objects differ in what is swapped (else C0 = C1), and
    none whose scenes, before or after the swap, hold an ``exclude`` pair; I0 and I1 share their
    background."""
    if swap not in SWAPS:
        raise ValueError(f"swap must be one of {SWAPS}; got {swap!r}.")
    if not is_int(n, 1):
        raise ValueError(f"n must be an int >= 1; got {n!r}.")
    excluded = {tuple(pair) for pair in exclude}
    rng = check_random_state(random_state)
    pairs: list[tuple[Scene, Scene]] = []
    for _ in range(100):  # rounds of 2n candidates: far more than any split that leaves pairs to swap needs
        for scene in sample_scenes(2 * int(n), n_objects=2, exclude=excluded, random_state=rng):
            swapped = _swap(scene, swap)
            if scene.caption != swapped.caption and not excluded & _pairs_of(swapped):
                pairs.append((scene, swapped))
        if len(pairs) >= n:
            break
    else:
        raise ValueError(f"no two-object scene outside exclude={sorted(excluded)} can have its {swap}s swapped.")
    pairs = pairs[: int(n)]
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(pairs))
    images = np.empty((len(pairs), 2, size, size, 3), dtype=np.float32)
    for i, (pair, seed) in enumerate(zip(pairs, seeds, strict=True)):
        for j, pictured in enumerate(pair):
            images[i, j] = render_scenes([pictured], size=size, random_state=seed)[0]  # the same background
    return {"images": images, "captions": [(a.caption, b.caption) for a, b in pairs], "scenes": pairs}


def _pairs_of(scene: Scene) -> set[tuple[str, str]]:
    return {(o.colour, o.shape) for o in scene.objects}


def winoground_scores(scores: np.ndarray) -> dict[str, float]:
    """Winoground's text, image and group scores from s [n, 2 images, 2 captions] (higher: a
    better match; s[i, j, k] = s(I_j, C_k) of pair i): the share of pairs that pass each."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 3 or s.shape[1:] != (2, 2):
        raise ValueError(f"scores must have shape [n, 2, 2] (pair, image, caption); got {s.shape}.")
    text = (s[:, 0, 0] > s[:, 0, 1]) & (s[:, 1, 1] > s[:, 1, 0])
    image = (s[:, 0, 0] > s[:, 1, 0]) & (s[:, 1, 1] > s[:, 0, 1])
    return {"text": float(text.mean()), "image": float(image.mean()), "group": float((text & image).mean())}
