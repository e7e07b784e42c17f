"""SDXL and Stable Diffusion 3 on tiny random pipelines loaded from folders: the estimator through
them equals the paper's Algorithm 1 written out with each pipeline's own parts, answers are the
same in a batch or one image at a time, SD3's flow path and velocity are read from its
scheduler, and SDXL's VAE stays in fp32. Nothing is downloaded."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("diffusers")

from toyclf.estimator import class_errors
from toyclf.plan import make_plan
from toyclf.pretrained import load_denoiser
from toyclf.pretrained.images import class_folders, preprocess_images
from toyclf.schedule import RectifiedFlowSchedule

CLASSES = ["cat", "dog", "bird"]
PROMPTS = [f"a photo of a {c}." for c in CLASSES]


@pytest.fixture(scope="module")
def images(tiny_images):
    files = [f for found in class_folders(tiny_images).values() for f in found]
    return preprocess_images(files[:3], 32)  # [3, 3, 32, 32]


def pipeline(folder):
    from diffusers import DiffusionPipeline

    return DiffusionPipeline.from_pretrained(folder)


def reference_sdxl_errors(folder, x, plan):
    """Algorithm 1 one (image, class, trial) at a time: the UNet called as SDXL's pipeline calls it."""
    pipe = pipeline(folder)
    abar = pipe.scheduler.alphas_cumprod
    errors = torch.zeros(len(x), len(PROMPTS), dtype=torch.float64)
    with torch.no_grad():
        latents = pipe.vae.encode(x).latent_dist.mean * pipe.vae.config.scaling_factor
        text, _, pooled, _ = pipe.encode_prompt(PROMPTS, device="cpu", do_classifier_free_guidance=False)
        time_ids = pipe._get_add_time_ids(  # original size, crop corner, target size
            (32, 32), (0, 0), (32, 32), text.dtype, pipe.text_encoder_2.config.projection_dim
        )
        for k in range(len(PROMPTS)):
            added = {"text_embeds": pooled[k : k + 1], "time_ids": time_ids}
            for i in range(len(x)):
                for t, eps in zip(plan.timesteps, plan.noise, strict=True):
                    x_t = abar[t].sqrt() * latents[i] + (1 - abar[t]).sqrt() * eps
                    out = pipe.unet(x_t[None], t[None], encoder_hidden_states=text[k : k + 1], added_cond_kwargs=added)
                    errors[i, k] += ((out.sample[0] - eps) ** 2).sum().item() / len(plan)
    return errors


def reference_sd3_errors(folder, x, plan):
    """Algorithm 1 one (image, class, trial) at a time on SD3's straight path, written from its
    definitions: sigma from the midpoint (t + 1/2) / T bent by the scheduler's shift s, x_t =
    (1 - sigma) x_0 + sigma eps, the transformer's velocity at timestep 1000 sigma, and the noise
    it implies, eps_hat = x_t + (1 - sigma) v."""
    pipe = pipeline(folder)
    s = pipe.scheduler.config.shift
    errors = torch.zeros(len(x), len(PROMPTS), dtype=torch.float64)
    with torch.no_grad():
        config = pipe.vae.config
        latents = (pipe.vae.encode(x).latent_dist.mean - config.shift_factor) * config.scaling_factor
        text, _, pooled, _ = pipe.encode_prompt(PROMPTS, None, None, device="cpu", do_classifier_free_guidance=False)
        for k in range(len(PROMPTS)):
            for i in range(len(x)):
                for t, eps in zip(plan.timesteps, plan.noise, strict=True):
                    u = (t.item() + 0.5) / 1000
                    sigma = s * u / (1 + (s - 1) * u)
                    x_t = (1 - sigma) * latents[i] + sigma * eps
                    v = pipe.transformer(
                        hidden_states=x_t[None],
                        timestep=torch.tensor([1000 * sigma]),
                        encoder_hidden_states=text[k : k + 1],
                        pooled_projections=pooled[k : k + 1],
                    ).sample[0]
                    errors[i, k] += ((x_t + (1 - sigma) * v - eps) ** 2).sum().item() / len(plan)
    return errors


@pytest.mark.parametrize("model, reference", [("sdxl", reference_sdxl_errors), ("sd3", reference_sd3_errors)])
def test_errors_equal_algorithm_1_written_out(tiny_models, images, model, reference):
    denoiser = load_denoiser(tiny_models[model], CLASSES)
    plan = make_plan(denoiser, 5, seed=0)
    expected = reference(tiny_models[model], images, plan)
    assert torch.allclose(class_errors(denoiser, images, plan, eval_batch_size=7).double(), expected, rtol=1e-5)
    assert denoiser.prompts == PROMPTS and denoiser.n_classes == 3 and denoiser.image_size == 32


@pytest.mark.parametrize("model", ["sdxl", "sd3"])
def test_same_seed_same_errors_in_a_batch_or_alone(tiny_models, images, model):
    denoiser = load_denoiser(tiny_models[model], CLASSES)
    errors = class_errors(denoiser, images, make_plan(denoiser, 6, seed=3), eval_batch_size=64)
    again = class_errors(denoiser, images, make_plan(denoiser, 6, seed=3), eval_batch_size=1)
    alone = torch.cat([class_errors(denoiser, images[i : i + 1], make_plan(denoiser, 6, seed=3)) for i in range(3)])
    assert torch.allclose(errors, again, rtol=1e-6) and torch.allclose(errors, alone, rtol=1e-6)
    assert not torch.allclose(errors, class_errors(denoiser, images, make_plan(denoiser, 6, seed=4)), rtol=1e-6)


def test_sd3_reads_the_flow_path_and_converts_its_velocity(tiny_models):
    """Make the transformer a perfect predictor of the flow velocity eps - x_0 on the straight path
    at the noise level it is told: predict_noise must then return the true eps."""
    sd3 = load_denoiser(tiny_models["sd3"], ["cat", "dog"])
    assert sd3.prediction_type == "velocity" and isinstance(sd3.schedule, RectifiedFlowSchedule)
    assert torch.allclose(sd3.schedule.noise_scale, RectifiedFlowSchedule.linear(1000, shift=1 / 3).noise_scale)
    x0, eps, t = torch.randn(4, 16, 16, 16), torch.randn(4, 16, 16, 16), torch.tensor([0, 250, 600, 999])
    sigma = sd3.schedule.noise_scale[t].float().reshape(-1, 1, 1, 1)
    x_t = (1 - sigma) * x0 + sigma * eps

    def perfect(x_t_, timesteps, labels):
        assert torch.allclose(timesteps, 1000 * sigma.flatten())  # the transformer's timestep: 1000 sigma
        return eps - x0

    sd3.network = perfect
    assert torch.allclose(sd3.predict_noise(x_t, t, torch.zeros(4, dtype=torch.long)), eps, atol=1e-5)


def test_sdxl_vae_stays_in_float32_when_the_unet_runs_in_float16(tiny_models, images):
    sdxl = load_denoiser(tiny_models["sdxl"], CLASSES, dtype="float16")
    assert sdxl.dtype == torch.float16 and sdxl.vae.dtype == torch.float32  # force_upcast in its VAE config
    assert sdxl.prompt_embeddings.dtype == sdxl.pooled_embeddings.dtype == sdxl.time_ids.dtype == torch.float16
    assert sdxl.encode(images).dtype == torch.float32


def test_refiners_and_resolution_dependent_shifts_are_refused(tiny_models, tmp_path):
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline

    refiner = StableDiffusionXLImg2ImgPipeline.from_pretrained(tiny_models["sdxl"], requires_aesthetics_score=True)
    refiner.save_pretrained(tmp_path / "refiner")
    with pytest.raises(ValueError, match=r"is an SDXL refiner .*; load an SDXL base model"):
        load_denoiser(tmp_path / "refiner", ["cat", "dog"])
    with pytest.raises(ValueError, match="use_dynamic_shifting, as FLUX does"):
        RectifiedFlowSchedule.from_diffusers(FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True))


def test_sd3_timesteps_are_diffusers_own_at_our_noise_levels(tiny_models):
    """Independently of toyclf's shift formula: diffusers' scheduler, asked for our (unshifted)
    midpoint noise levels, shifts them to the timesteps our transformer calls receive."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    sd3 = load_denoiser(tiny_models["sd3"], ["cat", "dog"])
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(tiny_models["sd3"], subfolder="scheduler")
    midpoints = (torch.arange(1000, dtype=torch.float64) + 0.5) / 1000
    scheduler.set_timesteps(sigmas=midpoints.flip(0).numpy())  # noisiest first, as diffusers orders them
    assert torch.allclose(sd3.timesteps, scheduler.timesteps.flip(0).float(), atol=1e-3)


@pytest.mark.parametrize("model", ["sdxl", "sd3"])
def test_float16_gives_the_float32_answer_to_its_precision(tiny_models, model):
    """The conditioning (prompt states, pooled vectors, SDXL's time ids, SD3's timesteps) in fp16
    gives the fp32 noise prediction to fp16's precision."""
    full = load_denoiser(tiny_models[model], CLASSES, dtype="float32")
    half = load_denoiser(tiny_models[model], CLASSES, dtype="float16")
    x_t = torch.randn(6, *full.latent_shape, generator=torch.Generator().manual_seed(0))
    t, labels = torch.tensor([10, 200, 400, 600, 800, 990]), torch.tensor([0, 1, 2, 0, 1, 2])
    expected = full.predict_noise(x_t, t, labels)
    assert torch.allclose(half.predict_noise(x_t, t, labels), expected, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("model, upcast", [("sd", False), ("sd3", False), ("dit", False), ("sdxl", True)])
def test_only_sdxl_keeps_its_vae_in_float32(tiny_models, model, upcast):
    classes = ["tench", "goldfish"] if model == "dit" else ["cat", "dog"]
    denoiser = load_denoiser(tiny_models[model], classes, dtype="float16")
    assert denoiser.vae.dtype == (torch.float32 if upcast else torch.float16)


def test_pipelines_toyclf_cannot_drive_get_clear_errors(tiny_models):
    from diffusers import DDPMPipeline, DDPMScheduler, ScoreSdeVeScheduler, UNet2DConditionModel, UNet2DModel

    from toyclf.pretrained import denoiser_from_pipeline
    from toyclf.pretrained import random_pipelines as build
    from toyclf.pretrained.latent import read_scheduler
    from toyclf.pretrained.tiny import TINY, TINY_UNET

    unet = UNet2DModel(
        sample_size=8,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D",) * 2,
        up_block_types=("UpBlock2D",) * 2,
    )
    unconditional = DDPMPipeline(unet, DDPMScheduler())
    with pytest.raises(ValueError, match="is a DDPMPipeline; toyclf drives Stable Diffusion 1/2, SDXL, SD3 and DiT"):
        denoiser_from_pipeline(unconditional, ["cat", "dog"])
    inpainting = build.stable_diffusion(dict(TINY["sd"], unet=dict(TINY_UNET, in_channels=9)))
    assert isinstance(inpainting.unet, UNet2DConditionModel)
    with pytest.raises(ValueError, match="the network takes 9 input channels but the VAE makes 4-channel latents"):
        denoiser_from_pipeline(inpainting, ["cat", "dog"])
    with pytest.raises(ValueError, match=r"is a class-conditional DiT .*give class names or label ids, not prompts"):
        load_denoiser(tiny_models["dit"], prompts=["a fish", "a shark"])
    with pytest.raises(ValueError, match="scheduler is a ScoreSdeVeScheduler, neither a DDPM-family scheduler"):
        read_scheduler(ScoreSdeVeScheduler())  # a variance-exploding SDE: no alphas_cumprod, no shift
