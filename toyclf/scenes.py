"""A world of shapes, with captions: small RGB scenes drawn by code, for a text-to-image model
small enough to train on a laptop and to classify by prompt.

A scene holds one or two objects, each a shape (circle, square, triangle) of a colour, a size
and a position, on a plain or a noisy background. Every scene comes with captions composed from
its attributes: "a red circle", "a small blue square on the left", "a red circle left of a blue
square". Drawing is vectorised over the batch (thousands of 32 x 32 scenes a second on a CPU),
deterministic for a seed, and needs nothing downloaded.

For a compositional zero-shot test some combinations of colour and shape
(:data:`HELD_OUT_COMBINATIONS`) can be kept out of a split entirely: every colour and every
shape still appears in training, but never together in those pairs.

    images, scenes = make_scenes(1000, random_state=0, exclude=HELD_OUT_COMBINATIONS)
    images.shape          # (1000, 32, 32, 3), float32 in [0, 1]
    scenes[0].captions()  # ['a red circle', 'a circle', 'a red shape', 'a large red circle', ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from toyclf.utils.validation import is_int

SHAPES = ("circle", "square", "triangle")
COLOURS = {  # RGB in [0, 1]: saturated, far apart from each other and from the backgrounds
    "red": (0.86, 0.12, 0.12),
    "green": (0.13, 0.66, 0.22),
    "blue": (0.14, 0.32, 0.88),
    "yellow": (0.96, 0.82, 0.10),
}
SIZES = {"small": (0.10, 0.14), "large": (0.18, 0.24)}  # half-widths, as fractions of the image side
BACKGROUNDS = ("plain", "noisy")
VOCABULARY = ("a", "and", "left", "of", "on", "right", "shape", "the", *SHAPES, *COLOURS, *SIZES)
"""Every word a caption can hold (what a text encoder trained on these captions knows)."""
HELD_OUT_COMBINATIONS = frozenset({("green", "triangle"), ("blue", "circle"), ("yellow", "square")})
"""Colour-shape pairs kept out of a training split: one per shape and at most one per colour, so
every attribute is still seen, only these pairings are new."""


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    size: str  # "small" or "large"
    x: float  # centre, as a fraction of the width (0: left edge)
    y: float  # centre, as a fraction of the height (0: top edge)
    radius: float  # half-width, as a fraction of the image side

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def side(self) -> str:
        return "left" if self.x < 0.5 else "right"


@dataclass(frozen=True)
class Scene:
    objects: tuple[SceneObject, ...]  # one or two; with two, the first is on the left
    background: str  # "plain" or "noisy"

    def captions(self) -> list[str]:
        """Every caption that is true of the scene, the plainest first: colour and shape (then, for
        one object, the shape or the colour alone), then with the size, the side, or (two objects)
        the relation between them."""
        if len(self.objects) == 1:
            (o,) = self.objects
            return [
                f"a {o.name}",
                f"a {o.shape}",
                f"a {o.colour} shape",
                f"a {o.size} {o.name}",
                f"a {o.name} on the {o.side}",
                f"a {o.size} {o.name} on the {o.side}",
            ]
        left, right = self.objects
        return [
            f"a {left.name} left of a {right.name}",
            f"a {right.name} right of a {left.name}",
            f"a {left.name} and a {right.name}",
        ]

    @property
    def caption(self) -> str:
        return self.captions()[0]


def _check_exclude(exclude: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    pairs = frozenset(tuple(pair) for pair in exclude)
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in COLOURS or pair[1] not in SHAPES:
            raise ValueError(
                f"exclude must hold (colour, shape) pairs with a colour of {sorted(COLOURS)} and a shape of "
                f"{list(SHAPES)}; got {pair!r}."
            )
    if len(pairs) == len(COLOURS) * len(SHAPES):
        raise ValueError("exclude leaves no colour-shape pair to draw.")
    return pairs


def _draw_objects(rng: np.random.RandomState, n: int, allowed: list[tuple[str, str]], lo: float, hi: float):
    """n objects of allowed (colour, shape) pairs, centred in x in [lo, hi] of the width."""
    objects = []
    for k in rng.randint(len(allowed), size=n):
        colour, shape = allowed[k]
        size = ("small", "large")[rng.randint(2)]
        radius = rng.uniform(*SIZES[size])
        x = rng.uniform(lo + radius, hi - radius) if hi - lo > 2 * radius else (lo + hi) / 2
        y = rng.uniform(radius, 1 - radius)
        objects.append(SceneObject(shape, colour, size, float(x), float(y), float(radius)))
    return objects


def sample_scenes(
    n: int, *, n_objects: int = 1, exclude: Iterable[tuple[str, str]] = (), random_state=None
) -> list[Scene]:
    """The attributes of ``n`` scenes (nothing drawn yet): ``n_objects`` (1 or 2) objects of colour
    and shape pairs not in ``exclude``, sizes, positions and a background each. With two objects
    the first lies in the left half and the second in the right half, so "left of" is always true
    of the first."""
    if not is_int(n, 0):
        raise ValueError(f"n must be an int >= 0; got {n!r}.")
    if n_objects not in (1, 2) or isinstance(n_objects, bool):
        raise ValueError(f"n_objects must be 1 or 2; got {n_objects!r}.")
    held_out = _check_exclude(exclude)
    allowed = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in held_out]
    rng = check_random_state(random_state)
    if n_objects == 1:
        columns = [_draw_objects(rng, int(n), allowed, 0.0, 1.0)]
    else:
        columns = [_draw_objects(rng, int(n), allowed, 0.0, 0.5), _draw_objects(rng, int(n), allowed, 0.5, 1.0)]
    backgrounds = [BACKGROUNDS[b] for b in rng.randint(len(BACKGROUNDS), size=int(n))]
    return [Scene(tuple(column[i] for column in columns), backgrounds[i]) for i in range(int(n))]


def signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Distance outside (> 0) or inside (< 0) the shape's edge, in image-side units. [S, S]"""
    if shape == "circle":
        return np.hypot(dx, dy) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - r
    # an upright isosceles triangle in the square of half-width r: base at dy = r, apex at dy = -r
    slant = (2 * np.abs(dx) - (dy + r)) / np.sqrt(5.0)  # the two sides: |x| = (y + r) / 2 from the apex
    return np.maximum(np.maximum(slant, dy - r), -dy - r)


def render_scenes(scenes: list[Scene], *, size: int = 32, random_state=None) -> np.ndarray:
    """The images of ``scenes``: [n, size, size, 3] float32 in [0, 1], edges antialiased by one
    pixel. A plain background is one light or dark grey; a noisy one adds Gaussian noise (std
    0.08) to it. The background's grey and noise come from ``random_state``, the same for a scene
    whether it is drawn alone or in a batch (each scene draws from its own seed)."""
    if not is_int(size, 8):
        raise ValueError(f"size must be an int >= 8; got {size!r}.")
    size = int(size)
    seeds = check_random_state(random_state).randint(np.iinfo(np.int32).max, size=len(scenes))
    centres = (np.arange(size) + 0.5) / size  # [S] pixel centres in [0, 1]
    xx, yy = np.meshgrid(centres, centres)  # [S, S] each
    images = np.empty((len(scenes), size, size, 3), dtype=np.float32)
    for i, (scene, seed) in enumerate(zip(scenes, seeds, strict=True)):
        rng = np.random.RandomState(seed)
        grey = rng.choice([0.95, 0.85, 0.2])  # white paper, light grey, a dark screen
        image = np.full((size, size, 3), grey)
        if scene.background == "noisy":
            image = image + rng.normal(0.0, 0.08, image.shape)
        for o in scene.objects:
            distance = signed_distance(o.shape, xx - o.x, yy - o.y, o.radius)  # [S, S]
            cover = np.clip(0.5 - distance * size, 0.0, 1.0)[..., None]  # [S, S, 1]: 1 inside, 0 outside
            image = image * (1 - cover) + np.asarray(COLOURS[o.colour]) * cover
        images[i] = np.clip(image, 0.0, 1.0)
    return images


def make_scenes(
    n: int,
    *,
    size: int = 32,
    n_objects: int = 1,
    exclude: Iterable[tuple[str, str]] = (),
    random_state=None,
) -> tuple[np.ndarray, list[Scene]]:
    """``n`` scenes and their images: (images [n, size, size, 3] float32 in [0, 1], scenes). The
    same ``random_state`` gives the same scenes and pixels (see :func:`sample_scenes` and
    :func:`render_scenes`)."""
    rng = check_random_state(random_state)
    scenes = sample_scenes(n, n_objects=n_objects, exclude=exclude, random_state=rng)
    return render_scenes(scenes, size=size, random_state=rng), scenes


def attribute_prompts(kind: str) -> list[str]:
    """The class prompts of a zero-shot test by ``kind``: "shape" ("a circle", ...), "colour"
    ("a red shape", ...) or "shape_and_colour" ("a red circle", ... every pair)."""
    if kind == "shape":
        return [f"a {s}" for s in SHAPES]
    if kind == "colour":
        return [f"a {c} shape" for c in COLOURS]
    if kind == "shape_and_colour":
        return [f"a {c} {s}" for c in COLOURS for s in SHAPES]
    raise ValueError(f"kind must be 'shape', 'colour' or 'shape_and_colour'; got {kind!r}.")


def attribute_labels(pairs: Iterable[tuple[str, str]], kind: str) -> np.ndarray:
    """The true class of each (colour, shape) pair among :func:`attribute_prompts` ``(kind)``:
    its shape's index, its colour's, or its pair's (colour-major, as the prompts are listed). [n]"""
    pairs = [tuple(pair) for pair in pairs]
    if kind == "shape":
        return np.array([SHAPES.index(s) for _, s in pairs], dtype=int)
    if kind == "colour":
        return np.array([list(COLOURS).index(c) for c, _ in pairs], dtype=int)
    if kind == "shape_and_colour":
        return np.array([list(COLOURS).index(c) * len(SHAPES) + SHAPES.index(s) for c, s in pairs], dtype=int)
    raise ValueError(f"kind must be 'shape', 'colour' or 'shape_and_colour'; got {kind!r}.")
