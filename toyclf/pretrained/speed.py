"""How a pretrained backbone runs fast on a GPU: the settings of toyclf's one path.

:func:`toyclf.pretrained.load_denoiser` applies them (and ``python -m toyclf.zeroshot``, and the
speed benchmark, through it); on a CPU they change nothing but the batch size. Against the
official implementation's recipe (fp16, batch 32, attention with softmax(QK^T) materialised,
NCHW, eager), toyclf's is:

- attention through PyTorch's ``scaled_dot_product_attention`` (flash / memory-efficient kernels;
  diffusers' default processors), ``attention="classic"`` for the official one;
- channels-last memory for a UNet's convolutions on CUDA (cuDNN's fastest layout in fp16/bf16);
- a batch that fills the device: the rows (point, class, trial) per backbone call are measured
  on the GPU (:func:`fitting_batch_size`), so a 24 GB card and an 80 GB one both stay busy
  without running out of memory;
- ``torch.compile`` on request (its first calls compile for minutes), for one batch shape: the
  short batches at the end of a stage are padded to it rather than compiled again.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from toyclf.utils.validation import is_int

ATTENTIONS = ("sdpa", "classic")
CPU_BATCH_SIZE = 32  # rows per call on a CPU: larger batches do not run faster there
MOST_ROWS = 256  # no batch larger than this: past it a GPU is full, and pruning decides less often


def speed_up(
    denoiser: Any,
    *,
    attention: str = "sdpa",
    channels_last: bool | None = None,
    eval_batch_size: int | None = None,
    compile: bool = False,
) -> Any:
    """Set ``denoiser`` (a :class:`~toyclf.pretrained.latent.LatentDenoiser`) up to run fast, in place.

    ``channels_last=None``: on for a UNet on CUDA. ``eval_batch_size=None``: measured to fill half the
    GPU's free memory (:func:`fitting_batch_size`), 32 on a CPU. Returns the denoiser.
    """
    check_speed_settings(attention, eval_batch_size)
    backbone = denoiser.backbone
    if attention == "classic":
        use_classic_attention(backbone)
    is_unet = hasattr(backbone, "conv_in")
    if channels_last is None:
        channels_last = is_unet and denoiser.device.type == "cuda"
    backbone.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    denoiser.eval_batch_size = fitting_batch_size(denoiser) if eval_batch_size is None else int(eval_batch_size)
    if compile:  # one shape: batches padded to eval_batch_size rows (LatentDenoiser.fixed_rows), no recompiling
        denoiser.backbone = torch.compile(backbone, dynamic=False)
        denoiser.fixed_rows = denoiser.eval_batch_size
    return denoiser


def use_classic_attention(backbone: Any) -> None:
    """Every attention layer computes softmax(QK^T / sqrt(d)) V with the matrix materialised, as
    the official implementation's diffusers did (``AttnProcessor``)."""
    from diffusers.models.attention_processor import AttnProcessor

    layers = [m for m in backbone.modules() if hasattr(m, "set_processor") and hasattr(m, "processor")]
    joint = sorted({type(m.processor).__name__ for m in layers if "Joint" in type(m.processor).__name__})
    if joint:
        raise ValueError(f"attention='classic' is for UNets and DiT; this network's attention is {joint[0]}.")
    for layer in layers:
        layer.set_processor(AttnProcessor())


def check_speed_settings(attention: str, eval_batch_size: int | None) -> None:
    """A clear error for an unknown attention kernel or a batch size that is not a positive int."""
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {', '.join(map(repr, ATTENTIONS))}; got {attention!r}.")
    if eval_batch_size is not None and not is_int(eval_batch_size):
        raise ValueError(
            f"eval_batch_size must be a positive integer or None (fill the device); got {eval_batch_size!r}."
        )


def batch_for_memory(free_bytes: float, bytes_per_row: float, *, fraction: float = 0.5, most: int = MOST_ROWS) -> int:
    """The largest power of two of rows whose activations take at most ``fraction`` of the free memory."""
    rows = fraction * free_bytes / max(bytes_per_row, 1.0)
    return int(min(most, 2 ** max(0, math.floor(math.log2(max(rows, 1.0))))))


def fitting_batch_size(denoiser: Any, *, fraction: float = 0.5) -> int:
    """Rows per backbone call that fill ``fraction`` of the GPU's free memory (CPU: 32).

    Measured, not guessed (:func:`bytes_per_row`), against the memory free on the device plus
    what PyTorch holds cached but unused. A cost too small to measure (a tiny model) gives 32.
    """
    device = denoiser.device
    if device.type != "cuda":
        return CPU_BATCH_SIZE
    torch.cuda.empty_cache()
    per_row = bytes_per_row(denoiser)
    if per_row <= 0:
        return CPU_BATCH_SIZE
    free, _ = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return batch_for_memory(free + cached, per_row, fraction=fraction)


def bytes_per_row(denoiser: Any) -> float:
    """GPU memory one more row of a call costs: after a warm-up call, the peak memory of a call on
    4 rows and on 8, whose difference is 4 rows' activations (the model's own memory cancels)."""
    device, peaks = denoiser.device, []
    for rows in (4, 4, 8):  # the first call warms up: one-time allocations do not count
        x_t = torch.randn(rows, *denoiser.latent_shape, device=device)  # [rows, *S]
        t = torch.full((rows,), denoiser.schedule.num_timesteps // 2, device=device)  # [rows]
        labels = torch.zeros(rows, dtype=torch.long, device=device)  # [rows]
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        denoiser.predict_noise(x_t, t, labels)
        torch.cuda.synchronize(device)
        peaks.append(torch.cuda.max_memory_allocated(device) - before)
        del x_t
    return (peaks[2] - peaks[1]) / 4
