"""DiffusionClassifier as a scikit-learn classifier: accuracy, the sklearn contract, saving, bad input."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import FAST
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification, make_moons
from sklearn.exceptions import NotFittedError
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import check_estimator

from toyclf import DiffusionClassifier, make_spirals

# The smallest configuration that passes every check of check_estimator, in ~15 s.
CHECK = dict(max_iter=100, batch_size=64, hidden_size=32, n_layers=1, n_trials=8, n_timesteps=100, learning_rate=1e-2)


def test_held_out_accuracy_against_baselines(fitted, spirals_split):
    X_train, y_train, X_test, y_test = spirals_split
    accuracy = fitted.score(X_test, y_test)
    knn = KNeighborsClassifier(15).fit(X_train, y_train).score(X_test, y_test)
    linear = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    assert accuracy >= knn - 0.03, (accuracy, knn)  # near the nonparametric baseline (~0.98)
    assert accuracy >= linear + 0.25, (accuracy, linear)  # and nothing like a linear model (~0.65)


def test_passes_check_estimator():
    check_estimator(DiffusionClassifier(**CHECK), expected_failed_checks={})


def test_same_seed_same_answers(spirals_split):
    X_train, y_train, X_test, _ = spirals_split
    a = DiffusionClassifier(random_state=7, max_iter=50, hidden_size=16).fit(X_train, y_train)
    b = DiffusionClassifier(random_state=7, max_iter=50, hidden_size=16).fit(X_train, y_train)
    c = DiffusionClassifier(random_state=8, max_iter=50, hidden_size=16).fit(X_train, y_train)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))
    # predictions are repeatable even without a seed: the plan's seed is drawn once, at fit
    d = DiffusionClassifier(max_iter=20, hidden_size=16).fit(X_train, y_train)
    np.testing.assert_array_equal(d.predict_proba(X_test[:50]), d.predict_proba(X_test[:50]))


def test_proba_errors_and_predict_agree(fitted, spirals_split):
    X = spirals_split[2][:200]
    errors, proba, log_proba = fitted.class_errors(X), fitted.predict_proba(X), fitted.predict_log_proba(X)
    assert errors.shape == proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(1), 1)
    np.testing.assert_allclose(np.exp(log_proba), proba)
    # equal priors: the prediction is the argmin of the errors, p = softmax(-errors)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[errors.argmin(1)])
    expected = np.exp(-errors) / np.exp(-errors).sum(1, keepdims=True)
    np.testing.assert_allclose(proba, expected, rtol=1e-6, atol=1e-12)


def test_estimator_settings_apply_without_refitting(spirals_split):
    X_train, y_train, X_test, _ = spirals_split
    clf = DiffusionClassifier(random_state=0, max_iter=30, hidden_size=16).fit(X_train, y_train)
    errors = clf.class_errors(X_test[:20])
    flat = clf.set_params(temperature=100.0).predict_proba(X_test[:20])
    assert np.abs(flat - 0.5).max() < 0.1
    np.testing.assert_array_equal(clf.class_errors(X_test[:20]), errors)  # temperature is not in the errors
    assert clf.set_params(n_trials=4).class_errors(X_test[:20]).shape == (20, 2)
    assert not np.array_equal(clf.set_params(loss="l1").class_errors(X_test[:20]), errors)


def test_string_labels_many_classes_and_features():
    X, y = make_classification(600, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=0)
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = DiffusionClassifier(random_state=0, **FAST).fit(X[:400], labels[:400])
    assert clf.classes_.tolist() == ["ant", "bee", "cat"] and clf.n_features_in_ == 5
    assert set(clf.predict(X[400:])) <= {"ant", "bee", "cat"}
    baseline = LogisticRegression().fit(X[:400], labels[:400]).score(X[400:], labels[400:])
    assert clf.score(X[400:], labels[400:]) >= baseline - 0.1


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_moons(600, noise=0.2, random_state=0),
        lambda: make_blobs(600, centers=[[0, 2], [-1.7, -1], [1.7, -1]], cluster_std=1.0, random_state=0),
        lambda: make_spirals(900, n_arms=3, noise=0.15, random_state=0),
    ],
    ids=["moons", "overlapping blobs", "three-arm spirals"],
)
def test_defaults_hold_up_on_other_2d_sets(make):
    X, y = make()
    n = len(X) * 2 // 3
    clf = DiffusionClassifier(random_state=0, **FAST).fit(X[:n], y[:n])
    knn = KNeighborsClassifier(15).fit(X[:n], y[:n]).score(X[n:], y[n:])
    assert clf.score(X[n:], y[n:]) >= knn - 0.05


def test_scale_is_standardised_inside(spirals_split):
    X_train, y_train, X_test, _ = spirals_split
    small = DiffusionClassifier(random_state=0, max_iter=200, hidden_size=32).fit(X_train, y_train)
    large = DiffusionClassifier(random_state=0, max_iter=200, hidden_size=32).fit(X_train * 1e4 + 5e5, y_train)
    agreement = np.mean(small.predict(X_test) == large.predict(X_test * 1e4 + 5e5))
    assert agreement > 0.99


def test_sample(fitted, spirals_split):
    X, y = fitted.sample(60, random_state=0)
    assert X.shape == (60, 2) and np.bincount(y).tolist() == [30, 30]
    np.testing.assert_array_equal(X, fitted.sample(60, random_state=0)[0])
    # samples lie where the data lies: near an arm of their own class
    X_train, y_train = spirals_split[:2]

    def nearest_class(points):
        return y_train[np.argmin(((points[:, None] - X_train[None]) ** 2).sum(-1), axis=1)]

    assert np.mean(nearest_class(X) == y) > 0.85  # Gaussian noise of the data's spread: about 0.5
    # so do DDIM's, in 20 deterministic steps: the same seed the same points, another seed others
    Xd, yd = fitted.sample(20, method="ddim", n_steps=20, random_state=0)
    assert Xd.shape == (20, 2) and np.bincount(yd).tolist() == [10, 10]
    assert np.mean(nearest_class(Xd) == yd) > 0.85
    np.testing.assert_array_equal(Xd, fitted.sample(20, method="ddim", n_steps=20, random_state=0)[0])
    assert not np.allclose(Xd, fitted.sample(20, method="ddim", n_steps=20, random_state=1)[0])
    with pytest.raises(ValueError, match="method must be one of 'ddpm', 'ddim', 'euler'; got 'langevin'"):
        fitted.sample(4, method="langevin")


# --- the scikit-learn tool chain ------------------------------------------------------


def test_sklearn_tools_work(spirals_split):
    X_train, y_train, X_test, y_test = spirals_split
    X, y = X_train[:400], y_train[:400]
    clf = DiffusionClassifier(random_state=0, **FAST)
    assert clone(clf).get_params() == clf.get_params()
    # a grid with one hopeless candidate (one training step: an untrained denoiser) and a sensible one
    search = GridSearchCV(clf, {"max_iter": [1, FAST["max_iter"]]}, cv=2).fit(X, y)
    assert search.best_params_ == {"max_iter": FAST["max_iter"]}
    results = search.cv_results_
    assert results["rank_test_score"].tolist() == [2, 1]
    assert results["mean_test_score"][0] < 0.6 < 0.9 < results["mean_test_score"][1]  # chance, then the spirals
    # the refitted best estimator on held-out spirals: well above chance and a linear model (~0.66)
    linear = LogisticRegression().fit(X, y).score(X_test, y_test)
    assert search.best_estimator_.score(X_test, y_test) > max(0.9, linear + 0.2)
    # cross_val_score makes the same splits and the same seeded fits as the search (on the cheap candidate)
    scores = cross_val_score(clone(clf).set_params(max_iter=1), X, y, cv=2)
    np.testing.assert_array_equal(scores, [results["split0_test_score"][0], results["split1_test_score"][0]])
    display = DecisionBoundaryDisplay.from_estimator(
        search.best_estimator_, X_train, response_method="predict_proba", grid_resolution=20
    )
    assert display.response.shape == (20, 20)
    assert display.response.min() < 0.05 and display.response.max() > 0.95  # both classes' regions are on the map


def test_pickle_round_trip(fitted, spirals_split):
    X = spirals_split[2][:50]
    clone_ = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone_.predict_proba(X), fitted.predict_proba(X))


# --- saving and loading -----------------------------------------------------------------


def test_save_and_load_predict_exactly_the_same(fitted, spirals_split, tmp_path):
    X = spirals_split[2][:200]
    path = fitted.save(tmp_path / "model.pt")
    loaded = DiffusionClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.sample(10, random_state=1)[0], fitted.sample(10, random_state=1)[0])
    assert loaded.get_params() == fitted.get_params()
    assert loaded.loss_curve_ == fitted.loss_curve_


def test_save_keeps_string_labels_and_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = make_moons(200, noise=0.1, random_state=0)
    frame = pd.DataFrame(X, columns=["width", "height"])
    labels = np.where(y == 1, "yes", "no")
    clf = DiffusionClassifier(random_state=0, max_iter=20, hidden_size=16).fit(frame, labels)
    loaded = DiffusionClassifier.load(clf.save(tmp_path / "m.pt"))
    assert loaded.classes_.tolist() == ["no", "yes"]
    assert loaded.feature_names_in_.tolist() == ["width", "height"]
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_an_interrupted_save_leaves_the_old_file(fitted, tmp_path, monkeypatch):
    path = fitted.save(tmp_path / "model.pt")
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        fitted.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no temporary file left


def test_load_refuses_truncated_foreign_and_malicious_files(fitted, tmp_path):
    good = fitted.save(tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"truncated\.pt' is not a readable toyclf checkpoint"):
        DiffusionClassifier.load(tmp_path / "truncated.pt")

    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="is a torch file, but not a toyclf checkpoint"):
        DiffusionClassifier.load(tmp_path / "foreign.pt")

    class Boom:
        def __reduce__(self):
            return (print, ("this code must never run",))

    torch.save({"format": "toyclf-checkpoint", "payload": Boom()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a readable toyclf checkpoint"):
        DiffusionClassifier.load(tmp_path / "evil.pt")

    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="not a readable toyclf checkpoint"):
        DiffusionClassifier.load(tmp_path / "text.pt")

    with pytest.raises(FileNotFoundError, match="No checkpoint file at"):
        DiffusionClassifier.load(tmp_path / "missing.pt")


def test_load_refuses_a_damaged_checkpoint(tmp_path):
    from toyclf.utils.checkpoint import save_checkpoint

    save_checkpoint({"params": {}}, tmp_path / "damaged.pt", kind="DiffusionClassifier")
    with pytest.raises(ValueError, match="is a damaged DiffusionClassifier checkpoint"):
        DiffusionClassifier.load(tmp_path / "damaged.pt")


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "X, y, match",
    [
        ([[0.0, np.nan], [1.0, 1.0]], [0, 1], "Input X contains NaN"),
        ([[0.0, np.inf], [1.0, 1.0]], [0, 1], "Input X contains infinity"),
        ([0.0, 1.0, 2.0], [0, 1, 0], "Expected 2D array, got 1D array instead"),
        (np.zeros((4, 2, 2)), [0, 1, 0, 1], "Found array with dim 3"),
        ([[0.0, 1.0], [1.0, 0.0]], [0, 0], "needs samples of at least 2 classes in y; got 1 class: \\[0\\]"),
        ([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], [0, 1], "inconsistent numbers of samples: \\[3, 2\\]"),
        ([[0.0, 1.0], [1.0, 0.0]], [0.5, 1.5], "Unknown label type"),
    ],
)
def test_bad_training_data(X, y, match):
    with pytest.raises(ValueError, match=match):
        DiffusionClassifier(max_iter=2).fit(X, y)


def test_bad_prediction_data(fitted):
    with pytest.raises(ValueError, match="X has 3 features, but DiffusionClassifier is expecting 2 features"):
        fitted.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict_proba([[0.0, np.nan]])
    with pytest.raises(NotFittedError, match="This DiffusionClassifier instance is not fitted yet"):
        DiffusionClassifier().predict([[0.0, 1.0]])
    with pytest.raises(NotFittedError):
        DiffusionClassifier().save("never-written.pt")


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(n_trials=0),
            "The 'n_trials' parameter of DiffusionClassifier must be an int in the range \\[1, inf\\). Got 0",
        ),
        (dict(max_iter=-5), "'max_iter' parameter .* Got -5 instead"),
        (dict(loss="l3"), "The 'loss' parameter .* Got 'l3' instead"),
        (dict(weighting="snr"), "'weighting' parameter"),
        (dict(noise_schedule="sigmoid"), "'noise_schedule' parameter"),
        (
            dict(n_frequencies=-1),
            "'n_frequencies' parameter of DiffusionClassifier must be an int in the range \\[0, inf\\)",
        ),
        (dict(feature_scaling="minmax"), "'feature_scaling' parameter .* Got 'minmax' instead"),
        (dict(temperature=0.0), "'temperature' parameter .* Got 0.0 instead"),
        (dict(learning_rate=float("nan")), "'learning_rate' parameter"),
        (dict(priors=[0.5, 0.6]), "The sum of the priors should be 1"),
        (dict(priors=[1.0]), "Number of priors \\(1\\) must match the number of classes \\(2\\)"),
        (dict(device="meta"), "device must be 'cpu', 'cuda' or 'mps'; got 'meta'"),
        (dict(device="banana"), "device must be a torch device such as 'cpu' or 'cuda'; got 'banana'"),
    ],
)
def test_bad_parameters(params, match):
    X, y = make_moons(20, random_state=0)
    with pytest.raises(ValueError, match=match):
        DiffusionClassifier(**{"max_iter": 2, **params}).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_trials=0), "The 'n_trials' parameter of DiffusionClassifier must be an int in the range \\[1, inf\\)"),
        (dict(temperature=float("inf")), "'temperature' parameter .* Got inf instead"),
        (dict(temperature=-1.0), "'temperature' parameter .* Got -1.0 instead"),
        (dict(pruning="fast"), "'pruning' parameter .* Got 'fast' instead"),
        (dict(pruning=object()), "'pruning' parameter .* an object implementing 'stage_ends' and 'prune'"),
        (dict(noise_sampling="halton"), "'noise_sampling' parameter"),
    ],
)
def test_settings_changed_after_fit_are_checked_before_predicting(fitted, params, match):
    clf = pickle.loads(pickle.dumps(fitted)).set_params(**params)
    with pytest.raises(ValueError, match=match):
        clf.predict(np.zeros((2, 2)))


def test_global_scaler_is_one_mean_and_one_std_over_all_features():
    from sklearn.preprocessing import StandardScaler

    from toyclf.scaling import GlobalStandardScaler

    X = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 4)) * [1.0, 2.0, 3.0, 4.0]
    scaler = GlobalStandardScaler().fit(X)
    np.testing.assert_array_equal(scaler.mean_, np.full(4, X.mean()))
    np.testing.assert_array_equal(scaler.scale_, np.full(4, X.std()))
    # the very numbers of what "global" scaling was before: a StandardScaler with its mean and scale overwritten
    before = StandardScaler().fit(X)
    before.mean_[:], before.scale_[:] = X.mean(), X.std()
    np.testing.assert_array_equal(scaler.transform(X), before.transform(X))
    np.testing.assert_array_equal(scaler.inverse_transform(X), before.inverse_transform(X))
    # constant data (even where float rounding gives a tiny std): scale 1, as StandardScaler's
    for value in (3.0, 0.1):
        constant = np.full((40, 3), value)
        np.testing.assert_array_equal(GlobalStandardScaler().fit(constant).scale_, [1.0, 1.0, 1.0])
        np.testing.assert_array_equal(StandardScaler().fit(constant).scale_, [1.0, 1.0, 1.0])
    check_estimator(GlobalStandardScaler())


def test_global_scaling_is_saved_and_loaded_as_global(tmp_path):
    from toyclf.scaling import GlobalStandardScaler

    X, y = make_moons(200, noise=0.1, random_state=0)
    clf = DiffusionClassifier(feature_scaling="global", random_state=0, max_iter=20, hidden_size=16).fit(X * [1, 5], y)
    assert isinstance(clf.scaler_, GlobalStandardScaler)
    loaded = DiffusionClassifier.load(clf.save(tmp_path / "global.pt"))
    assert isinstance(loaded.scaler_, GlobalStandardScaler)
    np.testing.assert_array_equal(loaded.scaler_.scale_, clf.scaler_.scale_)
    np.testing.assert_array_equal(loaded.predict_proba(X[:50] * [1, 5]), clf.predict_proba(X[:50] * [1, 5]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_where_there_is_none():
    X, y = make_moons(20, random_state=0)
    with pytest.raises(ValueError, match="device='cuda' was requested, but CUDA is not available here"):
        DiffusionClassifier(max_iter=2, device="cuda").fit(X, y)


def test_priors_enter_the_posterior_by_bayes_rule(fitted, spirals_split):
    X = spirals_split[2][:500]
    clf = pickle.loads(pickle.dumps(fitted)).set_params(pruning=None)  # every class of every point, all trials
    np.testing.assert_allclose(clf.class_prior_, [0.5, 0.5])  # the class frequencies of y
    base = clf.predict_proba(X)
    clf.class_prior_ = np.array([0.9, 0.1])
    shifted = clf.predict_proba(X)
    # posterior odds = prior odds x likelihood ratio
    np.testing.assert_allclose(
        np.log(shifted[:, 0] / shifted[:, 1]), np.log(base[:, 0] / base[:, 1]) + np.log(9), rtol=1e-6
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.class_prior_ = np.array([1.0, 0.0])  # a zero prior: that class is never predicted, and no warning
        assert (clf.predict(X) == 0).all()


def test_priors_parameter():
    X, y = make_moons(30, random_state=0)
    assert DiffusionClassifier(priors=[0.3, 0.7], max_iter=2).fit(X, y).class_prior_.tolist() == [0.3, 0.7]
