"""The GPU settings of the one path (toyclf.pretrained.speed), checked on the CPU on tiny random
pipelines: what load_denoiser sets, that every setting gives the same errors, that the batch
rule fills memory as it says, and that images scored in groups get the answers they get alone."""

from __future__ import annotations

import re

import pytest
import torch

pytest.importorskip("diffusers")

from toyclf.estimator import class_errors
from toyclf.plan import make_plan
from toyclf.pretrained import load_denoiser
from toyclf.pretrained.image_classification import classify_images, images_per_group
from toyclf.pretrained.images import class_folders
from toyclf.pretrained.speed import CPU_BATCH_SIZE, MOST_ROWS, batch_for_memory

CLASSES = ["cat", "dog", "bird"]


def test_the_batch_size_is_the_denoisers_own_unless_given(tiny_models, monkeypatch):
    sd = load_denoiser(tiny_models["sd"], CLASSES)
    assert sd.eval_batch_size == CPU_BATCH_SIZE
    sd = load_denoiser(tiny_models["sd"], CLASSES, eval_batch_size=7)
    sizes = []
    predict = sd.predict_noise
    monkeypatch.setattr(sd, "predict_noise", lambda x_t, t, labels: sizes.append(len(x_t)) or predict(x_t, t, labels))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    class_errors(sd, x, make_plan(sd, 5, seed=0))  # 2 images x 3 classes x 5 trials = 30 rows
    assert sizes == [7, 7, 7, 7, 2]
    sizes.clear()
    class_errors(sd, x, make_plan(sd, 5, seed=0), eval_batch_size=16)
    assert sizes == [16, 14]


def processors(denoiser) -> set[str]:
    return {type(m.processor).__name__ for m in denoiser.backbone.modules() if hasattr(m, "set_processor")}


@pytest.mark.parametrize("model", ["sd", "sdxl", "dit"])
def test_official_and_fast_settings_give_the_same_errors(tiny_models, model):
    classes = ["tench", "goldfish"] if model == "dit" else CLASSES[:2]
    fast = load_denoiser(tiny_models[model], classes, channels_last=True)
    official = load_denoiser(tiny_models[model], classes, attention="classic", channels_last=False, eval_batch_size=32)
    assert processors(official) == {"AttnProcessor"} and "AttnProcessor" not in processors(fast)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    plan = make_plan(fast, 6, seed=0)
    assert torch.allclose(class_errors(fast, x, plan), class_errors(official, x, plan), rtol=1e-5)


def test_batch_rule_fills_the_share_of_memory_it_is_given():
    gib = 2**30
    assert batch_for_memory(80 * gib, gib / 4) == 128  # room for 160 rows in half: the power of two below
    assert batch_for_memory(80 * gib, gib / 4, fraction=0.25) == 64
    assert batch_for_memory(1000 * gib, gib / 4) == MOST_ROWS  # capped
    assert batch_for_memory(gib, 4 * gib) == 1  # less than a row fits: one row at a time


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(attention="flash"), "attention must be one of 'sdpa', 'classic'; got 'flash'"),
        (dict(eval_batch_size=0), "eval_batch_size must be a positive integer or None (fill the device); got 0"),
        (dict(eval_batch_size=2.5), "eval_batch_size must be a positive integer or None (fill the device); got 2.5"),
        (dict(eval_batch_size=True), "eval_batch_size must be a positive integer or None (fill the device); got True"),
    ],
)
def test_bad_speed_settings_are_refused_before_loading(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_denoiser(tmp_path / "no model here", CLASSES, **kwargs)  # the settings are checked first


def test_images_in_groups_get_the_answers_they_get_alone(tiny_models, tiny_images):
    sd = load_denoiser(tiny_models["sd"], CLASSES)
    files = [f for found in class_folders(tiny_images).values() for f in found]  # 6 images
    plan = make_plan(sd, 32, seed=0)
    assert images_per_group(sd, plan, None, None) == 16 * CPU_BATCH_SIZE // (3 * 32)  # fills 16 first-stage batches
    grouped = list(classify_images(sd, files, plan, group_size=4))
    alone = list(classify_images(sd, files, plan, group_size=1))
    for g, a in zip(grouped, alone, strict=True):
        assert g["prediction"] == a["prediction"] and (g["trials"] == a["trials"]).all()
        assert torch.allclose(torch.as_tensor(g["errors"]), torch.as_tensor(a["errors"]), rtol=1e-6)


def test_classic_attention_is_refused_for_sd3s_joint_attention(tiny_models):
    with pytest.raises(ValueError, match="attention='classic' is for UNets and DiT; this network's attention is Joint"):
        load_denoiser(tiny_models["sd3"], CLASSES, attention="classic")


def test_padded_batches_give_the_same_errors(tiny_models):
    """A compiled network sees one batch shape: short batches are padded, and the padding is dropped."""
    sd = load_denoiser(tiny_models["sd"], CLASSES, eval_batch_size=8)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    plan = make_plan(sd, 5, seed=0)  # 30 rows: batches of 8, 8, 8 and 6
    plain = class_errors(sd, x, plan)
    sizes = []
    network = sd.network
    sd.network = lambda x_t, timesteps, labels: sizes.append(len(x_t)) or network(x_t, timesteps, labels)
    sd.fixed_rows = 8
    assert torch.allclose(class_errors(sd, x, plan), plain, rtol=1e-5) and sizes == [8, 8, 8, 8]


def test_the_measured_batch_fills_half_the_free_memory(monkeypatch):
    """The rule on a GPU, its measurements stood in for: free memory plus PyTorch's unused cache,
    half of it, in rows of the measured cost; a cost too small to measure gives 32."""
    from types import SimpleNamespace

    from toyclf.pretrained import speed

    gib = 2**30
    fake = SimpleNamespace(device=torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (30 * gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 12 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 10 * gib)
    monkeypatch.setattr(speed, "bytes_per_row", lambda denoiser: gib / 8)  # (30 + 2) / 2 GiB: 128 rows
    assert speed.fitting_batch_size(fake) == 128
    monkeypatch.setattr(speed, "bytes_per_row", lambda denoiser: 0.0)
    assert speed.fitting_batch_size(fake) == CPU_BATCH_SIZE


def test_images_are_encoded_a_few_at_a_time(tiny_models):
    from toyclf.pretrained.latent import ENCODE_ROWS

    sd = load_denoiser(tiny_models["sd"], CLASSES)
    x = torch.rand(ENCODE_ROWS + 1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    calls = []
    encode = sd.vae.encode
    sd.vae.encode = lambda images: calls.append(len(images)) or encode(images)
    together = sd.encode(x)
    assert calls == [ENCODE_ROWS, 1]
    assert torch.allclose(together, torch.cat([sd.encode(x[i : i + 1]) for i in range(len(x))]), atol=1e-5)
