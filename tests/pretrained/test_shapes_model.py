"""The tiny Stable Diffusion and tiny CLIP shipped with toyclf: they load as hub models do,
classify new scenes by prompt well above chance through the unchanged estimator, the record
beside them still names what the training command does, and bad prompts or files get clear
errors. Nothing is downloaded; each test scores a few scenes."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from toyclf.plan import make_plan
from toyclf.pretrained.shapes import (
    PIPELINE_FOLDER,
    RECORD_FILE,
    SHAPES_COMMAND,
    SHAPES_MODEL,
    load_shapes_clip,
    load_shapes_denoiser,
)
from toyclf.pretrained.shapes_evaluation import diffusion_scores, pixels
from toyclf.pretrained.shapes_model import word_tokenizer
from toyclf.pretrained.tiny_clip import clip_logits
from toyclf.scene_tests import make_drawings
from toyclf.scenes import COLOURS, HELD_OUT_COMBINATIONS, SHAPES, VOCABULARY, attribute_prompts, make_scenes


@pytest.fixture(scope="module")
def colour_denoiser():
    return load_shapes_denoiser(attribute_prompts("colour"), eval_batch_size=512)


def test_the_word_tokenizer_reads_each_word_as_one_token():
    tokenizer = word_tokenizer()
    for word in VOCABULARY:
        assert len(tokenizer(word).input_ids) == 3
    ids = tokenizer("a small red circle left of a blue square").input_ids
    assert len(ids) == 9 + 2 and len(set(ids[1:-1])) == 8  # "a" twice
    assert tokenizer.unk_token_id in tokenizer("a red circle!").input_ids[1:-1]


def test_the_shipped_pipeline_classifies_new_scenes_by_colour_and_shape(colour_denoiser):
    images, scenes = make_scenes(16, exclude=HELD_OUT_COMBINATIONS, random_state=123)  # not in the training pool
    x = pixels(colour_denoiser, list(images))
    plan = make_plan(colour_denoiser, 24, seed=0)
    scores, _ = diffusion_scores(colour_denoiser, x, plan)
    colours = np.array([list(COLOURS).index(s.objects[0].colour) for s in scenes])
    assert np.mean(scores.argmax(1) == colours) >= 0.75  # chance: 0.25
    assert np.ptp(scores, axis=1).min() > 0  # the prompts' errors differ for every image
    shapes = load_shapes_denoiser(attribute_prompts("shape"), eval_batch_size=512)
    shape_scores, _ = diffusion_scores(shapes, x, plan)
    truth = np.array([SHAPES.index(s.objects[0].shape) for s in scenes])
    assert np.mean(shape_scores.argmax(1) == truth) >= 0.6  # chance: 0.33


def test_a_drawing_of_any_size_is_resized_and_classified_by_colour(colour_denoiser):
    drawings, labels = make_drawings(8, random_state=5)
    assert len({d.shape for d in drawings}) == 8
    scores, _ = diffusion_scores(colour_denoiser, pixels(colour_denoiser, drawings), make_plan(colour_denoiser, 24))
    truth = np.array([list(COLOURS).index(c) for c, _ in labels])
    assert np.mean(scores.argmax(1) == truth) >= 0.5  # chance: 0.25


def test_the_shipped_clip_classifies_new_scenes_by_colour(colour_denoiser):
    clip, tokenizer = load_shapes_clip()
    images, scenes = make_scenes(32, exclude=HELD_OUT_COMBINATIONS, random_state=124)
    logits = clip_logits(clip, tokenizer, pixels(colour_denoiser, list(images)), attribute_prompts("colour"))
    truth = np.array([list(COLOURS).index(s.objects[0].colour) for s in scenes])
    assert np.mean(logits.argmax(1).numpy() == truth) >= 0.75


def test_the_record_names_the_command_and_the_settings_it_runs_with():
    from toyclf.shapes import build_parser

    record = json.loads((SHAPES_MODEL / RECORD_FILE).read_text())
    assert record["command"] == SHAPES_COMMAND
    defaults = vars(build_parser().parse_args(SHAPES_COMMAND.split()[3:]))
    recorded = record["settings"]
    for name in ("scenes", "autoencoder_steps", "steps", "batch_size", "seed", "sample_steps"):
        assert recorded[name] == defaults[name], name  # the command today would train the shipped model
    assert recorded["clip_steps"] == recorded["steps"]  # the same budget in steps
    assert not recorded["tiny"]


@pytest.mark.parametrize(
    "prompts, message",
    [
        (["a red shape", ""], "prompts must not be empty; prompts[1] of ['a red shape', ''] is ''"),
        (["a red shape", "a red shape", "a blue shape"], "prompts must be distinct"),
        (["a red shape", "A red  shape"], "the prompts 'a red shape' and 'A red  shape' read the same"),
        (["a red shape", "a red, red shape"], "the prompt 'a red, red shape' holds text the tokenizer does not know"),
        (["a red shape", " ".join(["a red shape"] * 6)], "is 20 tokens; the text encoder takes at most 16"),
        (["a purple shape", "a red shape"], "'purple' is not a word the model was trained on; it knows a, and"),
        (["a red shape"], "prompts must be a list of at least two"),
        ("a red shape", "prompts must be a list of prompts, one per class; got the string"),
    ],
)
def test_bad_prompts_get_clear_errors(prompts, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_shapes_denoiser(prompts)


def test_a_missing_or_damaged_model_gets_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"no tiny Stable Diffusion at '.*nowhere/stable_diffusion'.*python -m toyclf"):
        load_shapes_denoiser(["a red shape", "a blue shape"], tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"no tiny CLIP at"):
        load_shapes_clip(tmp_path / "nowhere")
    copy = tmp_path / "copy"
    shutil.copytree(SHAPES_MODEL, copy)
    weights = next((copy / PIPELINE_FOLDER / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a download cut halfway
    with pytest.raises(ValueError, match=r"could not load the diffusers pipeline"):
        load_shapes_denoiser(["a red shape", "a blue shape"], copy)
    clip_weights = next((copy / "clip").glob("*.safetensors"))
    clip_weights.write_bytes(b"not weights")
    with pytest.raises(ValueError, match=r"could not load the tiny CLIP"):
        load_shapes_clip(copy)


def test_answers_repeat_and_do_not_depend_on_the_batch(colour_denoiser):
    images, _ = make_scenes(4, random_state=7)
    x = pixels(colour_denoiser, list(images))
    plan = make_plan(colour_denoiser, 8, seed=3)
    together, _ = diffusion_scores(colour_denoiser, x, plan)
    alone = np.concatenate([diffusion_scores(colour_denoiser, x[i : i + 1], plan)[0] for i in range(4)])
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    assert torch.equal(torch.from_numpy(together), torch.from_numpy(diffusion_scores(colour_denoiser, x, plan)[0]))


def test_the_word_tokenizer_is_the_same_every_time():
    from toyclf.pretrained.shapes_model import learn_merges

    assert word_tokenizer().get_vocab() == word_tokenizer().get_vocab()
    assert learn_merges(("red", "green")) == learn_merges(("green", "red", "red"))


def test_training_lowers_both_losses_from_the_first_steps():
    from toyclf.pretrained.shapes_model import SHAPES_UNET, SHAPES_VAE, shapes_pipeline
    from toyclf.pretrained.shapes_training import scene_pool, train_autoencoder, train_denoiser

    images, scenes = scene_pool(256, random_state=0)
    small = dict(block_out_channels=(32, 32), attention_head_dim=(2, 2))
    pipeline = shapes_pipeline(unet=dict(SHAPES_UNET, **small), vae=SHAPES_VAE)
    vae_losses = train_autoencoder(pipeline.vae, images, steps=60, batch_size=32, progress=False)
    assert np.mean(vae_losses[-10:]) < 0.5 * np.mean(vae_losses[:10])
    latents_std = float(
        torch.cat([pipeline.vae.encode(images[:64]).latent_dist.mean]).std() * pipeline.vae.config.scaling_factor
    )
    assert latents_std == pytest.approx(1.0, rel=0.1)  # the scaling factor gives the diffusion unit-variance latents
    unet_losses = train_denoiser(pipeline, images, scenes, steps=60, batch_size=32, progress=False)
    assert np.mean(unet_losses[-10:]) < 0.6 * np.mean(unet_losses[:10])


def test_the_benchmark_prints_every_row_at_smoke_size():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "shapes_zero_shot_benchmark.py"
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    table = result.stdout
    for test_set in ("new scenes, training pairs", "held-out pairs", "paint-program drawings"):
        for task in ("shape (3)", "colour (4)", "shape and colour (12)"):
            assert f"| {test_set} | {task} |" in table
    for row in ("| colour |", "| shape |", "| relation |", "| diffusion |", "| CLIP |", "early stopping", "staged"):
        assert row in table, row
