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
# # Inside the estimator
#
# Notebook 01 built the diffusion classifier. Here we take its estimator apart, one choice at a
# time, and measure what each buys on the spirals:
#
# 1. which timesteps carry the class: accuracy from a single t
# 2. how many trials, and which t: random, evenly spaced, fixed
# 3. why all classes share the same noise
# 4. the loss (l2, l1) and the weighting (uniform, ELBO)
# 5. **an exact check**: on a Gaussian mixture the true posterior is known
# 6. calibrated probabilities: the temperature
# 7. spending less: the paper's staged elimination against per-point early stopping
#
# Every number is printed by the cell that measures it. `python -m toyclf.inside` runs the same
# measurements at full size and writes the figures in `figures/`.

# %% tags=["parameters"]
N_SAMPLES = 2000  # training points per data set
N_TEST = 2000  # held-out points for each accuracy
TRAIN_STEPS = 3000  # training steps of each denoiser
MAX_TRIALS = 256  # the largest number of trials per class in the curves
PLAN_SEEDS = 3  # each point of the curves: the mean over this many plan seeds
N_ORACLE = 400  # Gaussian-mixture points for the exact check
GRID = 80  # the pruning maps are GRID x GRID points
SEED = 0

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from toyclf import DiffusionClassifier, make_spirals
from toyclf.denoisers import GaussianMixtureOracle
from toyclf.experiments import ablations
from toyclf.experiments.ablations import TrialScheme
from toyclf.plots import ablations as figures
from toyclf.plots.maps import make_grid
from toyclf.pruning import StagedElimination

plt.rcParams.update({"font.size": 11})
sizes = [2**k for k in range(int(np.log2(MAX_TRIALS)) + 1)]  # 1, 2, 4, ..., MAX_TRIALS

# %% [markdown]
# ## The model
#
# The default classifier of notebook 01, on two interlaced spirals. The ablations talk to its
# denoiser directly, on standardised points, as the estimator does.

# %%
X, y = make_spirals(N_SAMPLES, noise=0.2, random_state=SEED)
X_test, y_test = make_spirals(2 * N_TEST, noise=0.2, random_state=SEED + 1)
clf = DiffusionClassifier(max_iter=TRAIN_STEPS, random_state=SEED).fit(X, y)
denoiser = clf.denoiser_
x = torch.tensor(clf.scaler_.transform(X_test[:N_TEST]), dtype=torch.float32)  # [N_TEST, 2]
labels = y_test[:N_TEST]  # class ids 0, 1

# %% [markdown]
# ## 1. Which timesteps carry the class?
#
# Score every class with trials that all use the same timestep t. At t near 0 the noisy point is
# the point itself and every class denoises it almost perfectly; near T it is pure noise and no
# class can tell. The paper finds the middle best.

# %%
timesteps = list(range(0, 1000, 50))
single = ablations.single_timestep_accuracy(denoiser, x, labels, timesteps, seed=SEED)
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
figures.draw_single_timestep(ax, timesteps, single)
best = int(np.argmax(single))
print(f"One timestep: best at t = {timesteps[best]} ({single[best]:.3f}); at t = 900 only {single[18]:.3f}.")

# %% [markdown]
# ## 2. How many trials, and which timesteps?
#
# Each budget N is scored on the plan a classifier with `n_trials=N` draws (evenly spaced t: N
# bins, each t at the centre of its bin), once per plan seed; the bars are the standard error
# over the seeds. The paper's schemes use independent Gaussian noise; toyclf's default
# (black) spaces t evenly and draws the noise from a scrambled Sobol sequence. The results are
# keyed by the settings that made them (`TrialScheme(timesteps="random", noise_sampling="gaussian")`,
# ...); the figures module turns a key into its label (`figures.scheme_label`).

# %%
seeds = [SEED + i for i in range(PLAN_SEEDS)]
curves = ablations.accuracy_against_trials(denoiser, x, labels, sizes, fixed_timesteps=(100, 500, 900), seeds=seeds)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
figures.draw_error_against_trials(ax, sizes, curves, "Which timesteps")
for scheme, curve in curves.items():  # scheme: a TrialScheme, the settings that drew the plan; curve [seeds, sizes]
    error = 1 - curve.mean(0)
    print(
        f"{figures.scheme_label(scheme):40s} error with {sizes[0]} trials {error[0]:.3f}, with {sizes[-1]}: {error[-1]:.3f}"
    )

# %% [markdown]
# ## 3. Shared noise
#
# Only the differences err(x, c) - err(x, c') decide. When every class sees the same (t, eps),
# the part of the loss that depends on the draw and not on the class cancels in the difference.

# %%
noise = ablations.shared_against_independent_noise(denoiser, x, labels, sizes, seeds=seeds)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
figures.draw_error_against_trials(ax, sizes, noise["curves"], "Shared against independent noise", figures.noise_label)
print(
    f"Shared noise makes the variance of err(c) - err(c') {noise['variance_ratio']:.1f}x smaller "
    f"(median over points): independent noise needs {noise['variance_ratio']:.1f}x the trials for the same precision."
)

# %% [markdown]
# ## 4. Loss and weighting
#
# l2 is the training loss; l1 is an option the paper found better on some data sets. Uniform
# weighting (w_t = 1) is the paper's choice for accuracy; the ELBO weighting makes the error a
# log-likelihood bound (section 5).

# %%
loss_weighting = ablations.loss_and_weighting_accuracy(denoiser, x, labels, min(64, MAX_TRIALS), seed=SEED)
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
figures.draw_loss_weighting(ax, loss_weighting)
print("Accuracy: " + ", ".join(f"{figures.scoring_label(k)} {v:.3f}" for k, v in loss_weighting.items()))

# %% [markdown]
# ## 5. The exact check: a Gaussian mixture
#
# When every class is a mixture of Gaussians, the best possible noise predictor eps* is known in
# closed form, and so is log p(x | c). `GaussianMixtureOracle` is that predictor behind the same
# protocol as the MLP: the estimator cannot tell them apart, and we can compare its answer with
# the truth. With the ELBO weighting the estimated log-likelihood ratio converges to the exact
# one; uniform weighting keeps the decisions but flattens the ratios by one factor.

# %%
oracle = GaussianMixtureOracle.ring()
exact = ablations.oracle_against_exact(oracle, N_ORACLE, seed=SEED)
fig = figures.plot_oracle(exact)
for key, ratio in exact["estimates"].items():
    print(
        f"{figures.estimate_label(key):45s} mean |p - p_exact| = {ablations.posterior_gap(ratio, exact['exact']):.3f}"
    )

# %% [markdown]
# ## 6. Calibrated probabilities
#
# `predict_proba` should mean what it says: of the points given 0.8, 80 % should be right.
# `clf.calibrate(X_val, y_val)` fits the temperature on held-out data by minimising the negative
# log-likelihood. The ELBO weighting (the default) is meant to need none: the cell below compares its expected
# calibration error at temperature 1 with the fitted one.

# %%
X_cal, y_cal, X_eval, y_eval = X_test[:N_TEST], y_test[:N_TEST], X_test[N_TEST:], y_test[N_TEST:]
calibration = ablations.calibration_settings(clf, X_cal, y_cal, X_eval, y_eval)
fig = figures.plot_reliability(calibration, y_eval, min_count=max(5, N_TEST // 100))
for setting, entry in calibration.items():
    print(
        f"{figures.calibration_label(setting):30s} temperature {entry['temperature']:.3f}, expected calibration error {entry['ece']:.4f}"
    )
elbo = {setting.fitted_temperature: entry for setting, entry in calibration.items() if setting.weighting == "elbo"}
verdict = "fitting helps" if elbo[True]["ece"] < elbo[False]["ece"] else "fitting does not help"
print(f"ELBO weighting: ECE {elbo[False]['ece']:.4f} at temperature 1, {elbo[True]['ece']:.4f} fitted: {verdict}")

# %% [markdown]
# ## 7. Spending less: staged elimination and early stopping
#
# Four spiral arms, four classes. Scoring every class on every trial costs 4 x 256 denoiser
# evaluations per point. The paper's Algorithm 2 drops all but the best classes after a first
# stage. Early stopping goes further: it stops each point once a sequential test says its
# leading class is significantly ahead, so only points near a boundary get the full budget.

# %%
X4, y4 = make_spirals(N_SAMPLES, noise=0.2, random_state=SEED, n_arms=4)
clf4 = DiffusionClassifier(max_iter=TRAIN_STEPS, random_state=SEED).fit(X4, y4)
xx, yy, grid = make_grid(X4, GRID)
rules = (None, StagedElimination((32, 256), (2, 1)), "early_stopping")  # each rule keys its result
maps = ablations.pruning_maps(clf4, grid, rules)
fig = figures.plot_pruning_maps(xx, yy, maps, n_trials=clf4.n_trials)
reference = maps[None]["proba"].argmax(1)  # every class on all the trials
for rule, entry in maps.items():
    agreement = (entry["proba"].argmax(1) == reference).mean()
    print(
        f"{figures.pruning_label(rule, clf4.n_trials):30s} {entry['evaluations'].mean():7.1f} evaluations per point, agrees on {agreement:.2%}"
    )
saving = maps[None]["evaluations"].mean() / maps["early_stopping"]["evaluations"].mean()
accuracy = float(curves[TrialScheme()][:, -1].mean())  # toyclf's default plan, all the trials, mean over the seeds
print(f"Early stopping spends {saving:.1f}x fewer evaluations than scoring everything.")
