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

# %% [markdown] slideshow={"slide_type": "slide"}
# # Your diffusion model is secretly a classifier
#
# Li, Prabhudesai, Duggal, Brown, Pathak, ICCV 2023 ([arXiv 2303.16203](https://arxiv.org/abs/2303.16203))
#
# **By the end of this class you can**
#
# 1. turn any class-conditional diffusion model into a classifier, with Bayes' rule and the right sign;
# 2. write the paper's Algorithm 1 in ten lines, and say why every class must share the same $(t, \epsilon)$;
# 3. read one point's denoising errors against the noise level, and see the class evidence in them;
# 4. say what it costs, when its probabilities can be trusted, and how a text prompt becomes a class.

# %% [markdown] slideshow={"slide_type": "notes"}
# **0:00-2:00.** Welcome. The claim of the paper fits in its title: a model trained only to *generate* images can
# *classify* them, with no extra training, by asking which caption explains the image best. Read the four objectives
# aloud; they are the recap slide at the end. Ask the room: "who has trained a diffusion model? who has used one as a
# classifier?" This deck is `notebooks/00_lecture.ipynb`; every figure in it is computed by toyclf on a laptop CPU.

# %% slideshow={"slide_type": "skip"} tags=["parameters"]
N_SAMPLES = 2000  # training points of the spirals
N_TEST = 1000  # held-out test points
TRAIN_STEPS = 3000  # training steps of the noise predictor
N_TRIALS = 32  # Monte Carlo trials (t, eps) per class
EVIDENCE_TRIALS = 512  # trials in the picture of one point's errors
GRID = 120  # the maps are GRID x GRID points
STRIP_GRID = 60  # the strips of small maps
SEED = 0

# %% slideshow={"slide_type": "skip"}
import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from sklearn.model_selection import train_test_split

from toyclf import PAPER, DiffusionClassifier, make_spirals, probability_map
from toyclf.estimator import class_errors
from toyclf.lecture.experiments.calibration_settings import calibration_settings
from toyclf.lecture.experiments.evidence import class_evidence, inside_and_boundary
from toyclf.lecture.plots import maps
from toyclf.lecture.plots.ablations import plot_reliability
from toyclf.lecture.plots.evidence import plot_class_evidence
from toyclf.lecture.plots.strips import plot_map_strip, plot_noising_strip
from toyclf.mapping import make_grid

plt.rcParams.update({"figure.dpi": 100, "font.size": 16, "axes.titlesize": 18, "legend.fontsize": 16})
torch.set_num_threads(1)
K = 2

X, y = make_spirals(N_SAMPLES + N_TEST, noise=0.2, random_state=SEED)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=N_TEST, stratify=y, random_state=SEED)
clf = DiffusionClassifier(max_iter=TRAIN_STEPS, n_trials=N_TRIALS, random_state=SEED).fit(X_train, y_train)
accuracy = clf.score(X_test, y_test)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The claim: zero-shot, by prompt
#
# Stable Diffusion 2.0, no extra training, the class names as prompts; top-1 accuracy (%), the paper's Table 1:
#
# | | Food | CIFAR-10 | Aircraft | Pets | Flowers | STL-10 | ImageNet | ObjectNet |
# |---|---:|---:|---:|---:|---:|---:|---:|---:|
# | **Diffusion Classifier** | 77.9 | **87.1** | **24.3** | **86.2** | 59.4 | **95.3** | **58.9** | 38.3 |
# | CLIP ResNet-50 | **81.1** | 75.6 | 19.3 | 85.4 | **65.9** | 94.3 | 58.2 | **40.0** |
# | OpenCLIP ViT-H/14 | 92.7 | 97.3 | 42.3 | 94.6 | 79.9 | 98.3 | 76.8 | 69.2 |
#
# A generative model, used as it is, matches a contrastive model of its size.

# %% [markdown] slideshow={"slide_type": "notes"}
# **2:00-5:00.** The numbers are from the paper's Table 1. Diffusion Classifier beats CLIP ResNet-50 on six of
# eight datasets; OpenCLIP ViT-H/14, a far larger contrastive model, is still ahead everywhere. Stress "zero-shot": the
# classes are only text prompts ("a photo of a {class}"). Ask: "how can a model that only learned to remove noise
# know what a dog is?" Answer at the end of the Bayes slide. Today we build the whole method on 2D points, where
# every number can be checked, and come back to images at minute 39.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Today, in 50 minutes
#
# | min | | min | |
# |---:|---|---:|---|
# | 0 | the claim | 24 | **the picture: why a lower error means a likelier class** |
# | 5 | the forward process | 28 | decision and posterior maps |
# | 9 | training: predict the noise | 32 | the cost, and how to cut it |
# | 13 | Bayes' rule, with the sign | 36 | can we trust the probabilities? |
# | 17 | Algorithm 1, step by step | 39 | zero-shot by prompt |
# | | | 44 | limitations, 47 summary |

# %% [markdown] slideshow={"slide_type": "notes"}
# **The plan, 30 seconds.** Point at minute 24: the one picture to remember. Exercises for after class are in
# `notebooks/06_exercises.ipynb`; they check the students' code and say in words what is wrong.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The forward process: noise a point in one step
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \qquad \epsilon \sim \mathcal{N}(0, I),
# \qquad \bar\alpha_t: 1 \rightarrow 0 \text{ as } t: 0 \rightarrow T - 1$$

# %% slideshow={"slide_type": "-"} tags=["hide-input"]
schedule = clf.denoiser_.schedule
signal = schedule.alphas_cumprod.sqrt().numpy()  # [T] sqrt(abar_t)
x0 = clf.scaler_.transform(X_train)  # [n, 2], standardised
eps = np.random.default_rng(SEED).standard_normal(x0.shape)
steps = [0, 250, 500, 750, 900, schedule.num_timesteps - 1]
plot_noising_strip(x0, y_train, K, signal[steps], eps, steps)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# **5:00-9:00.** Two interlaced spirals, one class per arm, standardised. Read the equation left to right: keep
# $\sqrt{\bar\alpha_t}$ of the point, add $\sqrt{1 - \bar\alpha_t}$ of fresh Gaussian noise. "Signal" in the titles is
# $\sqrt{\bar\alpha_t}$. By t = 750 the arms are gone; at the end it is pure noise. Ask: "at which t could you still
# tell the classes apart by eye?" Keep that answer: the picture at minute 24 measures it.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Forward, and back
#
# ![The spirals dissolving into noise](../figures/forward_process.gif)
# ![Each class condensing out of noise](../figures/reverse_sampling.gif)

# %% [markdown] slideshow={"slide_type": "notes"}
# Left: the forward process in motion. Right: the model runs it backwards from pure noise, once per class (DDPM
# sampling); each class condenses onto its own arm. The first and last frames hold for a few seconds. This is the
# generative model we will turn into a classifier: it learned p(x | c) for each class.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Training: predict the noise
#
# Draw $(x_0, c)$, $t$ uniform, $\epsilon$; one gradient step on
# $\ \mathcal{L}(\theta) = \big\| \epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,
# \epsilon,\ t,\ c) \big\|^2$
#
# ```python
# for step in range(steps):
#     i = torch.randint(len(x0), (batch,))              # a minibatch of (x_0, c)
#     t = torch.randint(T, (batch,))                    # t ~ U{0, ..., T-1}
#     eps = torch.randn(batch, 2)                       # eps ~ N(0, I)
#     x_t = abar[t, None].sqrt() * x0[i] + (1 - abar[t, None]).sqrt() * eps
#     loss = (eps - model(x_t, t, c[i])).square().mean()
#     optimizer.zero_grad(); loss.backward(); optimizer.step()
# ```
#
# $\epsilon_\theta$: a small MLP (Fourier features of $x_t$, an embedding of $t$, one of $c$); 3,000 steps, seconds on
# a laptop.

# %% [markdown] slideshow={"slide_type": "notes"}
# **9:00-13:00.** The training loop of Ho et al. (2020) with the class as an extra input; nothing in it mentions
# classification. Notebook 01 runs exactly this loop and checks it against `toyclf.training.train_denoiser`. The loss
# never reaches 0: from a noisy point alone the noise cannot be told exactly. Ask: "if the loss is mostly
# irreducible noise, where could class information hide?" (In the small part that differs between classes.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## What did it learn?

# %% tags=["hide-input"]
generated, generated_labels = clf.sample(N_SAMPLES, random_state=SEED)
fig = maps.plot_samples(X_train, y_train, generated, generated_labels, K, title="DDPM")
fig.set_size_inches(11, 5.4)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Samples from each class's model next to the training data. If the samples look right, the model knows
# p(x | c) well, and that is all Bayes' rule needs.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Bayes' rule, with the sign
#
# The training loss bounds the likelihood (the ELBO), with a constant $C$ shared by the classes:
#
# $$-\log p(x \mid c) \;\le\; \mathbb{E}_{t, \epsilon}\big[\, w_t \,\| \epsilon - \epsilon_\theta(x_t, t, c) \|^2 \big]
# + C \;=\; \mathrm{err}(x, c) + C$$
#
# $$p(c \mid x) = \frac{p(c)\, p(x \mid c)}{\sum_k p(k)\, p(x \mid k)}
# \;\approx\; \mathrm{softmax}_c\big(\!-\mathrm{err}(x, c) + \log p(c)\big)$$
#
# **Lower error, likelier class.** $\mathrm{softmax}(+\mathrm{err})$ ranks every class backwards.

# %% [markdown] slideshow={"slide_type": "notes"}
# **13:00-17:00.** The whole idea. Each class's denoising error is (up to the shared constant) its negative
# log-likelihood, so Bayes' rule is a softmax of *minus* the errors. A blog post this lecture drew on wrote
# softmax(Error): it gives the worst class the highest probability. Ask the room to find the sign in the equation
# before you reveal the last line. Answer to the earlier question: the model knows what a dog is because it learned
# p(image | "a dog"); Bayes does the rest. The constant C cancels in the softmax: only differences of errors count.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Algorithm 1, step by step
#
# For a point $x$ and classes $c_1, \dots, c_K$:
#
# 1. draw **one** plan of $N$ trials $(t_n, \epsilon_n)$: the same for every class;
# 2. noise the point with each trial: $x_{t_n} = \sqrt{\bar\alpha_{t_n}}\, x + \sqrt{1 - \bar\alpha_{t_n}}\, \epsilon_n$;
# 3. predict the noise under every class: $\hat\epsilon_{n,k} = \epsilon_\theta(x_{t_n}, t_n, c_k)$;
# 4. average: $\mathrm{err}[k] = \frac{1}{N} \sum_n w_{t_n} \| \epsilon_n - \hat\epsilon_{n,k} \|^2$;
# 5. predict $\arg\min_k \mathrm{err}[k]$; posterior $\mathrm{softmax}_k(-\mathrm{err}[k])$.
#
# **Why share $(t_n, \epsilon_n)$?** Only differences between classes count: the noise common to both cancels in
# $\mathrm{err}[a] - \mathrm{err}[b]$.

# %% [markdown] slideshow={"slide_type": "notes"}
# **17:00-20:00.** Walk through the five steps. Step 1 is the one students get wrong: with a fresh eps per class the
# comparison is between two different noisy images, and the variance of the difference is far larger (notebook 02
# measures it). The paper's printed algorithm draws t at random; its code and experiments space t evenly, which
# toyclf does. Ask: "how many network evaluations does one point cost?" (K x N: here 2 x 32.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Algorithm 1 in torch


# %%
def algorithm_1(model, x, t, eps, abar, n_classes):
    """x [B, 2]; one plan for every class: t [N], eps [N, 2]."""
    B, N = len(x), len(t)
    a = abar[t][:, None]  # [N, 1]
    x_t = a.sqrt() * x[:, None] + (1 - a).sqrt() * eps  # [B, N, 2]
    x_t, t_all, eps_all = x_t.reshape(B * N, 2), t.repeat(B), eps.repeat(B, 1)
    err = torch.empty(B, n_classes)
    for k in range(n_classes):  # same x_t, same t: only the label changes
        eps_hat = model(x_t, t_all, torch.full((B * N,), k))  # [B*N, 2]
        err[:, k] = (eps_all - eps_hat).square().sum(-1).view(B, N).mean(-1)
    return err.argmin(1), torch.softmax(-err, dim=1)  # [B], [B, K]


# %% tags=["hide-input"]
plan = clf.trial_plan()
x = torch.as_tensor(clf.scaler_.transform(X_test[:200]), dtype=torch.float32)  # [200, 2]
with torch.no_grad():
    prediction, posterior = algorithm_1(
        clf.denoiser_.predict_noise, x, plan.timesteps, plan.noise, schedule.alphas_cumprod.float(), K
    )
library = class_errors(clf.denoiser_, x, plan)  # toyclf.estimator: the same estimate, batched
agree = (prediction == library.argmin(1)).float().mean().item()
display(
    Markdown(
        f"Checked against `toyclf.estimator.class_errors` on the same plan: the same class for {agree:.0%} of 200 test points."
    )
)

# %% [markdown] slideshow={"slide_type": "notes"}
# **20:00-24:00.** Ten lines: noise once, predict under every class, average the squared errors, argmin and
# softmax(-err). The printout checks it against the package's estimator on the same plan (uniform weights here,
# w_t = 1, the paper's choice). This is the code of the exercises notebook's fourth exercise.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The picture: one point's errors against the noise level

# %% tags=["hide-input"]
inside, edge = inside_and_boundary(clf, X_test[:500])
evidence = class_evidence(clf, X_test[[inside, edge]], n_trials=EVIDENCE_TRIALS)
plot_class_evidence(evidence, [0, 1], ["a point deep inside a class", "a point on the boundary"], figsize=(12.4, 5.7))
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# **24:00-28:00. The slide to remember.** Top: the error of each class on each trial (dots) and its average along
# the noise level (lines); noise grows to the right. With the ELBO weights, -log p(x | c) is half the integral of
# this error over log SNR (a bound), so half the signed area between the two curves, shaded in the colour of the class
# it favours, is the ELBO's estimate of the log-likelihood ratio: the number Bayes' rule is given. Left, a point deep
# inside a class: the curves part over most noise levels, and the ratio is large. Right, a point on the boundary: the
# curves cross, the two colours nearly cancel, the ratio is near 0. At the noisy end every class predicts the noise
# equally well. Bottom: Algorithm 1's running estimate as trials are added; it settles after a few dozen. Ask: "where
# would you spend your trials?" (Where the curves part: that is why toyclf keeps a noise range.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The whole plane: decision and posterior

# %% tags=["hide-input"]
xx, yy, _ = make_grid(X_train, GRID)
proba = probability_map(clf, xx, yy)  # [GRID, GRID, K]
fig = maps.plot_posterior_map(xx, yy, proba, X_test, y_test, title=f"test accuracy {accuracy:.3f}")
fig.set_size_inches(12.4, 5.6)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# **28:00-30:00.** Left: p(class 1 | x) for every point of the plane, white where the model is unsure, the boundary
# (p = 0.5) in black, held-out points on top. Right: the uncertainty, the entropy of the posterior. The accuracy is on
# held-out points; a tuned RBF SVM gets the same on this data (README). The uncertain band follows the gap between
# the arms, exactly where the data blur into each other.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## What the knobs do

# %% tags=["hide-input"]
xx_s, yy_s, _ = make_grid(X_train, STRIP_GRID)
knob = copy.deepcopy(clf)
panels = []
for n in (1, 4, 16, 64):
    knob.set_params(n_trials=n, pruning=None)
    panels.append((f"{n} trial{'s' if n > 1 else ''}", probability_map(knob, xx_s, yy_s)))
knob.set_params(n_trials=N_TRIALS, pruning=clf.pruning)
for label, settings in [
    ("only the noisiest t", {"noise_range": (3.0, 10.0)}),
    ("temperature 0.25", {"temperature": 0.25}),
    ("temperature 4", {"temperature": 4.0}),
    ("the paper's settings", PAPER),
]:
    panels.append((label, probability_map(copy.deepcopy(knob).set_params(**settings), xx_s, yy_s)))
plot_map_strip(xx_s, yy_s, panels, X=X_test, y_index=y_test, n_columns=4, figsize=(12.4, 5.7))
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# **30:00-32:00.** The sliders of notebook 01, frozen. Top row: the map with 1, 4, 16 and 64 shared trials; one trial
# already finds the spirals, more trials smooth the boundary. Bottom row: keeping only the noisiest timesteps (no class
# information left: a blurred map), a temperature that sharpens or flattens the probabilities without moving the
# boundary, and the paper's settings (uniform weights, every t: the same boundary, probabilities too flat to be
# read). The animation `figures/gathering_evidence.gif` shows the top row in motion.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The cost, and how to cut it
#
# Every class on every trial: $K \times N$ network passes per point. Two ways to spend fewer:
#
# - **Algorithm 2** (the paper): score all classes on a few trials, keep the best, add trials for the survivors only
#   (ImageNet: 1000 classes, stages 50 / 100 / 500 / 1000 trials keeping 500 / 50 / 10 / 1: 100,000 passes, not 10⁶);
# - **early stopping** (toyclf's default): each point stops once its answer is settled.

# %% tags=["hide-input"]
_, trials = clf.class_errors(X_test, return_trials=True)  # [n, K] trials each class received
spent = trials.sum(1).mean()
every = copy.deepcopy(clf).set_params(pruning=None)
same = (every.predict(X_test) == clf.predict(X_test)).mean()
display(
    Markdown(
        f"**Measured, {N_TEST} held-out points:** early stopping spends {spent:.0f} network passes a point instead "
        f"of {K * N_TRIALS} ({K * N_TRIALS / spent:.1f} x fewer) and gives the same class for {same:.1%} of them."
    )
)

# %% [markdown] slideshow={"slide_type": "notes"}
# **32:00-34:00.** Cost is the method's weak point: every class on every trial. Algorithm 2 prunes *classes* (after a
# few trials the hopeless ones are dropped: 10x fewer passes on ImageNet); early stopping prunes *trials*, point by
# point. The numbers are measured on the held-out points just now. Ask: "which points need the most trials?"

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Early stopping, look by look
#
# ![Early stopping on a grid: decided points in colour, the evaluations spent on the right](../figures/early_stopping.gif)

# %% [markdown] slideshow={"slide_type": "notes"}
# **34:00-36:00.** Far from the boundary a few trials settle the answer; on the boundary a point runs to the end.
# Grey points are still running; the colour map on the right is what each point cost so far. Answer to the question:
# the points on the boundary, the same points whose error curves crossed on the picture.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Can we trust the probabilities?

# %% tags=["hide-input"]
half = N_TEST // 2
settings = calibration_settings(copy.deepcopy(clf), X_test[:half], y_test[:half], X_test[half:], y_test[half:])
fig = plot_reliability(settings, y_test[half:], figsize=(12.4, 5.6), legend_fontsize=16)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# **36:00-39:00.** A reliability diagram: of the points given probability 0.8, are 80 % right? With the paper's uniform
# weights at temperature 1 (blue) the curve is far above the diagonal: the probabilities are too flat, because the
# uniform error is not on the log-likelihood scale. The ELBO weights (green) are calibrated at temperature 1, as the
# bound promises; a fitted temperature fixes the uniform weights too (orange). The paper reports only the argmin, which
# none of this changes. ECE: expected calibration error.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Zero-shot by prompt: a tiny Stable Diffusion
#
# ![What the tiny Stable Diffusion draws for each prompt; the held-out pairs in red](../figures/shapes_samples.png)

# %% [markdown] slideshow={"slide_type": "notes"}
# **39:00-41:00.** Shipped with toyclf: a Stable Diffusion in miniature (autoencoder, CLIP text encoder, UNet with
# cross-attention, 1 M parameters) trained from scratch on captioned 32 x 32 scenes, in half an hour on a laptop.
# These are its samples for each prompt; the pairs outlined in red it never saw in training ("a blue circle"). The
# classifier is the same estimator: the classes are prompts, the denoiser is the pipeline's UNet.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Classify by prompt, against a CLIP of the same size
#
# Accuracy on 150 new scenes per set, diffusion classifier / tiny CLIP trained on the same scenes:
#
# | scenes | the shape | the colour | shape and colour |
# |---|---:|---:|---:|
# | pairs seen in training | 0.94 / 0.99 | 1.00 / 1.00 | 0.92 / 0.99 |
# | **pairs never seen** | 0.41 / 0.01 | 0.87 / 1.00 | **0.91 / 0.03** |
# | paint-program drawings | 0.90 / 0.74 | 0.91 / 1.00 | **0.97 / 0.79** |
#
# Chance: 0.33 / 0.25 / 0.08. `python benchmarks/shapes_zero_shot_benchmark.py`

# %% [markdown] slideshow={"slide_type": "notes"}
# **41:00-44:00.** The prompts are all colour-shape captions ("a red square"). On pairs both models saw, CLIP is
# better. On pairs neither saw in training, the diffusion classifier still names both attributes (0.91) and CLIP
# almost never does (0.03): a generative model composes "blue" and "circle", a contrastive one memorised its pairs.
# Drawings, a new style, show the same. The shape-only prompt on unseen pairs is near chance, and that is Bayes-correct:
# "a circle" was only ever true of non-blue circles. Notebook 03 runs it.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Limitations
#
# - **Cost:** $K \times N$ network passes per image. The paper: about 100 UNet passes a second on an RTX 3090, so
#   18 s (Pets) to **1000 s (ImageNet) per image**; CLIP needs one pass.
# - **The bound is not the likelihood:** the ELBO's gap may differ by class; uniform weights rank well but are not
#   probabilities (notebook 02 measures the gap against the exact likelihood).
# - **Binding:** swapping who-is-left-of-whom fools it (Winoground-style pairs, notebook 03).
# - **Priors:** equal class priors unless given; the prompt wording is part of the model.

# %% [markdown] slideshow={"slide_type": "notes"}
# **44:00-47:00.** Be honest about the cost: three orders of magnitude slower than CLIP. Pruning helps by a factor
# of a few to ten, not a thousand. The ELBO gap: the method needs only the *differences* between classes; notebook 02
# computes the exact log-likelihood of the toy by the probability-flow ODE and checks how much of the gap cancels.
# Ask: "where would this be worth the cost?" (Robustness, compositional prompts, a generative model you already have.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary
#
# 1. A conditional diffusion model is a classifier: $p(c \mid x) \approx \mathrm{softmax}_c(-\mathrm{err}(x, c))$,
#    the errors from **one shared** set of trials $(t, \epsilon)$.
# 2. The class evidence lives where the error curves separate; half the signed area between them is the ELBO's
#    estimate of the log-likelihood ratio.
# 3. With ELBO weights the probabilities are calibrated; cost is $K \times N$ passes, cut by pruning.
# 4. The classes can be prompts: zero-shot, and it composes attributes it never saw together.
#
# **Read:** Li et al. 2023 (arXiv 2303.16203); Ho et al. 2020 (DDPM); Kingma et al. 2021 (Variational Diffusion
# Models: the ELBO as an integral over log SNR). **Practise:** `notebooks/06_exercises.ipynb`.

# %% [markdown] slideshow={"slide_type": "notes"}
# **47:00-50:00.** Recap the four objectives of the first slide, one line each. Questions. Point to the exercises:
# students write the forward process, one class's error, Bayes' rule, Algorithm 1 and a decision map, and a checker
# tells them in words what is wrong (a flipped sign, abar for sqrt(abar), a fresh eps per class).
