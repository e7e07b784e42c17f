"""The pretrained backends (Stable Diffusion, DiT) on tiny random pipelines loaded from folders:
the estimator through them equals a plain loop, answers are repeatable, v-prediction is
converted, and bad input gets a clear error. Nothing is downloaded."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from toyclf.estimator import class_errors, log_posterior
from toyclf.plan import make_plan
from toyclf.pretrained import load_denoiser
from toyclf.pretrained.images import class_folders, preprocess_images
from toyclf.pruning import EarlyStopping, StagedElimination

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def images(tiny_images):
    files = [f for found in class_folders(tiny_images).values() for f in found]
    return preprocess_images(files[:3], 32)  # [3, 3, 32, 32]


@pytest.fixture(scope="module")
def sd(tiny_models):
    return load_denoiser(tiny_models["sd"], CLASSES, template="a photo of a {}.")


def reference_stable_diffusion_errors(folder, prompts, x, plan):
    """The paper's Algorithm 1 written out with the pipeline's own parts, one (image, class, trial) at a time."""
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(folder)
    abar = pipe.scheduler.alphas_cumprod
    errors = torch.zeros(len(x), len(prompts), dtype=torch.float64)
    with torch.no_grad():
        latents = pipe.vae.encode(x).latent_dist.mean * pipe.vae.config.scaling_factor
        for k, prompt in enumerate(prompts):
            ids = pipe.tokenizer(prompt, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
            text = pipe.text_encoder(ids.input_ids)[0]
            for i in range(len(x)):
                for t, eps in zip(plan.timesteps, plan.noise, strict=True):
                    x_t = abar[t].sqrt() * latents[i] + (1 - abar[t]).sqrt() * eps
                    predicted = pipe.unet(x_t[None], t[None], encoder_hidden_states=text).sample[0]
                    errors[i, k] += ((predicted - eps) ** 2).sum().item() / len(plan)
    return errors


def test_stable_diffusion_errors_equal_a_plain_loop(tiny_models, sd, images):
    plan = make_plan(sd, 5, seed=0)
    expected = reference_stable_diffusion_errors(
        tiny_models["sd"], [f"a photo of a {c}." for c in CLASSES], images, plan
    )
    assert torch.allclose(class_errors(sd, images, plan, eval_batch_size=7).double(), expected, rtol=1e-5)
    assert sd.latent_shape == (4, 16, 16) and sd.image_size == 32 and sd.n_classes == 3


def test_dit_errors_equal_a_plain_loop(tiny_models, images):
    from diffusers import DiffusionPipeline

    dit = load_denoiser(tiny_models["dit"], ["goldfish", "tench"])
    pipe = DiffusionPipeline.from_pretrained(tiny_models["dit"])
    plan = make_plan(dit, 4, seed=1)
    abar = pipe.scheduler.alphas_cumprod
    expected = torch.zeros(len(images), 2, dtype=torch.float64)
    with torch.no_grad():
        latents = pipe.vae.encode(images).latent_dist.mean * pipe.vae.config.scaling_factor
        for k, label in enumerate([1, 0]):  # goldfish is label 1, tench label 0
            for i in range(len(images)):
                for t, eps in zip(plan.timesteps, plan.noise, strict=True):
                    x_t = abar[t].sqrt() * latents[i] + (1 - abar[t]).sqrt() * eps
                    out = pipe.transformer(x_t[None], timestep=t[None], class_labels=torch.tensor([label])).sample
                    expected[i, k] += ((out[0, :4] - eps) ** 2).sum().item() / len(plan)
    assert torch.allclose(class_errors(dit, images, plan).double(), expected, rtol=1e-5)
    assert dit.label_ids.tolist() == [1, 0] and not dit.transformer.training


@pytest.mark.parametrize("model", ["sd", "sd_v"])
def test_prediction_type_is_read_and_v_is_converted_to_eps(tiny_models, model):
    """Make the network a perfect predictor of its own target (eps, or v as diffusers defines it
    in get_velocity): predict_noise must then return the true eps."""
    from diffusers import DDPMScheduler

    denoiser = load_denoiser(tiny_models[model], ["cat", "dog"])
    scheduler = DDPMScheduler.from_pretrained(tiny_models[model], subfolder="scheduler")
    assert denoiser.prediction_type == ("v_prediction" if model == "sd_v" else "epsilon")
    assert torch.allclose(denoiser.schedule.alphas_cumprod, scheduler.alphas_cumprod.double())
    x0, eps, t = torch.randn(4, 4, 16, 16), torch.randn(4, 4, 16, 16), torch.tensor([0, 250, 600, 999])
    x_t = scheduler.add_noise(x0, eps, t)
    target = scheduler.get_velocity(x0, eps, t) if model == "sd_v" else eps
    denoiser.network = lambda x_t_, t_, labels_: target
    assert torch.allclose(denoiser.predict_noise(x_t, t, torch.zeros(4, dtype=torch.long)), eps, atol=1e-5)


def test_same_seed_same_errors_whatever_the_batch_size(sd, images):
    errors = class_errors(sd, images, make_plan(sd, 6, seed=3), eval_batch_size=64)
    again = class_errors(sd, images, make_plan(sd, 6, seed=3), eval_batch_size=1)
    alone = torch.cat([class_errors(sd, images[i : i + 1], make_plan(sd, 6, seed=3)) for i in range(len(images))])
    assert torch.allclose(errors, again, rtol=1e-6) and torch.allclose(errors, alone, rtol=1e-6)
    assert not torch.allclose(errors, class_errors(sd, images, make_plan(sd, 6, seed=4)), rtol=1e-6)


def test_pruning_and_probabilities_work_unchanged(sd, images):
    plan = make_plan(sd, 8, seed=0)
    errors, trials = class_errors(sd, images, plan, pruning=StagedElimination((4, 8), (2, 1)), return_trials=True)
    assert trials.sum(1).tolist() == [3 * 4 + 2 * 4] * len(images)  # every class 4 trials, two survivors 4 more
    _, trials = class_errors(sd, images, plan, pruning=EarlyStopping(min_trials=2), return_trials=True)
    assert trials.max() <= 8 and trials.min() >= 2
    probabilities = log_posterior(errors).exp()
    assert torch.allclose(probabilities.sum(1), torch.ones(len(images), dtype=probabilities.dtype))


def test_one_prompt_per_class(tiny_models, images):
    by_template = load_denoiser(tiny_models["sd"], ["cat", "dog"], template="a photo of a {}.")
    by_prompts = load_denoiser(tiny_models["sd"], ["cat", "dog"], prompts=["a photo of a cat.", "a photo of a dog."])
    plan = make_plan(by_template, 3, seed=0)
    assert torch.equal(class_errors(by_template, images, plan), class_errors(by_prompts, images, plan))
    assert by_prompts.class_names == ["cat", "dog"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(classes=[]), "classes must be a list of at least two (a classifier chooses between them); got []"),
        (dict(classes="cat"), "classes must be a list of at least two"),
        (
            dict(classes=["cat"]),
            "classes must be a list of at least two (a classifier chooses between them); got ['cat']",
        ),
        (dict(prompts=["a cat"]), "prompts must be a list of at least two"),
        (dict(classes=["cat", "cat"]), "class names must be distinct"),
        (
            dict(prompts=["a cat", "a cat"]),
            "prompts must be distinct (two classes with one prompt cannot be told apart)",
        ),
        (dict(prompts=["a cat", " "]), "prompts must not be empty; prompts[1] of ['a cat', ' '] is ' '"),
        (dict(prompts=["a cat", "x" * 80]), "is 82 tokens; the text encoder takes at most 77"),
        (dict(classes=["cat", "dog"], template="a photo"), "template must contain '{}' once"),
        (dict(classes=["cat", "dog"], prompts=["one prompt"]), "got 2 class names but 1 prompts"),
        (dict(classes=["cat", "dog"], dtype="float64"), "dtype must be one of 'float32', 'float16', 'bfloat16'"),
    ],
)
def test_bad_classes_and_settings_get_clear_errors(tiny_models, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_denoiser(tiny_models["sd"], **kwargs)


def test_missing_model_unknown_label_and_missing_cuda(tiny_models, tmp_path):
    with pytest.raises(ValueError, match=r"could not load a diffusers pipeline from '.*nowhere'"):
        load_denoiser(str(tmp_path / "nowhere"), ["cat", "dog"])
    with pytest.raises(
        ValueError, match="class 'gold' is not one of the model's labels; did you mean \\['goldfish'\\]"
    ):
        load_denoiser(tiny_models["dit"], ["gold", "tench"])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' was requested, but CUDA is not available"):
            load_denoiser(tiny_models["sd"], ["cat", "dog"], device="cuda")


def test_images_from_paths_pil_and_tensors_and_unreadable_files(tiny_images, tmp_path):
    from PIL import Image

    path = class_folders(tiny_images)["cat"][0]
    as_tensor = torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1) / 255
    batch = preprocess_images([path, Image.open(path), as_tensor], 32)
    assert batch.shape == (3, 3, 32, 32) and batch.min() >= -1 and batch.max() <= 1
    assert torch.allclose(batch[0], batch[1]) and torch.allclose(batch[0], batch[2], atol=1e-2)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"could not read image '.*broken\.png'"):
        preprocess_images([broken], 32)
    with pytest.raises(ValueError, match="a float image tensor must hold values in \\[0, 1\\]"):
        preprocess_images([torch.randn(3, 8, 8) * 5], 32)
