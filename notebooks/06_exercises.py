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
# # Exercises: write the diffusion classifier yourself
#
# Five functions, from the forward process to a decision map, that together are the classifier of Li et al.
# (ICCV 2023) as notebook 01 builds it cell by cell:
#
# 1. the forward process: noise a point
# 2. one class's denoising error
# 3. Bayes' rule: the posterior from the errors
# 4. the paper's Algorithm 1 for a batch of points
# 5. a decision map over a grid
#
# Each exercise has a statement, a hint (click it to open it), a cell with the function for you to write and a
# check, and a solution hidden one click away: the collapsed cell below yours (click it to show it). A check calls
# your function on fixed inputs, compares its answer with toyclf's own, and when they differ says in words what is
# wrong: a flipped sign, a wrong axis, noise that is not shared. Write your code in place of
# `raise NotImplementedError` and run the cell again.
#
# *Run all* also runs the solutions, which redefine your functions: to check your own, run its cell by itself.

# %% tags=["parameters"]
N_SAMPLES = 1000  # training points of the spirals
N_TEST = 500  # held-out points, classified with your functions
TRAIN_STEPS = 1000  # training steps of the small model the exercises use
HIDDEN_SIZE = 64  # width of its MLP
N_TRIALS = 32  # Monte Carlo trials (t, eps) per class in exercise 4
GRID = 80  # the map of exercise 5 is GRID x GRID points
SEED = 0

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from sklearn.model_selection import train_test_split

from toyclf import DiffusionClassifier, make_grid, make_plan, make_spirals
from toyclf.lecture.exercises import (
    check_add_noise,
    check_class_errors,
    check_decision_map,
    check_denoising_error,
    check_posterior,
)
from toyclf.lecture.plots import keys

plt.rcParams.update({"font.size": 12, "axes.titlesize": 13})
torch.set_num_threads(1)  # small matrices: one thread is as fast as two, and far faster on a busy laptop

# %% [markdown]
# ## The model the exercises use
#
# A small class-conditional noise predictor $\epsilon_\theta(x_t, t, c)$ of the two spirals, trained as in notebook
# 01 but smaller, in a few seconds. Exercises 2 and 4 check your code with its denoiser, exercise 5 with the
# classifier itself.

# %%
X, y = make_spirals(N_SAMPLES + N_TEST, noise=0.2, random_state=SEED)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=N_TEST, stratify=y, random_state=SEED)
start = time.perf_counter()
clf = DiffusionClassifier(max_iter=TRAIN_STEPS, hidden_size=HIDDEN_SIZE, n_trials=N_TRIALS, random_state=SEED).fit(
    X_train, y_train
)
print(f"trained in {time.perf_counter() - start:.0f} s; test accuracy {clf.score(X_test, y_test):.3f}")

denoiser = clf.denoiser_.requires_grad_(False)  # eps_theta(x_t, t, c), on standardised points; no training here
abar = denoiser.schedule.alphas_cumprod.float()  # [T], abar_t (diffusers' alphas_cumprod)
x0_test = torch.tensor(clf.scaler_.transform(X_test), dtype=torch.float32)  # [N_TEST, 2], standardised
K = denoiser.n_classes

# %% [markdown]
# ## 1. The forward process
#
# Write `add_noise(x0, noise, t, alphas_cumprod)`: noise each clean point `x0[i]` to the level `t[i]` with the
# noise `noise[i]` (Ho et al. 2020, eq. 4):
#
# $$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$$
#
# `x0` and `noise` are [B, 2], `t` is [B] (integers), `alphas_cumprod` is $\bar\alpha$, [T]. Return $x_t$, [B, 2].
#
# <details><summary>Hint</summary>
#
# `alphas_cumprod[t]` is [B], one $\bar\alpha_t$ per point. `[:, None]` makes it [B, 1], which scales each point's
# row; `.sqrt()` takes the square root.
# </details>


# %%
def add_noise(x0, noise, t, alphas_cumprod):
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps: [B, 2], [B, 2], [B], [T] -> [B, 2]."""
    raise NotImplementedError("your code here")


check_add_noise(add_noise)


# %% jupyter={"source_hidden": true}
# Solution
def add_noise(x0, noise, t, alphas_cumprod):
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps: [B, 2], [B, 2], [B], [T] -> [B, 2]."""
    abar_t = alphas_cumprod[t][:, None]  # [B, 1]
    return abar_t.sqrt() * x0 + (1 - abar_t).sqrt() * noise


check_add_noise(add_noise)

# %% [markdown]
# Your `add_noise` at work: the test points, noised with the same $\epsilon$ at four levels.

# %%
eps = torch.randn(x0_test.shape, generator=torch.Generator().manual_seed(SEED))  # [N_TEST, 2]
shown_t = [0, 500, 800, 950]
fig, axes = plt.subplots(1, len(shown_t), figsize=(14, 3.8), sharex=True, sharey=True, layout="constrained")
for ax, t in zip(axes, shown_t, strict=True):
    x_t = add_noise(x0_test, eps, torch.full((len(x0_test),), t), abar)
    ax.scatter(*x_t.T, c=keys.class_colors(K)[y_test], s=5)
    ax.set_title(rf"$t = {t}$,  $\bar\alpha_t = {abar[t]:.3f}$")
    ax.set_aspect("equal")
keys.class_legend(fig, K)
plt.show()

# %% [markdown]
# ## 2. One class's denoising error
#
# Write `denoising_error(denoiser, x0, noise, t, label)`: for each point, noise it with its own $(t, \epsilon)$,
# ask the denoiser for the noise under the class `label`, and return the squared error, summed over the two
# coordinates (the term inside the sum of the paper's eq. 5):
#
# $$\big\| \epsilon - \epsilon_\theta(x_t, t, c) \big\|^2, \qquad x_t = \sqrt{\bar\alpha_t}\, x_0 +
# \sqrt{1 - \bar\alpha_t}\, \epsilon$$
#
# `x0` and `noise` are [B, 2], `t` is [B], `label` an int. Return [B], one error per point.
#
# <details><summary>Hint</summary>
#
# Your `add_noise` gives $x_t$: the denoiser's $\bar\alpha$ is `denoiser.schedule.alphas_cumprod`, in float64, and the
# denoiser works in float32 (`.float()`). `denoiser.predict_noise(x_t, t, labels)` wants one label per point, a
# tensor: `torch.full_like(t, label)`. Then square, and sum over the coordinates (`dim=1`).
# </details>


# %%
def denoising_error(denoiser, x0, noise, t, label):
    """||eps - eps_theta(x_t, t, label)||^2 for each point: [B, 2], [B, 2], [B], int -> [B]."""
    raise NotImplementedError("your code here")


check_denoising_error(denoising_error, denoiser)


# %% jupyter={"source_hidden": true}
# Solution
def denoising_error(denoiser, x0, noise, t, label):
    """||eps - eps_theta(x_t, t, label)||^2 for each point: [B, 2], [B, 2], [B], int -> [B]."""
    x_t = add_noise(x0, noise, t, denoiser.schedule.alphas_cumprod.float())  # [B, 2]
    eps_hat = denoiser.predict_noise(x_t, t, torch.full_like(t, label))  # [B, 2]
    return (noise - eps_hat).square().sum(dim=1)  # [B]


check_denoising_error(denoising_error, denoiser)

# %% [markdown]
# ## 3. Bayes' rule
#
# The error of class $c$ stands in for $-\log p(x \mid c)$ (up to a constant), so Bayes' rule with equal priors
# turns the errors into a posterior (the paper's eqs. 1 and 4):
#
# $$p(c_k \mid x) = \mathrm{softmax}_k\big(-\mathrm{err}[k] / \tau\big)
# = \frac{e^{-\mathrm{err}[k] / \tau}}{\sum_j e^{-\mathrm{err}[j] / \tau}}$$
#
# with a temperature $\tau$ (1 unless it has been fitted). Write `posterior(errors, temperature=1.0)`: `errors` is
# [B, K], one row per point; return [B, K], each row summing to 1.
#
# <details><summary>Hint</summary>
#
# `torch.softmax(logits, dim=1)` normalises over the classes. Mind the sign: a **lower** error means a
# **likelier** class.
# </details>


# %%
def posterior(errors, temperature=1.0):
    """p(c | x) = softmax_c(-err / temperature): [B, K] -> [B, K]."""
    raise NotImplementedError("your code here")


check_posterior(posterior)


# %% jupyter={"source_hidden": true}
# Solution
def posterior(errors, temperature=1.0):
    """p(c | x) = softmax_c(-err / temperature): [B, K] -> [B, K]."""
    return torch.softmax(-errors / temperature, dim=1)


check_posterior(posterior)

# %% [markdown]
# ## 4. Algorithm 1, for a batch of points
#
# Write `class_errors(denoiser, x, plan)`: the error of every point under every class, the mean over the $N$ trials
# $(t_n, \epsilon_n)$ of the plan (`plan.timesteps[n]`, `plan.noise[n]`):
#
# $$\mathrm{err}[i, k] = \frac{1}{N} \sum_{n=0}^{N-1} \big\| \epsilon_n - \epsilon_\theta\big(\sqrt{\bar\alpha_{t_n}}\,
# x_i + \sqrt{1 - \bar\alpha_{t_n}}\, \epsilon_n,\ t_n,\ c_k\big) \big\|^2$$
#
# Every class is scored on **the same** trials: only the class changes, so the differences between the classes are
# the class's doing, not the noise's. `x` is [B, 2]; return [B, K].
#
# <details><summary>Hint</summary>
#
# Loop over the trials, `for t_n, eps_n in zip(plan.timesteps, plan.noise)`, give every point the same trial
# (`t_n.repeat(B)`, `eps_n.expand_as(x)`), and add each class's `denoising_error` to its column of an
# `errors = torch.zeros(B, K)`. Divide by the number of trials, `len(plan)`.
# </details>


# %%
def class_errors(denoiser, x, plan):
    """err[i, k], the mean over the plan's shared trials of class k's error at point i: [B, 2] -> [B, K]."""
    raise NotImplementedError("your code here")


check_class_errors(class_errors, denoiser)


# %% jupyter={"source_hidden": true}
# Solution
def class_errors(denoiser, x, plan):
    """err[i, k], the mean over the plan's shared trials of class k's error at point i: [B, 2] -> [B, K]."""
    B, K = len(x), denoiser.n_classes
    errors = torch.zeros(B, K)
    for t_n, eps_n in zip(plan.timesteps, plan.noise, strict=True):
        t, eps = t_n.repeat(B), eps_n.expand_as(x)  # the same (t_n, eps_n) for every point and every class
        for k in range(K):
            errors[:, k] += denoising_error(denoiser, x, eps, t, k)
    return errors / len(plan)


check_class_errors(class_errors, denoiser)

# %% [markdown]
# Your functions, together, are a classifier: classify the held-out points with the paper's estimator (uniform
# weights over evenly spaced timesteps), the argmin of your errors, and your posterior of the first few.

# %%
plan = make_plan(denoiser, N_TRIALS, seed=SEED)  # N_TRIALS shared trials (t, eps)
errors = class_errors(denoiser, x0_test, plan)  # [N_TEST, K]
accuracy = float((errors.argmin(dim=1).numpy() == y_test).mean())
print(f"your classifier: test accuracy {accuracy:.3f} on {N_TRIALS} trials per class")
print("p(c | x) of the first 4 test points:\n", posterior(errors[:4]).numpy().round(3), "\ntrue classes:", y_test[:4])

# %% [markdown]
# These probabilities are not calibrated: with uniform weights the errors are on another scale than
# $-\log p(x \mid c)$. A temperature fitted on held-out data fixes that without moving the argmin (notebook 02).

# %% [markdown]
# ## 5. A decision map
#
# Write `decision_map(classifier, xx, yy)`: the class the classifier decides at every point of a grid. `xx` and
# `yy` are [ny, nx] (`np.meshgrid`'s arrays): the grid's point $(i, j)$ is `(xx[i, j], yy[i, j])`.
# `classifier.predict_proba(points)` takes points [n, 2] and gives $p(c \mid x)$, [n, K]. Return the index of the
# likeliest class at every point, [ny, nx].
#
# <details><summary>Hint</summary>
#
# `np.column_stack([xx.ravel(), yy.ravel()])` lists the grid's points row by row, [ny * nx, 2]; the decision is
# the argmax over the classes (`axis=1`); `.reshape(xx.shape)` puts it back on the grid.
# </details>


# %%
def decision_map(classifier, xx, yy):
    """The likeliest class at every point of the grid (xx, yy): [ny, nx] ints."""
    raise NotImplementedError("your code here")


check_decision_map(decision_map, clf)


# %% jupyter={"source_hidden": true}
# Solution
def decision_map(classifier, xx, yy):
    """The likeliest class at every point of the grid (xx, yy): [ny, nx] ints."""
    points = np.column_stack([xx.ravel(), yy.ravel()])  # [ny * nx, 2]
    return classifier.predict_proba(points).argmax(axis=1).reshape(xx.shape)


check_decision_map(decision_map, clf)

# %% [markdown]
# Your decision map of the spirals model, with the held-out points on top:

# %%
xx, yy, _ = make_grid(X_train, GRID)
start = time.perf_counter()
decided = decision_map(clf, xx, yy)  # [GRID, GRID]
seconds = time.perf_counter() - start
fig, ax = plt.subplots(figsize=(5.5, 6), layout="constrained")
pale = 1 - 0.35 * (1 - keys.class_colors(K))  # the class colours, lighter
ax.pcolormesh(xx, yy, decided, cmap=ListedColormap(pale), vmin=-0.5, vmax=K - 0.5, shading="nearest")
ax.scatter(*X_test.T, c=keys.class_colors(K)[y_test], s=5)
ax.set_aspect("equal")
ax.set_title(f"{GRID}x{GRID} points, classified in {seconds:.1f} s")
keys.class_legend(fig, K)
plt.show()

# %% [markdown]
# ## All the checks
#
# Every check once more, on the functions as they are now defined. After "Run all" those are the hidden solutions
# (each solution cell redefines its function): to check only your own, run your cells and this one, skipping the
# cells marked `# Solution`.

# %%
results = [
    check_add_noise(add_noise),
    check_denoising_error(denoising_error, denoiser),
    check_posterior(posterior),
    check_class_errors(class_errors, denoiser),
    check_decision_map(decision_map, clf),
]
for result in results:
    print(result)
passed = sum(result.passed for result in results)
print(f"{passed} of {len(results)} checks passed")
