"""The world of shapes (toyclf.scenes): deterministic for a seed and the same alone or in a batch,
each object drawn where, as big and in the colour its scene says, captions that are true of it,
held-out combinations absent from a split, and bad input named."""

from __future__ import annotations

import re

import numpy as np
import pytest

from toyclf.scenes import (
    COLOURS,
    HELD_OUT_COMBINATIONS,
    SHAPES,
    attribute_prompts,
    make_scenes,
    render_scenes,
    sample_scenes,
)


def test_a_seed_gives_the_same_scenes_alone_or_in_a_batch():
    images, scenes = make_scenes(12, n_objects=2, random_state=3)
    again, same = make_scenes(12, n_objects=2, random_state=3)
    assert scenes == same and np.array_equal(images, again)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    other, _ = make_scenes(12, n_objects=2, random_state=4)
    assert not np.array_equal(images, other)
    # a scene's pixels do not depend on the scenes drawn after it: the first five alone are the same
    np.testing.assert_array_equal(render_scenes(scenes[:5], random_state=7), render_scenes(scenes, random_state=7)[:5])


@pytest.mark.parametrize("shape, area", [("circle", np.pi), ("square", 4.0), ("triangle", 2.0)])
def test_each_shape_covers_its_area_in_its_colour_at_its_place(shape, area):
    """On a 128-pixel plain image, an object of half-width r covers area * r^2 of the image (circle
    pi r^2, square 4 r^2, triangle 2 r^2) in exactly its colour, centred where the scene says."""
    (scene,) = sample_scenes(1, random_state=0)
    obj = scene.objects[0].__class__(shape, "red", "large", 0.4, 0.6, 0.2)
    scene = scene.__class__((obj,), "plain")
    image = render_scenes([scene], size=128, random_state=0)[0]  # [128, 128, 3]
    background = image[0, 0]  # [3], a plain grey
    red = np.asarray(COLOURS["red"])
    cover = (image - background) @ (red - background) / np.sum((red - background) ** 2)  # [128, 128], 0 .. 1
    assert cover.mean() == pytest.approx(area * 0.2**2, rel=0.02)  # antialiased edges count by their share
    red = np.abs(image - red).max(-1) < 0.02  # [128, 128] pixels wholly of the object's colour
    rows, cols = np.nonzero(red)
    assert (cols.min() + cols.max() + 1) / 2 / 128 == pytest.approx(0.4, abs=0.02)  # its box is centred at x
    assert (rows.min() + rows.max() + 1) / 2 / 128 == pytest.approx(0.6, abs=0.02)


def test_captions_are_true_of_their_scenes():
    _, singles = make_scenes(200, random_state=0)
    for scene in singles:
        (o,) = scene.objects
        captions = scene.captions()
        assert captions[0] == f"a {o.colour} {o.shape}" == scene.caption
        assert f"a {o.size} {o.colour} {o.shape} on the {'left' if o.x < 0.5 else 'right'}" in captions
        assert 0 <= o.x - o.radius and o.x + o.radius <= 1 and 0 <= o.y - o.radius and o.y + o.radius <= 1
    _, pairs = make_scenes(200, n_objects=2, random_state=1)
    for scene in pairs:
        left, right = scene.objects
        assert scene.caption == f"a {left.colour} {left.shape} left of a {right.colour} {right.shape}"
        assert left.x + left.radius <= 0.5 <= right.x - right.radius  # "left of" holds with room between
    sizes = {o.size for s in singles for o in s.objects}
    assert sizes == {"small", "large"} and {s.background for s in singles} == {"plain", "noisy"}


def test_held_out_combinations_never_appear_and_every_attribute_still_does():
    _, scenes = make_scenes(600, n_objects=2, exclude=HELD_OUT_COMBINATIONS, random_state=0)
    pairs = {(o.colour, o.shape) for s in scenes for o in s.objects}
    assert not pairs & HELD_OUT_COMBINATIONS
    assert {c for c, _ in pairs} == set(COLOURS) and {s for _, s in pairs} == set(SHAPES)
    assert len(pairs) == len(COLOURS) * len(SHAPES) - len(HELD_OUT_COMBINATIONS)
    _, only = make_scenes(50, exclude=[(c, s) for c in COLOURS for s in SHAPES if (c, s) != ("red", "circle")])
    assert {s.caption for s in only} == {"a red circle"}


def test_prompts_name_every_attribute():
    assert attribute_prompts("shape") == ["a circle", "a square", "a triangle"]
    assert len(attribute_prompts("colour")) == len(COLOURS)
    assert len(set(attribute_prompts("shape_and_colour"))) == len(COLOURS) * len(SHAPES)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_scenes(-1), "n must be an int >= 0; got -1"),
        (lambda: make_scenes(2.5), "n must be an int >= 0; got 2.5"),
        (lambda: make_scenes(3, n_objects=3), "n_objects must be 1 or 2; got 3"),
        (lambda: make_scenes(3, size=4), "size must be an int >= 8; got 4"),
        (lambda: make_scenes(3, exclude=[("purple", "circle")]), "got ('purple', 'circle')"),
        (lambda: make_scenes(3, exclude=[(c, s) for c in COLOURS for s in SHAPES]), "leaves no colour-shape pair"),
        (lambda: attribute_prompts("size"), "kind must be 'shape', 'colour' or 'shape_and_colour'; got 'size'"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_attribute_labels_index_the_true_prompt():
    from toyclf.scenes import attribute_labels, attribute_prompts

    pairs = [("yellow", "square"), ("red", "circle"), ("blue", "triangle")]
    for kind in ("shape", "colour", "shape_and_colour"):
        prompts = attribute_prompts(kind)
        for (colour, shape), label in zip(pairs, attribute_labels(pairs, kind), strict=True):
            assert {"shape": shape, "colour": colour, "shape_and_colour": f"{colour} {shape}"}[kind] in prompts[label]
    with pytest.raises(ValueError, match="kind must be 'shape', 'colour' or 'shape_and_colour'"):
        attribute_labels(pairs, "size")
