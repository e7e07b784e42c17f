"""Training a class-conditional noise predictor: the training algorithm of Ho et al. (2020), written out.

repeat:  (x_0, c) ~ data,  t ~ Uniform{0 .. T-1},  eps ~ N(0, I)
         take a gradient step on || eps - eps_theta( sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t, c ) ||^2

and its flow-matching twin on the straight path x_t = (1 - sigma_t) x_0 + sigma_t eps, where the
network learns the velocity: || (eps - x_0) - v_theta(x_t, t, c) ||^2.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from tqdm import tqdm

from toyclf.denoisers.mlp import MLPDenoiser
from toyclf.prediction import prediction_target
from toyclf.schedule import NoiseSchedule, RectifiedFlowSchedule
from toyclf.utils.threads import torch_threads
from toyclf.utils.validation import is_int, is_positive

OBJECTIVES = {"epsilon": "epsilon", "flow": "velocity"}  # the training objective -> what the network predicts


def objective_schedule(objective: str, noise_schedule: str, n_timesteps: int, shift: float) -> NoiseSchedule:
    """The path an objective trains on: DDPM's named schedule (``"cosine"``, ``"linear"``) for
    ``"epsilon"``, the straight line of rectified flow for ``"flow"`` (``noise_schedule`` unused);
    either with every SNR multiplied by ``shift**2``."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(map(repr, OBJECTIVES))}; got {objective!r}.")
    if objective == "flow":
        return RectifiedFlowSchedule.linear(n_timesteps, shift=shift)
    return NoiseSchedule.from_name(noise_schedule, n_timesteps, shift=shift)


def seeded_mlp(n_features: int, n_classes: int, schedule: NoiseSchedule, *, seed: int, **sizes: int) -> MLPDenoiser:
    """A fresh :class:`~toyclf.denoisers.MLPDenoiser` whose initial weights come from ``seed``
    (torch's global generator is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLPDenoiser(n_features, n_classes, schedule, **sizes)


def train_denoiser(
    denoiser: nn.Module,
    x0: Tensor,
    labels: Tensor,
    *,
    steps: int = 3000,
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    seed: int = 0,
    progress: bool = False,
    num_threads: int | None = 1,
) -> list[float]:
    """Fit ``denoiser`` to predict the noise added to ``x0`` (the training algorithm of Ho et al. 2020),
    or what its ``prediction_type`` names: for ``"velocity"`` on a rectified-flow schedule, the
    velocity eps - x0 of flow matching (Lipman et al. 2023; :mod:`toyclf.prediction`). Either way
    the loss is the MSE of the network's own output, t uniform over the schedule's T levels.

    ``x0`` is [n, *S] (already encoded) and ``labels`` [n] (long). AdamW with a cosine decay of the
    learning rate to zero. Minibatches, timesteps and noise come from one CPU generator seeded
    with ``seed`` and are then moved to the model's device, so a seed gives the same run on any
    device. Returns the training loss of every step. A loss that is not finite (the run diverged:
    too high a ``learning_rate``) stops training with a ``ValueError``, as do weights that the
    last step left non-finite: a diverged network never goes on to answer.

    ``num_threads`` CPU threads are used while training (None: torch's setting). One is the
    default: the toy model's small matrices train as fast on one thread as on two, and when
    another process holds a core, two threads spinning at every barrier run many times slower
    (benchmarks/README.md, "Other measurements").
    """
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if not is_int(value):  # numpy ints are ints; bool and 2.7 are not
            raise ValueError(f"{name} must be a positive int; got {value!r}.")
    if not is_positive(learning_rate):
        raise ValueError(f"learning_rate must be a positive finite number; got {learning_rate!r}.")
    steps, batch_size, learning_rate = int(steps), int(batch_size), float(learning_rate)  # numpy scalars as Python's
    device = denoiser.device
    schedule = denoiser.schedule
    prediction_type = getattr(denoiser, "prediction_type", "epsilon")
    generator = torch.Generator().manual_seed(seed)
    x0, labels = x0.to(device), labels.to(device)
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=learning_rate, weight_decay=0.0, fused=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)

    denoiser.train()
    losses = []
    with torch_threads(num_threads if device.type == "cpu" else None):
        for _ in tqdm(range(steps), desc="training", disable=not progress, leave=False):
            index = torch.randint(len(x0), (batch_size,), generator=generator)  # [b]
            t = torch.randint(schedule.num_timesteps, (batch_size,), generator=generator)  # [b]
            noise = torch.randn((batch_size, *x0.shape[1:]), generator=generator)  # [b, *S]
            index, t, noise = index.to(device), t.to(device), noise.to(device)
            x_t = schedule.add_noise(x0[index], noise, t)  # [b, *S]
            target = prediction_target(x0[index], noise, *schedule.scales(t), prediction_type)  # eps, or eps - x0, ...
            loss = nn.functional.mse_loss(denoiser(x_t, t, labels[index]), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise ValueError(
                    diverged(f"the training loss is {losses[-1]} at step {len(losses)} of {steps}", learning_rate)
                )
    denoiser.eval()
    if not all(torch.isfinite(p).all() for p in denoiser.parameters()):
        raise ValueError(diverged("the last step left weights that are not finite", learning_rate))
    return losses


def diverged(what: str, learning_rate: float) -> str:
    return f"training diverged: {what}. Lower the learning rate (learning_rate={learning_rate:g})."
