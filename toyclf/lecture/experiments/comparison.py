"""The diffusion classifier beside scikit-learn baselines, on one split, timed.

Used by ``python -m toyclf.spirals`` and by ``benchmarks/``: one place decides what the
baselines are and how they are fitted, scored and timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.special import softmax
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from toyclf.data import make_dataset


@dataclass
class Split:
    """Training and held-out test data of one data set."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def make_split(name: str, n_train: int, n_test: int, *, noise: float | None = None, random_state: int = 0) -> Split:
    """Draw ``n_train + n_test`` points of data set ``name`` and split them, stratified."""
    X, y = make_dataset(name, n_train + n_test, noise=noise, random_state=random_state)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=n_train, test_size=n_test, stratify=y, random_state=random_state
    )
    return Split(name, X_train, X_test, y_train, y_test)


def baseline_classifiers(random_state: int = 0) -> dict[str, ClassifierMixin]:
    """Strong scikit-learn baselines, each standardising its input and tuned by 5-fold CV where
    it has a knob that matters: an RBF SVM (C, gamma), k-nearest neighbours (k), an MLP."""
    svm = GridSearchCV(
        make_pipeline(StandardScaler(), SVC()), {"svc__C": [1, 10, 100, 1000], "svc__gamma": ["scale", 1, 3, 10]}
    )
    knn = GridSearchCV(
        make_pipeline(StandardScaler(), KNeighborsClassifier()), {"kneighborsclassifier__n_neighbors": [5, 15, 30, 50]}
    )
    mlp = make_pipeline(StandardScaler(), MLPClassifier((100, 100), max_iter=2000, random_state=random_state))
    return {"RBF SVM": svm, "k-NN": knn, "MLP": mlp}


def tabular_baselines(random_state: int = 0) -> dict[str, ClassifierMixin]:
    """The baselines of :func:`baseline_classifiers` and gradient boosting (histogram-based, tuned by
    5-fold CV over the learning rate and the size of its trees): the strongest off-the-shelf
    classifiers for small low-dimensional tables."""
    boosting = GridSearchCV(
        HistGradientBoostingClassifier(random_state=random_state),
        {"learning_rate": [0.05, 0.1, 0.2], "max_leaf_nodes": [7, 15, 31]},
    )
    return {**baseline_classifiers(random_state), "gradient boosting": boosting}


def image_baselines() -> dict[str, ClassifierMixin]:
    """Strong scikit-learn baselines for small images (the digits), each tuned by 5-fold CV:
    logistic regression (C), an RBF SVM (C, gamma) and k-nearest neighbours (k, weights). The SVM
    and k-NN see the raw pixels, which share one unit (standardising would inflate the rarely
    inked border pixels and costs them about a point); logistic regression is standardised so
    that its solver converges."""
    logistic = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        {"logisticregression__C": [0.01, 0.1, 1, 10]},
    )
    svm = GridSearchCV(SVC(), {"C": [1, 3, 10, 30, 100], "gamma": ["scale", 3e-4, 1e-3, 3e-3]})
    knn = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3, 5, 7, 9], "weights": ["uniform", "distance"]})
    return {"logistic regression": logistic, "RBF SVM": svm, "k-NN": knn}


def class_probabilities(classifier: ClassifierMixin, X: np.ndarray) -> np.ndarray:
    """p(c | x) for shading a map: ``predict_proba``, or for a classifier without it (an SVM) a
    softmax of its decision function, which has the same argmax. (n_samples, n_classes)"""
    if hasattr(classifier, "predict_proba"):
        return classifier.predict_proba(X)
    scores = classifier.decision_function(X)
    if scores.ndim == 1:  # binary: the score of the second class against the first
        scores = np.column_stack([-scores, scores]) / 2
    return softmax(scores, axis=1)


@dataclass
class Result:
    """One classifier fitted and scored on a split."""

    name: str
    classifier: ClassifierMixin
    accuracy: float
    fit_seconds: float
    predict_seconds: float
    y_pred: np.ndarray  # the predictions on the test part


def fit_and_score(name: str, classifier: ClassifierMixin, split: Split) -> Result:
    """Fit on the training part, score (accuracy) on the test part, timing both."""
    start = time.perf_counter()
    classifier.fit(split.X_train, split.y_train)
    fitted = time.perf_counter()
    y_pred = classifier.predict(split.X_test)
    done = time.perf_counter()
    return Result(name, classifier, float(np.mean(y_pred == split.y_test)), fitted - start, done - fitted, y_pred)


def format_table(results: list[Result]) -> str:
    """A plain-text table: classifier, test accuracy, fit and predict seconds."""
    width = max(len(r.name) for r in results)
    lines = [f"{'classifier':<{width}}  test accuracy  fit (s)  predict (s)"]
    for r in results:
        lines.append(f"{r.name:<{width}}  {r.accuracy:13.4f}  {r.fit_seconds:7.1f}  {r.predict_seconds:11.2f}")
    return "\n".join(lines)
