"""The toy denoiser: a small conditional MLP eps_theta(x_t, t, c) for points in R^D.

As in tiny-diffusion, every input coordinate gets Fourier features, which is what lets a small
MLP fit sharp shapes such as spirals (for many coordinates, such as the 64 pixels of a digit,
the coordinates go in as they are); the timestep gets a sinusoidal embedding and the class a
learned one. The three are concatenated and go through residual ReLU blocks.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from toyclf.prediction import check_prediction_type, epsilon_from_prediction
from toyclf.schedule import NoiseSchedule
from toyclf.utils.validation import is_int, is_positive


def sinusoidal_embedding(values: Tensor, frequencies: Tensor) -> Tensor:
    """[sin(f v), cos(f v)] for every value and frequency: [M, D] x [F] -> [M, D * 2F]."""
    angles = values.unsqueeze(-1) * frequencies  # [M, D, F]
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(1)  # [M, D * 2F]


class MLPDenoiser(nn.Module):
    """Class-conditional MLP noise predictor for standardised D-dimensional points.

    Parameters
    ----------
    n_features : int
        D, the dimension of a point.
    n_classes : int
        Number of classes (label ids 0 .. n_classes - 1).
    schedule : NoiseSchedule, optional
        The forward process the model is trained for (default: linear, T = 1000).
    hidden_size : int, default=128
        Width of the residual blocks.
    n_layers : int, default=3
        Number of residual blocks.
    n_frequencies : int, default=16
        Fourier frequencies per input coordinate, geometric from 1/8 to ``max_frequency``;
        0 feeds the coordinates in as they are (what suits images).
    max_frequency : float, default=16.0
        Highest Fourier frequency (radians per unit of standardised input).
    prediction_type : {"epsilon", "v_prediction", "velocity"}, default="epsilon"
        What the network outputs (:mod:`toyclf.prediction`): the noise (DDPM), or the velocity
        eps - x_0 of flow matching (train it on a :class:`~toyclf.schedule.RectifiedFlowSchedule`).
        :meth:`predict_noise` always returns the noise it implies.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        schedule: NoiseSchedule | None = None,
        *,
        hidden_size: int = 128,
        n_layers: int = 3,
        n_frequencies: int = 16,
        max_frequency: float = 16.0,
        prediction_type: str = "epsilon",
    ) -> None:
        super().__init__()
        sizes = dict(n_features=n_features, n_classes=n_classes, hidden_size=hidden_size, n_layers=n_layers)
        sizes["n_frequencies"] = n_frequencies
        for name, value in sizes.items():
            low = 0 if name in ("n_layers", "n_frequencies") else 1
            if not is_int(value, low):  # numpy ints are ints; bool and 16.9 are not
                raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
        n_features, n_classes, hidden_size, n_layers, n_frequencies = (int(v) for v in sizes.values())
        if not is_positive(max_frequency):
            raise ValueError(f"max_frequency must be a positive finite number; got {max_frequency!r}.")
        max_frequency = float(max_frequency)
        self.prediction_type = check_prediction_type(prediction_type)
        self.schedule = schedule if schedule is not None else NoiseSchedule.linear()
        self.n_classes = n_classes
        self.latent_shape = (n_features,)
        self.config = {
            "n_features": n_features,
            "n_classes": n_classes,
            "hidden_size": hidden_size,
            "n_layers": n_layers,
            "n_frequencies": n_frequencies,
            "max_frequency": max_frequency,
        }
        if prediction_type != "epsilon":  # recorded only when set, so earlier files load unchanged
            self.config["prediction_type"] = prediction_type
        time_dim = class_dim = 32
        self.register_buffer(
            "x_frequencies", torch.logspace(math.log10(1 / 8), math.log10(max_frequency), n_frequencies)
        )
        # transformer-style timestep frequencies 1 .. 1/10000, for t in 0 .. T-1
        self.register_buffer("t_frequencies", torch.exp(-math.log(1e4) * torch.arange(time_dim // 2) / (time_dim // 2)))
        self.class_embedding = nn.Embedding(n_classes, class_dim)
        x_dim = n_features * 2 * n_frequencies if n_frequencies else n_features
        self.input = nn.Linear(x_dim + time_dim + class_dim, hidden_size)
        self.blocks = nn.ModuleList(nn.Linear(hidden_size, hidden_size) for _ in range(n_layers))
        self.output = nn.Linear(hidden_size, n_features)

    @property
    def device(self) -> torch.device:
        return self.output.weight.device

    def encode(self, x: Tensor) -> Tensor:
        """The toy model diffuses the (standardised) points themselves: identity."""
        return x

    def forward(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """The network's output (eps_theta(x_t, t, c), or the velocity): [M, D], [M], [M] -> [M, D]."""
        h = torch.cat(
            [
                sinusoidal_embedding(x_t, self.x_frequencies) if len(self.x_frequencies) else x_t,  # [M, D * 2F or D]
                sinusoidal_embedding(t[:, None].to(x_t.dtype), self.t_frequencies),  # [M, 32]
                self.class_embedding(labels),  # [M, 32]
            ],
            dim=1,
        )
        h = self.input(h).relu_()  # [M, H]
        for block in self.blocks:
            h = h + block(h).relu_()  # residual block, [M, H]
        return self.output(h)  # [M, D]

    def predict_noise(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """eps_theta(x_t, t, c), the noise the output implies: [M, D], [M], [M] -> [M, D]."""
        return epsilon_from_prediction(self(x_t, t, labels), x_t, *self.schedule.scales(t), self.prediction_type)

    def extra_repr(self) -> str:
        return f"prediction_type={self.prediction_type!r}, schedule={self.schedule}"

    @classmethod
    def from_config(cls, config: dict[str, Any], schedule: NoiseSchedule | None = None) -> MLPDenoiser:
        """Rebuild an (untrained) denoiser from its recorded ``config``."""
        config = dict(config)
        return cls(config.pop("n_features"), config.pop("n_classes"), schedule, **config)
