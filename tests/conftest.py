"""Shared fixtures: small data, a quickly trained classifier, and denoisers with exact answers."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach a model hub

import numpy as np
import pytest
import torch

from toyclf import DiffusionClassifier, NoiseSchedule, make_spirals


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default="cpu",
        help="where the device tests (tests/pretrained/test_device.py) run the estimator, against the CPU: cpu, cuda, cuda:1",
    )


@pytest.fixture(scope="session")
def device(request) -> str:
    """The device of ``pytest --device`` (default cpu), checked to exist."""
    from toyclf.utils.device import resolve_device

    return str(resolve_device(request.config.getoption("--device")))


# A configuration that trains in about two seconds on 2 cores and still classifies spirals well.
FAST = dict(max_iter=600, hidden_size=64, n_trials=16)


class PrototypeDenoiser:
    """The exact noise predictor for data that is one point mu_c per class.

    If x_0 = mu_c then eps = (x_t - sqrt(abar_t) mu_c) / sqrt(1 - abar_t) exactly, so for any
    point x its denoising error under class c is known in closed form:
    || eps - eps_c ||^2 = SNR(t) || x - mu_c ||^2. It records every call, to check what the
    estimator sends.
    """

    def __init__(self, prototypes: torch.Tensor, schedule: NoiseSchedule | None = None) -> None:
        self.prototypes = prototypes.float()  # [K, *S]
        self.schedule = schedule if schedule is not None else NoiseSchedule.linear(100)
        self.n_classes = len(prototypes)
        self.latent_shape = tuple(prototypes.shape[1:])
        self.calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.encoded: list[int] = []

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.encoded.append(len(x))
        return x.float()

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.calls.append((x_t.clone(), t.clone(), labels.clone()))
        abar = self.schedule.alphas_cumprod[t].float().reshape(-1, *([1] * (x_t.ndim - 1)))
        return (x_t - abar.sqrt() * self.prototypes[labels]) / (1 - abar).sqrt()


@pytest.fixture
def prototype_denoiser() -> PrototypeDenoiser:
    return PrototypeDenoiser(torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, 2.0]]))


@pytest.fixture(scope="session")
def spirals_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """800 training and 2000 independent test points of the default spirals."""
    X_train, y_train = make_spirals(800, noise=0.2, random_state=0)
    X_test, y_test = make_spirals(2000, noise=0.2, random_state=1)
    return X_train, y_train, X_test, y_test


@pytest.fixture(scope="session")
def overlapping() -> tuple[np.ndarray, np.ndarray]:
    """120 held-out points of two overlapping 2D Gaussians (-0.2 and 0.2, unit variance): data with
    mistakes near the boundary, so that a calibration has a finite optimum."""
    rng = np.random.default_rng(1)
    return np.concatenate([rng.normal(-0.2, 1, (60, 2)), rng.normal(0.2, 1, (60, 2))]), np.repeat([0, 1], 60)


@pytest.fixture(scope="session")
def fitted(spirals_split) -> DiffusionClassifier:
    """A classifier trained once for the whole session (do not modify it in a test)."""
    X_train, y_train, _, _ = spirals_split
    return DiffusionClassifier(random_state=0, **FAST).fit(X_train, y_train)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """Folders holding tiny random pipelines saved with save_pretrained: Stable Diffusion
    (epsilon and v-prediction), SDXL, Stable Diffusion 3 and DiT. They load through the same
    code as a hub id."""
    pytest.importorskip("diffusers")
    from toyclf.pretrained.tiny import (
        save_tiny_dit,
        save_tiny_stable_diffusion,
        save_tiny_stable_diffusion_3,
        save_tiny_stable_diffusion_xl,
    )

    root = tmp_path_factory.mktemp("models")
    return {
        "sd": str(save_tiny_stable_diffusion(root / "sd")),
        "sd_v": str(save_tiny_stable_diffusion(root / "sd_v", prediction_type="v_prediction", seed=1)),
        "sdxl": str(save_tiny_stable_diffusion_xl(root / "sdxl")),
        "sd3": str(save_tiny_stable_diffusion_3(root / "sd3")),
        "dit": str(save_tiny_dit(root / "dit")),
    }


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory) -> str:
    """A labelled folder: two classes ("cat", "dog"), three random RGB images each, odd sizes."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (root / name).mkdir()
        for i in range(3):
            pixels = rng.integers(0, 256, size=(40 + 4 * i, 52, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return str(root)
