"""The fast path equals Algorithm 1 written plainly.

``reference_class_errors`` is the paper's loop over (t, eps) pairs and classes, nothing else;
``class_errors`` is what the package runs (chunks of points, batches of rows, stages, pruning).
Same plan, same seed: with every trial for every class their errors agree to float precision,
and under pruning every (point, class) pair that ran the whole plan keeps the reference's error.
Checked on three denoisers: the spirals MLP, the digits MLP and a tiny Stable Diffusion pipeline.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toyclf import reference_class_errors
from toyclf.estimator import class_errors, timestep_weights
from toyclf.plan import make_plan
from toyclf.pruning import EarlyStopping, StagedElimination

RTOL = 1e-5  # float32 network outputs summed in another order and batch composition


def assert_fast_equals_reference(denoiser, x, plan, **settings) -> None:
    reference = reference_class_errors(denoiser, x, plan, **settings)  # [B, K]
    for eval_batch_size in (4096, 7):  # one batch per stage, and batches that cut across points and classes
        fast = class_errors(denoiser, x, plan, eval_batch_size=eval_batch_size, **settings)
        torch.testing.assert_close(fast, reference, rtol=RTOL, atol=1e-6)


@pytest.fixture(scope="module")
def spirals_denoiser_and_points(fitted, spirals_split):
    X_test = spirals_split[2][:60]
    return fitted.denoiser_, torch.tensor(fitted.scaler_.transform(X_test), dtype=torch.float32)


@pytest.mark.parametrize(
    "settings",
    [
        dict(),  # the paper's: l2, uniform weighting
        dict(loss="l1", weighting="elbo"),
        dict(loss="huber"),
    ],
)
def test_spirals_fast_path_equals_algorithm_1(spirals_denoiser_and_points, settings):
    denoiser, x = spirals_denoiser_and_points
    assert_fast_equals_reference(denoiser, x, make_plan(denoiser, 24, seed=3), **settings)


def test_importance_sampled_plan_equals_algorithm_1(spirals_denoiser_and_points):
    denoiser, x = spirals_denoiser_and_points
    density = timestep_weights(denoiser.schedule, "elbo").sqrt()
    plan = make_plan(denoiser, 16, timestep_density=density, noise_sampling="gaussian", seed=1)
    assert_fast_equals_reference(denoiser, x, plan, weighting="elbo")


@pytest.mark.parametrize(
    "pruning", [StagedElimination((4, 32), (1, 1)), EarlyStopping(error_rate=0.2, min_trials=4)], ids=repr
)
def test_pairs_that_ran_the_whole_plan_keep_the_reference_error(spirals_denoiser_and_points, pruning):
    denoiser, x = spirals_denoiser_and_points
    plan = make_plan(denoiser, 32, seed=0)
    reference = reference_class_errors(denoiser, x, plan)
    errors, trials = class_errors(denoiser, x, plan, pruning=pruning, return_trials=True)
    whole = trials == len(plan)  # [B, K]
    assert 0 < whole.sum() < whole.numel()  # some pairs were pruned, some ran to the end
    torch.testing.assert_close(errors[whole], reference[whole], rtol=RTOL, atol=1e-6)


def test_digits_fast_path_equals_algorithm_1():
    from toyclf.lecture.digits import digits_classifier, load_digit_split

    split = load_digit_split(random_state=0)
    clf = digits_classifier(max_iter=50, hidden_size=32, random_state=0).fit(split.X_train, split.y_train)
    x = torch.tensor(clf.scaler_.transform(split.X_test[:12]), dtype=torch.float32)  # [12, 64]
    plan = make_plan(clf.denoiser_, 8, seed=0)
    assert_fast_equals_reference(clf.denoiser_, x, plan)
    assert reference_class_errors(clf.denoiser_, x, plan).shape == (12, 10)


@pytest.mark.parametrize("model", ["sd", "sd_v", "dit"])
def test_pretrained_fast_path_equals_algorithm_1(tiny_models, tiny_images, model):
    pytest.importorskip("diffusers")
    from toyclf.pretrained import load_denoiser
    from toyclf.pretrained.images import class_folders, preprocess_images

    classes = ["tench", "goldfish"] if model == "dit" else ["cat", "dog", "bird"]
    denoiser = load_denoiser(tiny_models[model], classes)
    files = [f for found in class_folders(tiny_images).values() for f in found]
    x = preprocess_images(files[:2], denoiser.image_size)  # [2, 3, H, W]
    plan = make_plan(denoiser, 4, noise_sampling="gaussian", seed=0)
    assert_fast_equals_reference(denoiser, x, plan)


def test_reference_is_the_mean_of_weighted_losses_written_by_hand(prototype_denoiser):
    """On the prototype denoiser the error of trial n is SNR(t_n) ||x - mu_c||^2 exactly, so the
    reference must give the weighted mean of those numbers (a check that does not use class_errors)."""
    x = torch.tensor([[0.3, -0.2], [1.5, 2.0]])
    plan = make_plan(prototype_denoiser, 8, seed=2)
    snr = prototype_denoiser.schedule.snr[plan.timesteps]  # [N]
    distances = torch.cdist(x.double(), prototype_denoiser.prototypes.double()) ** 2  # [B, K]
    expected = snr.mean() * distances
    np.testing.assert_allclose(reference_class_errors(prototype_denoiser, x, plan), expected, rtol=1e-4)
