"""The zero-shot test sets of the world of shapes: held-out scenes hold only held-out pairs,
drawings are one pure colour on white at any size, Winoground pairs swap exactly what they say
(C0 true of I0, C1 of I1, the same words), and the scores match their definition and chance."""

from __future__ import annotations

import numpy as np
import pytest

from toyclf.scene_tests import (
    PAINT_COLOURS,
    SWAPS,
    WINOGROUND_CHANCE,
    held_out_scenes,
    make_drawings,
    winoground_pairs,
    winoground_scores,
)
from toyclf.scenes import COLOURS, HELD_OUT_COMBINATIONS, SHAPES


def test_held_out_scenes_hold_only_the_held_out_pairs():
    images, scenes = held_out_scenes(60, held_out=HELD_OUT_COMBINATIONS, random_state=0)
    assert images.shape == (60, 32, 32, 3)
    pairs = {(s.objects[0].colour, s.objects[0].shape) for s in scenes}
    assert pairs == set(HELD_OUT_COMBINATIONS)


def test_drawings_are_one_pure_colour_on_white_at_many_sizes():
    images, labels = make_drawings(30, random_state=0)
    assert len({image.shape for image in images}) > 20  # sizes and aspect ratios vary
    for image, (colour, shape) in zip(images, labels, strict=True):
        assert shape in SHAPES
        values = np.unique(image.reshape(-1, 3), axis=0)
        np.testing.assert_allclose(values, sorted([(1.0, 1.0, 1.0), PAINT_COLOURS[colour]]), rtol=1e-6)
        share = np.mean(np.all(np.isclose(image, PAINT_COLOURS[colour]), axis=-1))
        assert 0.005 < share < 0.5  # a shape, not the whole canvas
    again, labels_again = make_drawings(30, random_state=0)
    assert labels_again == labels and all(np.array_equal(a, b) for a, b in zip(again, images, strict=True))


@pytest.mark.parametrize("swap", SWAPS)
def test_winoground_pairs_swap_what_they_say(swap):
    pairs = winoground_pairs(20, swap, exclude=HELD_OUT_COMBINATIONS, random_state=1)
    for scenes, (i0, i1) in zip(pairs["scenes"], pairs["images"], strict=True):
        for scene, image in zip(scenes, (i0, i1), strict=True):
            assert not {(o.colour, o.shape) for o in scene.objects} & HELD_OUT_COMBINATIONS
            left = scene.objects[0]  # the pixel at the centre of the left object has its caption's colour
            y, x = int(left.y * 32), int(left.x * 32)
            np.testing.assert_allclose(image[y, x], COLOURS[scene.caption.split()[1]], atol=0.02)
    images, captions = pairs["images"], pairs["captions"]
    assert images.shape == (20, 2, 32, 32, 3)
    for (c0, c1), (i0, i1) in zip(captions, images, strict=True):
        assert c0 != c1 and sorted(c0.split()) == sorted(c1.split())  # the same words, another order
        assert not np.array_equal(i0, i1)
        words0, words1 = c0.split(), c1.split()  # "a COLOUR SHAPE left of a COLOUR SHAPE"
        changed = {i for i, (a, b) in enumerate(zip(words0, words1, strict=True)) if a != b}
        expected = {"colour": {1, 6}, "shape": {2, 7}, "relation": {1, 2, 6, 7}}[swap]
        assert changed <= expected and changed
        background = np.all(i0 == i1, axis=-1).mean()
        assert background > 0.2  # the same background where no object is (a new one would share no noise)


def test_winoground_scores_follow_their_definition_and_chance():
    right = np.array([[[1.0, 0.0], [0.0, 1.0]]])  # each image prefers its caption and vice versa
    assert winoground_scores(right) == {"text": 1.0, "image": 1.0, "group": 1.0}
    text_only = np.array([[[2.0, 1.0], [3.0, 4.0]]])  # right captions; but image 1 wins caption 0
    assert winoground_scores(text_only) == {"text": 1.0, "image": 0.0, "group": 0.0}
    random = winoground_scores(np.random.default_rng(0).normal(size=(60_000, 2, 2)))
    for key, chance in WINOGROUND_CHANCE.items():
        assert abs(random[key] - chance) < 0.01, (key, random[key])
    with pytest.raises(ValueError, match=r"scores must have shape \[n, 2, 2\].*got \(3, 2\)"):
        winoground_scores(np.zeros((3, 2)))


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="swap must be one of"):
        winoground_pairs(3, "size")
    with pytest.raises(ValueError, match="n must be an int >= 1; got 0"):
        winoground_pairs(0, "colour")
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        make_drawings(-1)


def test_winoground_pairs_refuse_a_split_with_nothing_to_swap():
    one_colour = [(c, s) for c in ("red", "green", "blue") for s in SHAPES]  # only yellow is left
    with pytest.raises(ValueError, match="can have its colours swapped"):
        winoground_pairs(2, "colour", exclude=one_colour, random_state=0)
