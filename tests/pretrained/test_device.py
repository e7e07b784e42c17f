"""The estimator on ``pytest --device`` (default cpu) against the CPU: the toy classifier and every
tiny pretrained pipeline give the same decisions, per-class errors within the stated tolerances,
and the same answer in a batch as one row or one image at a time.

    pytest tests/pretrained/test_device.py --device cuda -s     # on a GPU, printing what it measured

On the CPU the comparisons are of the CPU with itself (the batch and the determinism checks still
bite); ``benchmarks/gpu_check.py`` runs this file on the GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toyclf import DiffusionClassifier

FLOAT32 = 1e-4  # largest relative difference of the errors between the CPU and the device, float32
DEFAULT_DTYPE = 1e-3  # ... with the device's default dtype (float16 on CUDA)

PIPELINES = {  # tiny_models key: the classes
    "sd": ["cat", "dog", "fish"],
    "sd_v": ["cat", "dog", "fish"],
    "sdxl": ["cat", "dog", "fish"],
    "sd3": ["cat", "dog", "fish"],
    "dit": ["tench", "goldfish", "great white shark"],
}


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = torch.as_tensor(a).double().cpu(), torch.as_tensor(b).double().cpu()
    return float(((a - b).abs() / a.abs().clamp_min(1e-12)).max())


def agree(name: str, cpu, on_device, rowwise, tolerance: float, *, decisions: bool = True) -> None:
    """Assert (and print) the agreement of the CPU's errors [n, K] with the device's, and of the
    device's in a batch with its own one row (image) at a time, both within ``tolerance``."""
    cpu, on_device, rowwise = (torch.as_tensor(e).double().cpu() for e in (cpu, on_device, rowwise))
    same = float((cpu.argmin(1) == on_device.argmin(1)).double().mean())
    print(
        f"\n  {name}: same decisions {same:.2%}, largest relative difference {relative(cpu, on_device):.1e}, "
        f"batch against one at a time {relative(on_device, rowwise):.1e}"
    )
    assert relative(cpu, on_device) < tolerance and relative(on_device, rowwise) < tolerance
    if decisions:
        assert same == 1.0


def test_toy_classifier_agrees_with_the_cpu(fitted, spirals_split, device, tmp_path):
    path = fitted.save(tmp_path / "spirals.pt")
    X_test = spirals_split[2][:300]
    on_cpu, on_device = DiffusionClassifier.load(path, device="cpu"), DiffusionClassifier.load(path, device=device)
    cpu, batch = on_cpu.class_errors(X_test), on_device.class_errors(X_test)  # [300, 2] each
    rows = np.concatenate([on_device.class_errors(X_test[i : i + 1]) for i in range(len(X_test))])
    agree(f"toy MLP on {device}", cpu, batch, rows, FLOAT32)
    assert np.array_equal(batch, on_device.class_errors(X_test))  # the same seed, the same answer


@pytest.mark.parametrize("dtype", ["float32", None], ids=["float32", "default-dtype"])
@pytest.mark.parametrize("model", list(PIPELINES))
def test_pretrained_pipelines_agree_with_the_cpu(tiny_models, device, model, dtype):
    pytest.importorskip("diffusers")
    if dtype is None and device == "cpu":
        pytest.skip("the CPU's default dtype is float32: the case above")
    from toyclf.estimator import class_errors
    from toyclf.plan import make_plan
    from toyclf.pretrained import load_denoiser

    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1  # [4, 3, H, W]
    cpu_denoiser = load_denoiser(tiny_models[model], PIPELINES[model], device="cpu", dtype="float32")
    denoiser = load_denoiser(tiny_models[model], PIPELINES[model], device=device, dtype=dtype)
    plan = make_plan(denoiser, 12, seed=0)
    cpu = class_errors(cpu_denoiser, images, plan)
    batch = class_errors(denoiser, images, plan)
    alone = torch.cat([class_errors(denoiser, images[i : i + 1], plan) for i in range(len(images))])
    name = f"tiny {model} on {device}, {str(denoiser.dtype)[6:]}"
    agree(name, cpu, batch, alone, FLOAT32 if dtype else DEFAULT_DTYPE, decisions=dtype is not None)
    assert torch.allclose(batch, class_errors(denoiser, images, plan), rtol=1e-6)  # the same seed, the same answer
