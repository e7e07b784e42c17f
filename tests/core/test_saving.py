"""Saving never writes a file that cannot be loaded: parameters of any type scikit-learn users pass
(numpy scalars from a grid search, pruning rule objects, tuples of numpy floats, a torch.device)
come back equal and predict the same; what cannot be saved is refused before a file exists; the
file holds no reference to any class; the calibration record survives; a save killed midway
leaves no temporary file behind for long."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from toyclf import DiffusionClassifier
from toyclf.pruning import EarlyStopping, FixedTrials, StagedElimination
from toyclf.utils.checkpoint import plain
from toyclf.utils.files import _writer_tag, atomic_write

TINY = dict(max_iter=20, hidden_size=16, n_trials=8, random_state=0)


class MyRule:
    """A pruning rule of the user's own: it prunes, but a checkpoint cannot hold it."""

    def stage_ends(self, n_trials):
        return [n_trials]

    def prune(self, stage):
        return torch.zeros_like(stage.active)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-1, 0.5, (40, 2)), rng.normal(1, 0.5, (40, 2))])
    return X, np.repeat([0, 1], 40)


@pytest.mark.parametrize(
    "params",
    [
        {"n_trials": np.int64(8), "hidden_size": np.int32(16), "max_iter": np.uint16(20)},
        {"temperature": np.float32(0.5), "learning_rate": np.float64(1e-3), "schedule_shift": np.float16(2.0)},
        {"verbose": np.False_, "random_state": np.int64(3)},
        {"pruning": EarlyStopping(error_rate=0.01)},
        {"pruning": EarlyStopping(error_rate=np.float64(0.02), min_trials=np.int64(4))},
        {"pruning": StagedElimination((np.int64(2), 8), (1, 1))},
        {"pruning": FixedTrials()},
        {"pruning": None, "noise_range": (np.float64(0.05), np.float32(5.0))},
        {"priors": np.array([0.25, 0.75]), "device": torch.device("cpu")},
        {"random_state": np.random.RandomState(0)},
    ],
    ids=[
        "numpy ints",
        "numpy floats",
        "numpy bool and seed",
        "rule",
        "rule of numpy",
        "staged",
        "fixed",
        "tuple",
        "arrays",
        "RandomState",
    ],
)
def test_what_is_saved_loads_with_equal_parameters_and_predictions(params, data, tmp_path):
    X, y = data
    clf = DiffusionClassifier(**{**TINY, **params}).fit(X, y)
    path = clf.save(tmp_path / "model.pt")
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []  # tensors and plain values only
    loaded = DiffusionClassifier.load(path)
    expected = clf.get_params()
    if isinstance(params.get("random_state"), np.random.RandomState):
        expected["random_state"] = None  # a RandomState is not saved: the fitted plan seed carries it
    got = loaded.get_params()
    for name, value in expected.items():
        if name == "priors":
            assert np.array_equal(got[name], value), name
        else:
            assert got[name] == (str(value) if name == "device" else value), name
    assert type(got["noise_range"]) is type(expected["noise_range"])  # a tuple stays a tuple
    np.testing.assert_array_equal(loaded.class_errors(X[:10]), clf.class_errors(X[:10]))


def test_a_rule_that_cannot_be_saved_is_refused_before_a_file_is_written(data, tmp_path):
    X, y = data
    clf = DiffusionClassifier(**TINY, pruning=MyRule()).fit(X, y)
    with pytest.raises(TypeError, match=r"pruning=.*MyRule.* cannot be saved: .*EarlyStopping"):
        clf.save(tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


@pytest.mark.parametrize(
    "value, where", [({1: "a"}, "keys that are not str"), (object(), "is a object"), ([1, {2}], r"\[1\] is a set")]
)
def test_plain_refuses_what_weights_only_loading_would(value, where):
    with pytest.raises(TypeError, match=where):
        plain(value, "x")


def test_plain_turns_numpy_values_into_python_ones():
    converted = plain({"a": np.int64(3), "b": (np.float32(0.5), np.True_), "c": np.arange(3), "d": [None, "s"]})
    assert converted == {"a": 3, "b": (0.5, True), "c": [0, 1, 2], "d": [None, "s"]}
    assert [type(v) for v in (converted["a"], *converted["b"])] == [int, float, bool]


def test_the_stale_temperature_warning_survives_save_and_load(data, overlapping, tmp_path):
    X, y = data
    clf = DiffusionClassifier(**TINY, pruning=EarlyStopping(error_rate=0.01)).fit(X, y)
    clf.calibrate(*overlapping)
    loaded = DiffusionClassifier.load(clf.save(tmp_path / "model.pt"))
    assert loaded.calibrated_for_ == clf.calibrated_for_ and loaded.temperature == clf.temperature
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded.predict(X[:5])  # the settings it was calibrated for: no warning
    loaded.set_params(n_trials=16)
    with pytest.warns(UserWarning, match="was fitted by calibrate"):
        loaded.predict(X[:5])


def test_a_temporary_file_left_by_a_killed_save_is_removed_by_the_next(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has ended
    host = _writer_tag().rsplit("-", 1)[0]
    left = tmp_path / f".model.pt.{host}-{dead_pid}.abcd.tmp"
    left.write_bytes(b"half a model")
    kept = [
        tmp_path / f".model.pt.{host}-{os.getppid()}.efgh.tmp",  # a live process's write in progress
        tmp_path / f".model.pt.other-host-{dead_pid}.ijkl.tmp",  # another host's (a shared file system)
        tmp_path / f".model.pt.5.{host}-{dead_pid}.mnop.tmp",  # the temporary file of model.pt.5
    ]
    for path in kept:
        path.write_bytes(b"being written")
    atomic_write(tmp_path / "model.pt", lambda tmp: tmp.write_bytes(b"model"))
    assert not left.exists() and all(path.exists() for path in kept)
    assert (tmp_path / "model.pt").read_bytes() == b"model"


def test_sigterm_during_a_command_save_leaves_no_temporary_file(tmp_path):
    script = (
        "import sys, torch\n"
        "from toyclf.cli import command\n"
        "from toyclf.utils.checkpoint import save_checkpoint\n"
        "@command\n"
        "def main(argv):\n"
        "    print('saving', flush=True)\n"
        "    save_checkpoint({'w': torch.randn(100_000_000)}, sys.argv[1], kind='x')\n"
        "    return 0\n"
        "sys.exit(main(None))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "model.pt")], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout.readline() == b"saving\n"
    while not any(tmp_path.iterdir()):  # the temporary file exists: the write has begun
        pass
    process.terminate()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and b"interrupted" in err and b"Traceback" not in err
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_calibration_made_with_a_rule_that_cannot_be_saved_is_kept_as_stale(data, overlapping, tmp_path):
    X, y = data
    clf = DiffusionClassifier(**TINY, pruning=MyRule()).fit(X, y).calibrate(*overlapping)
    loaded = DiffusionClassifier.load(clf.set_params(pruning=None).save(tmp_path / "model.pt"))
    with pytest.warns(UserWarning, match=r"was fitted by calibrate\(\) with pruning='unsaved rule .*MyRule"):
        loaded.predict(X[:3])


def test_a_file_of_the_old_field_name_loads(data, tmp_path):
    """Files written when StagedElimination's trials were called n_samples (the paper code's name)
    load with the same rule."""
    X, y = data
    path = DiffusionClassifier(pruning=StagedElimination((2, 8), (1, 1)), **TINY).fit(X, y).save(tmp_path / "new.pt")
    payload = torch.load(path, weights_only=True)
    rule = payload["params"]["pruning"]
    assert rule == {"rule": "StagedElimination", "trials": (2, 8), "to_keep": (1, 1)}
    payload["params"]["pruning"] = {"rule": "StagedElimination", "n_samples": [2, 8], "to_keep": [1, 1]}
    torch.save(payload, tmp_path / "old.pt")
    assert DiffusionClassifier.load(tmp_path / "old.pt").pruning == StagedElimination((2, 8), (1, 1))


def test_objects_pickled_before_a_rename_unpickle_the_same():
    """A staged rule pickled when ``trials`` was ``n_samples`` keeps its stages (not the defaults);
    a schedule pickled when its scales were ``_alphas`` / ``_sigmas`` keeps them."""
    import pickle

    from toyclf.schedule import NoiseSchedule

    rule = StagedElimination((100, 1000), (3, 1))
    old = pickle.dumps(rule, protocol=0).replace(b"Vtrials\n", b"Vn_samples\n")  # protocol 0 spells names out
    assert b"n_samples" in old
    assert pickle.loads(old) == rule
    schedule = NoiseSchedule.cosine(50)
    old = pickle.dumps(schedule, protocol=0).replace(b"V_signal\n", b"V_alphas\n").replace(b"V_noise\n", b"V_sigmas\n")
    assert b"_alphas" in old and b"_sigmas" in old
    torch.testing.assert_close(pickle.loads(old).noise_scale, schedule.noise_scale)
    with pytest.raises(AttributeError, match=r"NoiseSchedule\.alphas is now called signal_scale"):
        schedule.alphas  # noqa: B018
