"""The digits: the diffusion classifier on 8x8 images, the corruptions, python -m toyclf.digits."""

import copy
import re

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

from toyclf import DiffusionClassifier
from toyclf.denoisers import MLPDenoiser
from toyclf.digits import FIGURES, main
from toyclf.lecture.digits import digits_classifier as make_digits_classifier
from toyclf.lecture.digits import load_digit_split
from toyclf.lecture.experiments.robustness import gaussian_noise, occlusion, robustness_curves

SMALL = dict(hidden_size=128, max_iter=400)  # ~3 s of training; the defaults (512 wide, 8000 steps) get 98.5-99.4 %


@pytest.fixture(scope="module")
def split():
    return load_digit_split(0.3, random_state=0)


@pytest.fixture(scope="module")
def small(split):
    return make_digits_classifier(random_state=0, **SMALL).fit(split.X_train, split.y_train)


def test_split_is_stratified_70_30(split):
    assert split.X_train.shape == (1257, 64) and split.X_test.shape == (540, 64)
    train_share = np.bincount(split.y_train) / len(split.y_train)
    test_share = np.bincount(split.y_test) / len(split.y_test)
    assert np.abs(train_share - test_share).max() < 0.005


@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_ has at least 1 zero")  # the always-blank pixels
def test_small_model_beats_the_class_mean_baseline(small, split):
    # nearest centroid (each class by its mean image) gets 0.904 on this split; chance is 0.1
    baseline = NearestCentroid().fit(split.X_train, split.y_train).score(split.X_test, split.y_test)
    accuracy = small.score(split.X_test, split.y_test)
    assert accuracy >= 0.92 and accuracy >= baseline + 0.02, (accuracy, baseline)


def test_early_stopping_over_ten_classes_saves_evaluations_at_equal_accuracy(small, split):
    X, y = split.X_test[:200], split.y_test[:200]
    fixed_errors, fixed_trials = copy.deepcopy(small).set_params(pruning=None).class_errors(X, return_trials=True)
    early_errors, early_trials = small.class_errors(X, return_trials=True)  # early stopping: the default
    assert (fixed_trials == small.n_trials).all()
    assert early_trials.sum() * 4 < fixed_trials.sum()  # measured: ~9x fewer
    fixed_accuracy = np.mean(small.classes_[fixed_errors.argmin(1)] == y)
    early_accuracy = np.mean(small.classes_[early_errors.argmin(1)] == y)
    assert abs(fixed_accuracy - early_accuracy) <= 0.01


def test_denoiser_for_pixels_takes_them_as_they_are():
    torch.manual_seed(0)
    denoiser = MLPDenoiser(64, 10, n_frequencies=0, hidden_size=32)
    assert denoiser.input.in_features == 64 + 32 + 32  # pixels, timestep embedding, class embedding
    x, t, c = torch.randn(5, 64), torch.tensor([0, 10, 500, 999, 3]), torch.tensor([0, 1, 2, 9, 9])
    out = denoiser(x, t, c)
    assert out.shape == (5, 64)
    torch.testing.assert_close(denoiser(x[2:3], t[2:3], c[2:3]), out[2:3])  # a row does not depend on its batch
    assert not torch.allclose(denoiser(x, t, (c + 1) % 10), out)  # the class matters


def test_global_scaling_keeps_pixels_in_proportion(small, split):
    scaler = small.scaler_
    assert np.allclose(scaler.mean_, split.X_train.mean()) and np.allclose(scaler.scale_, split.X_train.std())
    per_feature = make_digits_classifier(feature_scaling="per_feature", max_iter=1).fit(split.X_train, split.y_train)
    assert not np.allclose(per_feature.scaler_.scale_, per_feature.scaler_.scale_[0])
    constant = make_digits_classifier(max_iter=1).fit(np.full((20, 64), 3.0), np.arange(20) % 2)
    assert np.isfinite(constant.class_errors(np.full((2, 64), 3.0))).all()  # zero spread: scale 1, as sklearn


def test_same_seed_same_predictions_in_a_batch_or_one_at_a_time(small, split):
    X = split.X_test[:12]
    clf = copy.deepcopy(small).set_params(pruning=None, n_trials=16)
    batch = clf.class_errors(X)
    rows = np.vstack([clf.class_errors(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(rows, batch, rtol=1e-6)
    again = make_digits_classifier(random_state=0, **SMALL).fit(split.X_train, split.y_train)
    np.testing.assert_array_equal(again.set_params(pruning=None, n_trials=16).class_errors(X), batch)


def test_generated_digits_look_like_their_class(small, split):
    X, y = small.sample(200, random_state=0)  # 20 per class, in pixel units
    assert X.shape == (200, 64) and abs(X.mean() - split.X_train.mean()) < 1.5
    true_means = np.stack([split.X_train[split.y_train == c].mean(0) for c in range(10)])  # [10, 64]
    generated_means = np.stack([X[y == c].mean(0) for c in range(10)])  # [10, 64]
    nearest = ((generated_means[:, None] - true_means[None]) ** 2).sum(-1).argmin(1)  # [10]
    assert np.sum(nearest == np.arange(10)) >= 9  # the mean generated "3" is nearest the mean real 3


def test_corruptions():
    X = load_digit_split(0.3, random_state=0).X_test[:50]
    assert np.array_equal(gaussian_noise(X, 0.0), X) and np.array_equal(occlusion(X, 0), X)
    noisy = gaussian_noise(X, 4.0, random_state=1)
    assert noisy.min() >= 0 and noisy.max() <= 16 and not np.array_equal(noisy, X)
    assert np.array_equal(noisy, gaussian_noise(X, 4.0, random_state=1))  # seeded
    covered = occlusion(X, 3, random_state=1)
    assert (covered <= X).all()
    for before, after in zip(X.reshape(-1, 8, 8), covered.reshape(-1, 8, 8), strict=True):
        rows, cols = np.nonzero(before != after)  # changed pixels lie in one 3 x 3 square
        if len(rows):
            assert rows.max() - rows.min() < 3 and cols.max() - cols.min() < 3
    with pytest.raises(ValueError, match="occlusion size must be an int in \\[0, 8\\]; got 9"):
        occlusion(X, 9)
    with pytest.raises(ValueError, match=re.escape("occlusion size must be an int in [0, 8]; got 2.5")):
        occlusion(X, 2.5)  # not silently a 2 x 2 square
    with pytest.raises(ValueError, match="noise sigma must be a number >= 0; got -1"):
        gaussian_noise(X, -1)


def test_robustness_curves_score_every_classifier_on_the_same_images(split):
    knn = KNeighborsClassifier().fit(split.X_train, split.y_train)
    curves = robustness_curves({"a": knn, "b": knn}, split.X_test, split.y_test, "gaussian_noise", [0, 8])
    assert np.array_equal(curves["a"], curves["b"])
    assert curves["a"][0] == knn.score(split.X_test, split.y_test) and curves["a"][1] < curves["a"][0]
    with pytest.raises(ValueError, match="corruption must be one of 'gaussian_noise', 'occlusion'; got 'blur'"):
        robustness_curves({"a": knn}, split.X_test, split.y_test, "blur", [1])


def test_command_line_end_to_end(tmp_path, capsys, split):
    figures, model = tmp_path / "figures", tmp_path / "new" / "model.pt"  # --save-model creates its folder
    args = ["--steps", "60", "--hidden-size", "32", "--trials", "8", "--quiet", "--out", str(figures)]
    assert main([*args, "--save-model", str(model), "--save-dtype", "float16"]) == 0
    out = capsys.readouterr().out
    for name in ("diffusion classifier", "logistic regression", "RBF SVM", "k-NN", "evaluations per test image"):
        assert name in out
    assert "accuracy under gaussian noise" in out and "accuracy under occlusion" in out
    assert f"saved the trained classifier to {model}" in out
    written = sorted(p.name for p in figures.iterdir())
    assert written == sorted(f"digits_{figure}.png" for figure in FIGURES)
    for path in figures.iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000

    # the saved model is reproducible: the same seed trains the same weights (here rounded to float16)
    saved = DiffusionClassifier.load(model)
    again = make_digits_classifier(hidden_size=32, max_iter=60, random_state=0).fit(split.X_train, split.y_train)
    assert saved.loss_curve_ == again.loss_curve_
    weights, again_weights = dict(saved.denoiser_.named_parameters()), dict(again.denoiser_.named_parameters())
    for name, weight in weights.items():
        torch.testing.assert_close(weight, again_weights[name].half().float(), rtol=0, atol=0)
        assert weight.dtype == torch.float32


@pytest.mark.parametrize(
    "args, message",
    [
        (["--test-size", "1.5"], "--test-size: expected a fraction in (0, 1), got '1.5'"),
        (["--steps", "0"], "--steps: expected a positive integer, got 0"),
        (
            ["--pruning", "staged", "--trials", "64"],
            "needs a plan of exactly 500 trials; the plan has 64. Use n_trials=500 (--trials 500",
        ),
        (["--save-model", "."], "--save-model: '.' is a folder; expected a file path such as 'digits.pt'"),
        (["--save-dtype", "int8"], "--save-dtype: invalid choice: 'int8'"),
    ],
)
def test_bad_arguments_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
