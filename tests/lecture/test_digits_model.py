"""The small digits model shipped with the package: it loads, it classifies held-out digits as measured, it is
package data, and saving with rounded weights keeps what it predicts."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestCentroid

from toyclf import DiffusionClassifier
from toyclf.lecture.digits import (
    PRETRAINED_COMMAND,
    PRETRAINED_MODEL,
    PRETRAINED_SEED,
    digits_classifier,
    load_digit_split,
    load_pretrained_digits,
    save_digits_model,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def split():
    return load_digit_split(0.3, random_state=PRETRAINED_SEED)  # the split the shipped model was trained on


@pytest.fixture(scope="module")
def shipped():
    return load_pretrained_digits()


def test_shipped_model_is_small_and_what_its_command_says(shipped):
    assert PRETRAINED_MODEL.stat().st_size < 700_000  # a few hundred KB: 582 KB, float16 weights
    assert shipped.hidden_size == 256 and shipped.n_iter_ == 8000 and shipped.random_state == PRETRAINED_SEED
    assert "--hidden-size 256 --steps 8000" in PRETRAINED_COMMAND and f"--seed {PRETRAINED_SEED}" in PRETRAINED_COMMAND
    assert list(shipped.classes_) == list(range(10)) and not shipped.verbose
    assert all(p.dtype == torch.float32 for p in shipped.denoiser_.parameters())  # stored as float16, run in float32


@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_ has at least 1 zero")  # the always-blank pixels
def test_shipped_model_classifies_held_out_digits(shipped, split):
    # measured on all 540 test images: 0.9907 (5 errors; the 512-wide default: 0.9926, RBF SVM 0.9944)
    X, y = split.X_test[:270], split.y_test[:270]  # half of them: about a second
    accuracy = float(np.mean(shipped.predict(X) == y))
    baseline = NearestCentroid().fit(split.X_train, split.y_train).score(X, y)  # each class by its mean image
    assert accuracy >= 0.98 and accuracy >= baseline + 0.05, (accuracy, baseline)


def test_shipped_model_is_package_data():
    # a non-editable `pip install .` copies only the data files that pyproject.toml names
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    relative = PRETRAINED_MODEL.relative_to(ROOT / "toyclf")
    assert any(relative.match(pattern) for pattern in config["toyclf"]), (relative, config)


def test_missing_or_foreign_file_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No digits model at .*missing\.pt.*python -m toyclf\.digits --seed 0"):
        load_pretrained_digits(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="No digits model"):
        load_pretrained_digits(tmp_path)  # a folder is not a model file
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable toyclf checkpoint"):
        load_pretrained_digits(junk)


def test_float16_storage_halves_the_file_and_keeps_the_predictions(tmp_path, split):
    clf = digits_classifier(hidden_size=64, max_iter=200, n_trials=16, random_state=0).fit(split.X_train, split.y_train)
    before = copy.deepcopy(clf.denoiser_.state_dict())
    full = save_digits_model(clf, tmp_path / "full.pt")
    half = save_digits_model(clf, tmp_path / "half.pt", torch.float16)
    for name, value in clf.denoiser_.state_dict().items():  # the classifier saved is left as it was
        assert value.dtype == torch.float32 and torch.equal(value, before[name])
    weights = sum(p.numel() for p in clf.denoiser_.parameters())
    assert full.stat().st_size - half.stat().st_size >= 2 * weights * 0.95  # two bytes saved per weight
    loaded_full, loaded_half = DiffusionClassifier.load(full), DiffusionClassifier.load(half)
    X = split.X_test[:100]
    np.testing.assert_array_equal(loaded_full.class_errors(X), clf.class_errors(X))  # float32: exact
    rounded = dict(loaded_half.denoiser_.named_parameters())
    for name, weight in clf.denoiser_.named_parameters():
        torch.testing.assert_close(rounded[name], weight.detach().half().float(), rtol=0, atol=0)
    torch.testing.assert_close(  # the frequencies (buffers) are not rounded
        loaded_half.denoiser_.t_frequencies, clf.denoiser_.t_frequencies, rtol=0, atol=0
    )
    assert np.mean(loaded_half.predict(X) == clf.predict(X)) >= 0.98
