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
# Alexander C. Li, Mihir Prabhudesai, Shivam Duggal, Ellis Brown and Deepak Pathak, *Your Diffusion Model is Secretly a
# Zero-Shot Classifier*, ICCV 2023 ([arXiv 2303.16203](https://arxiv.org/abs/2303.16203)), on 2D spirals, in about a
# minute on a laptop CPU. The spirals come from Aditya Mehrotra's blog post
# [*Turning your diffusion model into a classifier*](https://adityamehrotra.ca/blog/Diffusion-Classifier), which walks
# through the same algorithm.
#
# 1. the data
# 2. the forward process $q(x_t \mid x_0)$
# 3. training a class-conditional noise predictor $\epsilon_\theta(x_t, t, c)$
# 4. sampling: what did it learn?
# 5. **the classifier, cell by cell:** denoising error $\approx -\log p(x \mid c)$, then Bayes' rule
# 6. the decision boundary, the scikit-learn way
# 7. turn the knobs: sliders that redraw the map
#
# Every knob is in the next cell; each section ends with a *Try this* to change one and rerun.
# As slides: `python notebooks/slides.py` (works offline).

# %% slideshow={"slide_type": "skip"} tags=["parameters"]
N_SAMPLES = 2000  # training points
N_TEST = 1000  # held-out test points
DATA_NOISE = 0.2  # standard deviation of the points around their spiral arm (the arms are 1 apart)
SCHEDULE_SHIFT = 4.0  # every signal-to-noise ratio of the cosine schedule times SCHEDULE_SHIFT**2 (1: plain cosine)
TRAIN_STEPS = 3000  # training steps
BATCH_SIZE = 256  # points per training step
LEARNING_RATE = 2e-3  # AdamW, decayed to zero on a cosine
N_TRIALS = 32  # Monte Carlo trials (t, eps) per class (a power of two: the slider of section 7 offers 1 .. 256)
N_SHOW = 6  # test points classified by hand in section 5
EVIDENCE_TRIALS = 512  # trials in the picture of one point's errors against the noise level (section 6)
WEIGHTING = "elbo"  # the classifier's w_t in section 6: "elbo" (toyclf's default) or "uniform" (the paper's)
GRID = 150  # the maps are GRID x GRID points
LIVE_GRID = 80  # the map the sliders of section 7 redraw, LIVE_GRID x LIVE_GRID points
SEED = 0

# %% slideshow={"slide_type": "skip"}
import copy
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from toyclf import DiffusionClassifier, MLPDenoiser, NoiseSchedule, make_spirals, probability_map
from toyclf.estimator import class_errors, log_posterior
from toyclf.lecture.experiments.comparison import baseline_classifiers
from toyclf.lecture.experiments.evidence import class_evidence, inside_and_boundary
from toyclf.lecture.plots import keys, maps
from toyclf.lecture.plots.evidence import plot_class_evidence
from toyclf.mapping import make_grid
from toyclf.plan import TrialPlan
from toyclf.sampling import sample
from toyclf.training import train_denoiser

try:  # the sliders of section 7 (pip install -e ".[notebooks]")
    import ipywidgets as widgets
except ImportError:
    widgets = None

plt.rcParams.update({"font.size": 12, "axes.titlesize": 13})
torch.set_num_threads(1)  # small matrices: one thread trains as fast as two, and far faster on a busy laptop
K = 2  # classes: one per spiral arm

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The data: two interlaced spirals
#
# One class per arm; the arms are one unit apart, `DATA_NOISE` blurs them. This figure and the maps of section 6
# are drawn in the data's own (raw) coordinates; sections 2-5 work in the model's standardised ones (next cell).

# %%
X, y = make_spirals(N_SAMPLES + N_TEST, noise=DATA_NOISE, random_state=SEED)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=N_TEST, stratify=y, random_state=SEED)

fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
maps.scatter_classes(ax, X_train, y_train, K, size=10)
ax.set_aspect("equal")
ax.set_title(f"{len(X_train)} training points, 2 classes (raw coordinates)")
keys.class_legend(fig, K)  # class 0, class 1: the colours every figure below uses
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The model works on standardised points (mean 0, variance 1 per coordinate), like the noise it will be mixed with.
# Sections 2-5 draw these standardised points (axes about $\pm 2$); `DiffusionClassifier` (section 6) standardises
# by itself, so its maps are in raw coordinates again.

# %%
scaler = StandardScaler().fit(X_train)
x0_train = torch.tensor(scaler.transform(X_train), dtype=torch.float32)  # [n, 2]
c_train = torch.tensor(y_train)  # [n], class ids
x0_test = torch.tensor(scaler.transform(X_test), dtype=torch.float32)
print("mean", x0_train.mean(0).numpy().round(3), " std", x0_train.std(0).numpy().round(3))

# %% [markdown] slideshow={"slide_type": "fragment"}
# *Try this:* `DATA_NOISE = 0.5` makes the arms touch. Which sections get harder, and does the classifier still keep
# up with the SVM of section 6?
#
# <details><summary>Answer</summary>
#
# Measured with the other settings as they are: the test accuracy falls from 0.987 to 0.766, and the tuned SVM's
# from 0.983 to 0.755. The arms overlap, so no classifier can do much better: the loss is the data's, not the
# method's. The posterior map of section 6 grows a wide white band, and the hand-classified points of section 5 have
# errors much closer to each other.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The forward process
#
# Noise a clean point $x_0$ to level $t \in \{0, \dots, T-1\}$ in one step:
#
# $$q(x_t \mid x_0) = \mathcal{N}\big(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I\big)
# \quad\Longleftrightarrow\quad
# x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \qquad \epsilon \sim \mathcal{N}(0, I)$$
#
# $\bar\alpha_t$ falls from $\approx 1$ (clean) to $\approx 0$ (pure noise); the figures label each step with its
# *signal* $\sqrt{\bar\alpha_t}$, the factor $x_0$ is multiplied by (the noise's is $\sqrt{1 - \bar\alpha_t}$). We use a cosine schedule, shifted by
# `SCHEDULE_SHIFT` $= s$: every signal-to-noise ratio $\bar\alpha_t / (1 - \bar\alpha_t)$ is multiplied by $s^2$,
# which puts more timesteps at the low noise levels where two 2D classes still differ.

# %% slideshow={"slide_type": "subslide"}
schedule = NoiseSchedule.cosine().shifted(SCHEDULE_SHIFT)
T = schedule.num_timesteps
abar = schedule.alphas_cumprod.float()  # [T]

shown_t = [0, 250, 500, 750, 900, T - 1]
eps = torch.randn(x0_train.shape, generator=torch.Generator().manual_seed(SEED))  # [n, 2]
fig, axes = plt.subplots(1, len(shown_t), figsize=(18, 3.6), sharex=True, sharey=True, layout="constrained")
for ax, t in zip(axes, shown_t, strict=True):
    x_t = abar[t].sqrt() * x0_train + (1 - abar[t]).sqrt() * eps  # [n, 2]
    maps.scatter_classes(ax, x_t.numpy(), y_train, K, size=4)
    ax.set_title(rf"$t = {t}$: signal $\sqrt{{\bar\alpha_t}} = {abar[t].sqrt():.2f}$")
    ax.set_aspect("equal")
axes[0].set_xlim(-3, 3)
axes[0].set_ylim(-3, 3)
keys.class_legend(fig, K)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same process in motion (made by `python -m toyclf.animate`, like the three animations below):
#
# ![The spirals dissolving into noise](../figures/forward_process.gif)
#
# *Try this:* `SCHEDULE_SHIFT = 1.0` (the plain cosine schedule): at which $t$ do the arms become unrecognisable now?
#
# <details><summary>Answer</summary>
#
# Much earlier. The noise reaches half the signal ($\sqrt{1 - \bar\alpha_t} / \sqrt{\bar\alpha_t} = 0.5$) at $t \approx 290$
# instead of $t \approx 700$ with the shift of 4, and equals it at $t \approx 500$ instead of $840$: from about
# $t = 300$ the strip shows only noise. Most timesteps then carry no class information, which is why the shift
# helps 2D data (it measured 0.985 against 0.987 here: the classifier's noise range keeps the useful timesteps either
# way).
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Training: predict the noise
#
# The training algorithm of Ho et al. (2020), with the class $c$ as an extra input: draw $(x_0, c)$, $t$ uniform, $\epsilon$,
# and take a gradient step on
#
# $$\mathcal{L}(\theta) = \big\| \epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,
# \epsilon,\ t,\ c\big) \big\|^2$$
#
# (the code takes the mean over the 2 coordinates and the minibatch, which only rescales the gradient).
# $\epsilon_\theta$ is a small MLP: Fourier features of $x_t$, an embedding of $t$, a learned embedding of $c$.
# The loop, written out (in this notebook "Algorithm 1" always means the paper's classifier, section 5):


# %% slideshow={"slide_type": "subslide"}
def train(denoiser, steps, seed):
    generator = torch.Generator().manual_seed(seed)  # minibatches, t and eps: one seeded stream
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    losses = []
    for _ in range(steps):
        i = torch.randint(len(x0_train), (BATCH_SIZE,), generator=generator)  # a minibatch of (x_0, c)
        t = torch.randint(T, (BATCH_SIZE,), generator=generator)  # t ~ U{0, ..., T-1}
        eps = torch.randn(BATCH_SIZE, 2, generator=generator)  # eps ~ N(0, I)
        x_t = abar[t, None].sqrt() * x0_train[i] + (1 - abar[t, None]).sqrt() * eps  # the forward process
        loss = (eps - denoiser(x_t, t, c_train[i])).square().mean()  # || eps - eps_theta ||^2, mean over coordinates
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        decay.step()
        losses.append(loss.item())
    return losses


# %% [markdown] slideshow={"slide_type": "subslide"}
# The package's `train_denoiser` (what `DiffusionClassifier.fit` calls) is this loop: from the same weights and seed,
# a few steps of each give the same losses and the same weights.

# %%
torch.manual_seed(SEED)
denoiser = MLPDenoiser(2, K, schedule)
twin = copy.deepcopy(denoiser)
library_losses = train_denoiser(
    twin, x0_train, c_train, steps=20, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=SEED
)
torch.testing.assert_close(train(denoiser, 20, SEED), library_losses, rtol=1e-4, atol=1e-6)
torch.testing.assert_close(list(denoiser.parameters()), list(twin.parameters()), rtol=1e-4, atol=1e-6)
print("20 steps of the loop above == 20 steps of toyclf.training.train_denoiser")

# %% slideshow={"slide_type": "subslide"}
torch.manual_seed(SEED)
denoiser = MLPDenoiser(2, K, schedule)
start = time.perf_counter()
losses = train(denoiser, TRAIN_STEPS, SEED)
print(f"{TRAIN_STEPS} steps in {time.perf_counter() - start:.0f} s")
maps.plot_loss_curve(losses)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# The loss stays far above 0: from a noisy point alone the noise cannot be told exactly, and most of the loss is that
# irreducible part. Only its class-dependent remainder matters to the classifier.
#
# *Try this:* `TRAIN_STEPS = 300`. The loss curve looks almost as good; watch what it does to the samples and to the
# accuracy below.
#
# <details><summary>Answer</summary>
#
# The test accuracy of section 6 falls from 0.987 to 0.945 and the log loss of its probabilities rises from 0.04
# to 0.18. The loss curve hides it because most of the loss is the irreducible part: the class-dependent remainder,
# the only part the classifier reads, is what the last 2,700 steps learn.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Samples: what did the model learn?
#
# Run the reverse process from pure noise $x_{T-1} \sim \mathcal{N}(0, I)$, once per class (DDPM, the sampling
# algorithm of Ho et al. 2020). Each step first guesses the clean point, clipped to $\pm 1.5 \max |x_0|$ of the
# training data,
#
# $$\hat{x}_0 = \big(x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon_\theta(x_t, t, c)\big) / \sqrt{\bar\alpha_t},$$
#
# then draws $x_{t-1}$ from the forward process run backwards given that guess, $q(x_{t-1} \mid x_t, \hat x_0)$, a
# Gaussian (Ho et al., eqs. 6-7; $\beta_t = 1 - \bar\alpha_t / \bar\alpha_{t-1}$, $z \sim \mathcal{N}(0, I)$):
#
# $$x_{t-1} = \frac{\sqrt{\bar\alpha_{t-1}}\, \beta_t}{1 - \bar\alpha_t}\, \hat x_0
# + \frac{\sqrt{1 - \beta_t}\, (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t
# + \sqrt{\frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\, \beta_t}\; z$$
#
# and the last step returns $\hat x_0$ itself.

# %% slideshow={"slide_type": "subslide"}
abar64, beta = schedule.alphas_cumprod, schedule.betas  # [T] each, float64


@torch.no_grad()
def ddpm_sample(denoiser, labels, clip, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(labels), 2, generator=generator).double()  # x_{T-1} ~ N(0, I)  [n, 2]
    for t in range(T - 1, -1, -1):
        eps_hat = denoiser.predict_noise(x.float(), torch.full_like(labels, t), labels).double()
        x0_hat = ((x - (1 - abar64[t]).sqrt() * eps_hat) / abar64[t].sqrt()).clamp(-clip, clip)
        if t == 0:
            return x0_hat.float()
        z = torch.randn(len(labels), 2, generator=generator)
        mean = (abar64[t - 1].sqrt() * beta[t] * x0_hat + (1 - beta[t]).sqrt() * (1 - abar64[t - 1]) * x) / (
            1 - abar64[t]
        )
        x = mean + ((1 - abar64[t - 1]) / (1 - abar64[t]) * beta[t]).sqrt() * z


labels = torch.arange(len(x0_train)) % K  # half of each class
clip = 1.5 * x0_train.abs().max().item()
generated = ddpm_sample(denoiser, labels, clip, SEED)  # [n, 2]
torch.testing.assert_close(generated, sample(denoiser, labels, method="ddpm", clip=clip, seed=SEED))
print("the loop above == toyclf.sampling.sample(method='ddpm')")

# %% slideshow={"slide_type": "subslide"} tags=["hide-input"]
maps.plot_samples(x0_train.numpy(), y_train, generated.numpy(), labels.numpy(), K, title="DDPM")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ![Each class condensing out of noise](../figures/reverse_sampling.gif)
#
# *Try this:* `sample(denoiser, labels, method="ddpm", clip=None, seed=SEED)`, without the clipping. Which points go
# astray? Pass `each_step=lambda t, x: ...` to record the path and find the steps where they leave.
#
# <details><summary>Answer</summary>
#
# The early steps, where $\sqrt{\bar\alpha_t}$ is tiny: the guess $\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,
# \hat\epsilon) / \sqrt{\bar\alpha_t}$ divides the model's small mistakes by it, and a few points are thrown far
# from the data before later steps can pull them back. The clipping bounds that guess.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The classifier, cell by cell: the paper's Algorithm 1
#
# The training loss is a bound on the likelihood. The evidence lower bound (ELBO) of a diffusion model, for each
# class, is a weighted sum of denoising errors over the timesteps:
#
# $$-\log p(x \mid c) \;\le\; \sum_{t} w_t\, \mathbb{E}_{\epsilon}\, \big\| \epsilon - \epsilon_\theta(x_t, t, c)
# \big\|^2 + C$$
#
# with weights $w_t$ that come from the schedule (notebook 02 derives them) and a constant $C$ that is the same for
# every class. So a **low** error means a **likely** class. The paper drops the weights ($w_t = 1$, the average over
# uniformly drawn $t$), which ranks the classes as well on images; toyclf's classifier keeps the ELBO weights by
# default, which makes its probabilities calibrated.
#
# Bayes' rule turns likelihoods into a posterior:
#
# $$p(c \mid x) = \frac{p(c)\, p(x \mid c)}{\sum_k p(k)\, p(x \mid k)}$$
#
# We do this by hand, in plain torch, with $w_t = 1$ as in the paper, for a few test points (black, numbered).

# %% slideshow={"slide_type": "subslide"} tags=["hide-input"]
x = x0_test[:N_SHOW]  # [B, 2], standardised
c_true = y_test[:N_SHOW]
B = len(x)

fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
maps.scatter_classes(ax, x0_train.numpy(), y_train, K, size=6, alpha=0.3)
ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=160, c="black", marker="*")
for i, (u, v) in enumerate(x.tolist()):
    ax.annotate(str(i), (u, v), xytext=(6, 6), textcoords="offset points", fontsize=14, weight="bold")
ax.set_aspect("equal")
ax.set_title("the points we classify by hand")
keys.class_legend(
    fig, K, extra=[plt.Line2D([], [], color="black", marker="*", markersize=12, linestyle="none", label="test point")]
)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Step 1: one plan of $N$ trials $(t_n, \epsilon_n)$, shared by every class.** Timesteps evenly spaced, centred in
# their bins; noise from a seeded generator. (The paper's printed Algorithm 1 draws $t_n$ at random; its experiments
# and code space them evenly, which its ablation finds best. Either way the estimate is the same mean.)
#
# $$t_n = \Big\lfloor \frac{T}{N} \big(n + \tfrac{1}{2}\big) \Big\rfloor, \qquad \epsilon_n \sim \mathcal{N}(0, I),
# \qquad n = 0, \dots, N - 1$$
#
# Sharing them matters: only the *differences* between classes count, and common noise cancels in a difference.

# %%
n = torch.arange(N_TRIALS, dtype=torch.float64)
t_n = torch.floor(T / N_TRIALS * (n + 0.5)).long()  # [N]
eps_n = torch.randn(N_TRIALS, 2, generator=torch.Generator().manual_seed(SEED))  # [N, 2]
print("t_n =", t_n.tolist())

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Step 2: noise every point with every trial.**
#
# $$x_{t_n} = \sqrt{\bar\alpha_{t_n}}\, x + \sqrt{1 - \bar\alpha_{t_n}}\, \epsilon_n$$

# %%
abar_n = abar[t_n][:, None]  # [N, 1]
x_t = abar_n.sqrt() * x[:, None, :] + (1 - abar_n).sqrt() * eps_n  # [B, N, 2]
x_t.shape

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Step 3: predict the noise under each class** $c_k$: same $x_{t_n}$, same $t_n$, only the label changes.
#
# $$\hat\epsilon_{n,k} = \epsilon_\theta(x_{t_n}, t_n, c_k)$$

# %%
eps_hat = torch.empty(B, K, N_TRIALS, 2)  # [B, K, N, 2]
with torch.no_grad():
    for k in range(K):
        label_k = torch.full((B * N_TRIALS,), k)
        eps_hat[:, k] = denoiser.predict_noise(x_t.reshape(-1, 2), t_n.repeat(B), label_k).reshape(B, N_TRIALS, 2)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Step 4: accumulate the errors.**
#
# $$\mathrm{err}[k] = \frac{1}{N} \sum_{n=0}^{N-1} \big\| \epsilon_n - \hat\epsilon_{n,k} \big\|^2$$

# %%
err = (eps_n - eps_hat).square().sum(-1).mean(-1)  # [B, K]

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Step 5: predict the class with the smallest error.**
#
# $$\hat{c} = \arg\min_k \mathrm{err}[k]$$
#
# **Step 6: the posterior, equal priors.** Mind the **minus sign**: a lower error means a likelier class.
# (The blog post this lecture started from wrote $\mathrm{softmax}(\mathrm{Error})$: that ranks the classes backwards.)
#
# $$p(c_k \mid x) = \mathrm{softmax}_k\big(-\mathrm{err}[k]\big)
# = \frac{e^{-\mathrm{err}[k]}}{\sum_j e^{-\mathrm{err}[j]}}$$

# %%
prediction = err.argmin(dim=1)  # [B]
posterior = torch.softmax(-err, dim=1)  # [B, K]

print(" point  true   err[0]   err[1]   predicted   p(0|x)  p(1|x)")
for i in range(B):
    e0, e1 = err[i].tolist()
    p0, p1 = posterior[i].tolist()
    print(f"{i:6d} {c_true[i]:5d} {e0:8.3f} {e1:8.3f} {prediction[i].item():11d} {p0:8.3f} {p1:7.3f}")
print(f"correct: {(prediction.numpy() == c_true).sum()} of {B}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# With $w_t = 1$ the error is not the ELBO: its weights differ from the ELBO's by a factor that changes with $t$. It
# still ranks the classes, and acts roughly like $-\log p(x \mid c)$ on another scale (notebook 02 measures how
# far), so these probabilities are not calibrated: a temperature, $\mathrm{softmax}(-\mathrm{err} / \tau)$ with $\tau$ fitted on held-out data, fixes that without
# changing the argmin.
#
# **The package does exactly this.** `class_errors` runs steps 2-4 in batches on a plan of $(t_n, \epsilon_n)$
# trials, here the one built by hand above.

# %%
plan = TrialPlan(timesteps=t_n, noise=eps_n)
torch.testing.assert_close(class_errors(denoiser, x, plan), err)
torch.testing.assert_close(log_posterior(err).exp().float(), posterior)
print("hand-built errors and posterior == toyclf.estimator.class_errors / log_posterior")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Its own plans (`toyclf.plan.make_plan`) differ in two ways that only make them better: the noise comes from a
# scrambled Sobol sequence, which fills the space more evenly than independent draws, and the same evenly spaced
# timesteps come in van der Corput order, so that every prefix of the plan is evenly spaced too. That lets the
# estimator add trials a few at a time and stop, point by point, once the answer is settled (*early stopping*,
# `toyclf.pruning.EarlyStopping`): points far from the boundary cost a few trials, points on it the most.
#
# *Try this:* `N_TRIALS = 2`. How many of the points above change their answer? Then swap `eps_n` for fresh noise
# (another seed) and rerun steps 2-6: which points are unstable?
#
# <details><summary>Answer</summary>
#
# With the seed as given, 3 of the 6 points change; with the seeds 1, 2 and 3 for `eps_n`, 2, 1 and 2 of them. The
# unstable ones are those whose two errors are close with 32 trials (point 2: 1.69 against 1.70), the stable ones
# those with a wide gap (points 0 and 1). Over the whole test set two trials give an accuracy of 0.81 to 0.88,
# 32 trials 0.98.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The decision boundary, the scikit-learn way
#
# `DiffusionClassifier` puts sections 1-5 (standardise, train $\epsilon_\theta$, score every class on one shared
# plan) behind `fit` / `predict` / `predict_proba`, with four defaults that section 5 did not use, each chosen by a
# measurement (notebook 02 and `benchmarks/`):
#
# - **ELBO weights** $w_t$ instead of $w_t = 1$, so that $\mathrm{softmax}(-\mathrm{err})$ is the model's own,
#   calibrated posterior (`weighting`);
# - a **noise range**: only timesteps whose noise-to-signal ratio $\sigma_t / \alpha_t$ lies in $(0.03, 10)$ count,
#   the two ends where the ELBO weights explode and a model's small errors, not the classes, decide (`noise_range`);
# - **Sobol noise**: the shared $\epsilon_n$ from a scrambled Sobol sequence, evener than independent draws
#   (`noise_sampling`);
# - **early stopping**: each point stops adding trials once its answer is settled (`pruning`).
#
# `DiffusionClassifier(**toyclf.PAPER)` is exactly the estimator of section 5 instead (uniform weights, every
# timestep, Gaussian noise, every trial).

# %%
clf = DiffusionClassifier(
    max_iter=TRAIN_STEPS,
    batch_size=BATCH_SIZE,
    learning_rate=LEARNING_RATE,
    schedule_shift=SCHEDULE_SHIFT,
    n_trials=N_TRIALS,
    weighting=WEIGHTING,
    random_state=SEED,
).fit(X_train, y_train)
accuracy = clf.score(X_test, y_test)
svm = baseline_classifiers(SEED)["RBF SVM"]  # C and gamma tuned by 5-fold cross-validation, as in the README
svm_accuracy = svm.fit(X_train, y_train).score(X_test, y_test)
print(f"test accuracy: diffusion classifier {accuracy:.3f}, tuned RBF SVM {svm_accuracy:.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Why a lower error means a likelier class.** For one point, the error of each class on every trial, against the
# noise level (top), and Algorithm 1's estimate after the first $n$ trials (bottom). With ELBO weights the error is
# an integral over the log signal-to-noise ratio $\lambda_t = \log(\bar\alpha_t / (1 - \bar\alpha_t))$,
#
# $$-\log p(x \mid c) \le \tfrac{1}{2} \int \mathbb{E}_\epsilon \big\| \epsilon - \epsilon_\theta(x_t, t, c)
# \big\|^2 \, d\lambda + C,$$
#
# so where the curves separate is where the class information lives, and half the signed area between them (shaded
# in the colour of the class it favours) is the ELBO's estimate of the log-likelihood ratio
# $\log p(x \mid 0) - \log p(x \mid 1)$, what Bayes' rule is given (notebook 02 compares it with the exact ratio).
# Deep inside a class the curves part over most noise levels; on the boundary they cross and recross, and the two
# colours nearly cancel. At the noisy end (right) every class
# predicts the noise equally well: nothing of $x$ is left to tell them apart.

# %% slideshow={"slide_type": "subslide"} tags=["hide-input"]
inside, edge = inside_and_boundary(clf, X_test[:500])
evidence = class_evidence(clf, X_test[[inside, edge]], n_trials=EVIDENCE_TRIALS)
plot_class_evidence(evidence, [0, 1], ["a point deep inside a class", "a point on the boundary"])
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The map of a grid: left, the predicted class; right, $p(c \mid x)$ (white where the model is unsure)
# with the decision boundary in black, the line where $p(c \mid x) = 0.5$. `probability_map` classifies a coarse grid and refines only where
# neighbouring points disagree on the class or are unsure; the rest of the grid is interpolated.

# %% slideshow={"slide_type": "subslide"} tags=["hide-input"]
xx, yy, _ = make_grid(X_train, GRID)
proba, classified = probability_map(clf, xx, yy, return_evaluated=True)  # [GRID, GRID, K], [GRID, GRID]
print(f"classified {classified.mean():.0%} of the {GRID}x{GRID} points")

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6), sharex=True, sharey=True, layout="constrained")
maps.draw_decision(left, xx, yy, proba)
maps.draw_posterior(right, xx, yy, proba)
for ax, title in [(left, "decision: argmin of the error"), (right, r"posterior $p(c \mid x)$")]:
    maps.scatter_classes(ax, X_test, y_test, K, size=8, alpha=0.7, edgecolors="black", linewidths=0.3)
    ax.set_title(title)
    ax.set_aspect("equal")
fig.suptitle(f"Diffusion classifier: test accuracy {accuracy:.3f}")
keys.posterior_colorbar(fig, right, K)
keys.class_legend(fig, K, extra=[keys.boundary_handle()])
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# The classifier gathering evidence: the posterior with every class on 1, 2, 4, ... 256 shared $(t, \epsilon)$
# trials; and per-point early stopping, which decides most of the map after a few trials (grey: still running).
#
# ![The map as the trials double](../figures/gathering_evidence.gif) ![Early stopping, look by look](../figures/early_stopping.gif)
#
# *Try this:* `WEIGHTING = "uniform"` (the paper's choice): does the accuracy move? Does the posterior map get
# flatter or sharper, and why (section 5)?
#
# <details><summary>Answer</summary>
#
# The accuracy hardly moves (0.986 against 0.987): both weightings rank the classes alike. The map gets flatter,
# with a wider white band, and the log loss rises from 0.04 to 0.18: with $w_t = 1$ the errors are not on the scale of
# $-\log p(x \mid c)$, so $\mathrm{softmax}(-\mathrm{err})$ is not the model's posterior. A fitted temperature
# (`clf.calibrate(X_val, y_val)`) sharpens it again without moving the boundary.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Turn the knobs
#
# The estimator's settings can change after `fit` (`clf.set_params(...)`, as for any scikit-learn estimator); the
# denoiser stays the same. Each slider redraws the posterior map of a `LIVE_GRID` x `LIVE_GRID` grid:
#
# - **trials**: the most trials $(t, \epsilon)$ per class; early stopping gives most points far fewer;
# - **noise range**: only timesteps whose noise-to-signal ratio $\sigma_t / \alpha_t =
#   \sqrt{(1 - \bar\alpha_t) / \bar\alpha_t}$ lies in this range count (log10 scale); the title gives their $t$;
# - **noise**: how the shared $\epsilon_n$ are drawn: independent Gaussians (the paper), a scrambled Sobol sequence
#   (evener, toyclf's default), or antithetic twins $\pm\epsilon$;
# - **temperature** $\tau$: $p(c \mid x) = \mathrm{softmax}_c(-\mathrm{err}_c / \tau + \log p(c))$; the decisions
#   do not move, the probabilities sharpen ($\tau < 1$) or flatten ($\tau > 1$).

# %% slideshow={"slide_type": "subslide"} tags=["hide-input"]
live = copy.deepcopy(clf)  # the sliders change its settings, not clf's
xx_live, yy_live, _ = make_grid(X_train, LIVE_GRID)
noise_to_signal = ((1 - abar) / abar).sqrt()  # [T], increasing in t


default_range = tuple(np.log10(clf.noise_range).round(2))  # the classifier's own, on the slider's log10 scale


def redraw(n_trials=N_TRIALS, log10_noise_range=default_range, noise="sobol", temperature=1.0):
    low, high = 10.0 ** np.asarray(log10_noise_range)
    live.set_params(n_trials=n_trials, noise_range=(low, high), noise_sampling=noise, temperature=temperature)
    start = time.perf_counter()
    proba = probability_map(live, xx_live, yy_live)  # [LIVE_GRID, LIVE_GRID, K]
    seconds = time.perf_counter() - start
    kept = torch.nonzero((noise_to_signal >= low) & (noise_to_signal <= high)).flatten()  # the timesteps that count
    fig, ax = plt.subplots(figsize=(7, 6.5), layout="constrained")
    maps.draw_posterior(ax, xx_live, yy_live, proba)
    keys.posterior_colorbar(fig, ax, K)
    keys.class_legend(fig, K, extra=[keys.boundary_handle()])
    maps.scatter_classes(ax, X_test, y_test, K, size=5, alpha=0.4)
    ax.set_aspect("equal")
    t_range = f"t in [{kept.min()}, {kept.max()}]" if len(kept) else "no timestep"
    ax.set_title(f"{n_trials} trials, {t_range}, {noise} noise, tau = {temperature:.2f}\nredrawn in {seconds:.2f} s")
    plt.show()
    return seconds


seconds = redraw()  # the default settings, drawn once so the figure is there without sliders
print(f"one redraw of the {LIVE_GRID}x{LIVE_GRID} map: {seconds:.2f} s")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Move a slider and the map above is redrawn below in about the time printed there (run the notebook in Jupyter with
# `pip install -e ".[notebooks]"`; a page on GitHub shows no sliders).

# %% slideshow={"slide_type": "skip"}
if widgets is None:
    print('No ipywidgets: pip install -e ".[notebooks]" for the sliders.')
else:
    controls = {
        "n_trials": widgets.SelectionSlider(options=[2**k for k in range(9)], value=N_TRIALS, description="trials"),
        "log10_noise_range": widgets.FloatRangeSlider(
            value=default_range, min=-3.0, max=2.5, step=0.01, description="noise range"
        ),
        "noise": widgets.Dropdown(options=["gaussian", "sobol", "antithetic"], value="sobol", description="noise"),
        "temperature": widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.1, description="temperature"),
    }
    controls["n_trials"].continuous_update = False  # redraw when the slider is let go, not at every tick
    controls["log10_noise_range"].continuous_update = False
    controls["temperature"].continuous_update = False
    display(widgets.interactive(redraw, **controls))

# %% [markdown] slideshow={"slide_type": "fragment"}
# *Try this:* one trial with Gaussian noise, then with Sobol noise; a noise range that keeps only the noisiest
# timesteps (right end): what does the map look like when no timestep can tell the classes apart?
#
# <details><summary>Answer</summary>
#
# With one trial the map depends on that one draw, with either noise: a blotchy boundary that finds the arms only
# roughly (evenness pays only when there are many trials to spread). With only the noisiest timesteps (noise range
# about 3 to 10) the map goes nearly white, $p(c \mid x) \approx 0.5$ everywhere, and its boundary is a gentle curve
# across the plane that ignores the spirals: at that noise nothing of $x$ is left to tell the classes apart. The
# lecture deck (`notebooks/00_lecture.ipynb`, "What the knobs do") shows both.
#
# </details>
