"""Saving and loading a fitted :class:`~toyclf.classifier.DiffusionClassifier`.

A checkpoint holds the parameters, the fitted attributes and the denoiser's weights as tensors and
plain values only (:mod:`toyclf.utils.checkpoint`): loading one never runs code from the file, and
the loaded classifier predicts exactly what the saved one did. Settings that are objects are
written as what builds them again (:func:`encode_setting`): a pruning rule as its class name and
fields; numpy scalars become Python numbers. A setting that cannot be written so is refused
before the file is touched, so a file that :func:`save_classifier` wrote always loads.
"""

from __future__ import annotations

import dataclasses
import os
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from toyclf.denoisers.mlp import MLPDenoiser
from toyclf.pruning import PRUNINGS, EarlyStopping, FixedTrials, StagedElimination
from toyclf.scaling import make_scaler
from toyclf.schedule import NoiseSchedule, RectifiedFlowSchedule
from toyclf.utils.checkpoint import load_checkpoint, save_checkpoint
from toyclf.utils.device import resolve_device

CHECKPOINT_KIND = "DiffusionClassifier"


RULES = {rule.__name__: rule for rule in (FixedTrials, StagedElimination, EarlyStopping)}  # savable pruning objects


def encode_setting(name: str, value: Any, *, strict: bool = True) -> Any:
    """A parameter's value as what rebuilds it (:func:`decode_setting`): a pruning rule object as
    ``{"rule": class name, **fields}``, a seed as an int (a ``RandomState`` as None: the plan's
    seed is saved as ``plan_seed_``); everything else as it is, made plain when it is written.
    A rule of another class is refused, or with ``strict=False`` (a record of past settings)
    written as its repr, which no setting equals."""
    if name == "pruning" and not (value is None or isinstance(value, str)):
        if type(value) not in RULES.values() and not strict:
            return f"unsaved rule {value!r}"
        if type(value) not in RULES.values():
            raise TypeError(
                f"pruning={value!r} cannot be saved: a saved classifier holds None, a rule name "
                f"({', '.join(map(repr, PRUNINGS))}) or a rule object of {', '.join(RULES)}."
            )
        return {"rule": type(value).__name__, **dataclasses.asdict(value)}
    if name == "random_state":
        return int(value) if isinstance(value, Integral) and not isinstance(value, bool) else None
    return value


def decode_setting(name: str, value: Any) -> Any:
    """The parameter value that :func:`encode_setting` wrote as ``value``."""
    if name == "pruning" and isinstance(value, dict):
        fields = dict(value)
        rule = fields.pop("rule")
        renamed = getattr(RULES[rule], "RENAMED_FIELDS", {})  # files written before a field was renamed
        return RULES[rule](**{renamed.get(name, name): value for name, value in fields.items()})
    return value


def encode_settings(settings: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    return {name: encode_setting(name, value, strict=strict) for name, value in settings.items()}


def decode_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {name: decode_setting(name, value) for name, value in settings.items()}


def save_classifier(clf: Any, path: str | os.PathLike) -> Path:
    """Save the fitted classifier ``clf`` to ``path`` (a torch file of tensors and plain values only;
    written to a temporary file and then renamed, so an interrupted save leaves no broken file)."""
    check_is_fitted(clf)
    classes = clf.classes_.tolist()
    if not all(isinstance(c, (str, int, float, bool)) for c in classes):
        raise TypeError("Only classes that are str, int, float or bool can be saved.")
    payload = {
        "params": encode_settings(clf.get_params()),
        "calibrated_for": encode_settings(getattr(clf, "calibrated_for_", None) or {}, strict=False),
        "classes": classes,
        "classes_dtype": clf.classes_.dtype.str,
        "class_prior": clf.class_prior_.tolist(),
        "feature_names_in": getattr(clf, "feature_names_in_", np.array([])).tolist(),
        "scaler_mean": clf.scaler_.mean_.tolist(),
        "scaler_scale": clf.scaler_.scale_.tolist(),
        "plan_seed": clf.plan_seed_,
        "data_bound": clf.data_bound_,
        "loss_curve": list(clf.loss_curve_),
        "denoiser_config": clf.denoiser_.config,
        "alphas_cumprod": clf.denoiser_.schedule.alphas_cumprod,
        "sigmas": clf.denoiser_.schedule.noise_scale,  # rectified flow's schedule is its sigmas
        "state_dict": {k: v.detach().cpu() for k, v in clf.denoiser_.state_dict().items()},
    }
    return save_checkpoint(payload, path, kind=CHECKPOINT_KIND)


def load_classifier(cls: type, path: str | os.PathLike, device: str | torch.device | None = None) -> Any:
    """Load a classifier of class ``cls`` written by :func:`save_classifier` (no code is unpickled).
    ``device`` overrides the saved one. The scaler is rebuilt for the saved ``feature_scaling``."""
    doc = load_checkpoint(path, kind=CHECKPOINT_KIND)
    try:
        params = decode_settings(doc["params"])
        if device is not None:
            params["device"] = str(device)
        clf = cls(**params)
        clf.classes_ = np.asarray(doc["classes"], dtype=np.dtype(doc["classes_dtype"]))
        clf.class_prior_ = np.asarray(doc["class_prior"], dtype=np.float64)
        clf.n_features_in_ = len(doc["scaler_mean"])
        if doc["feature_names_in"]:
            clf.feature_names_in_ = np.asarray(doc["feature_names_in"], dtype=object)
        clf.scaler_ = make_scaler(clf.feature_scaling)
        clf.scaler_.mean_ = np.asarray(doc["scaler_mean"], dtype=np.float64)
        clf.scaler_.scale_ = np.asarray(doc["scaler_scale"], dtype=np.float64)
        clf.scaler_.var_ = clf.scaler_.scale_**2
        clf.scaler_.n_features_in_ = clf.n_features_in_
        clf.plan_seed_ = int(doc["plan_seed"])
        clf.data_bound_ = float(doc["data_bound"])
        clf.loss_curve_ = list(doc["loss_curve"])
        clf.n_iter_ = len(clf.loss_curve_)
        if doc.get("calibrated_for"):  # the settings calibrate() fitted the temperature for
            clf.calibrated_for_ = decode_settings(doc["calibrated_for"])
        flow = doc["params"].get("objective") == "flow"
        schedule = RectifiedFlowSchedule(doc["sigmas"]) if flow else NoiseSchedule(doc["alphas_cumprod"])
        denoiser = MLPDenoiser.from_config(doc["denoiser_config"], schedule)
        denoiser.load_state_dict(doc["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"{str(path)!r} is a damaged {CHECKPOINT_KIND} checkpoint: {error}") from None
    clf.denoiser_ = denoiser.to(resolve_device(clf.device)).eval()
    return clf
