"""The device check: the same estimator on a GPU as on the CPU, and its speed on a real-size UNet.

    python benchmarks/gpu_check.py                     # on a GPU: agreement, the zero-shot command, UNet speed
    python benchmarks/gpu_check.py --tiny --device cpu # anywhere: the same checks at tiny sizes (tests run this)

1. Agreement, the CPU against ``--device``, in float32: the toy classifier (a spirals MLP trained on
   the CPU, saved, loaded onto each device) and the tiny random Stable Diffusion 1/2, XL and 3 and DiT pipelines
   (through ``load_denoiser``): the share of the same decisions, the largest relative difference of
   the per-class errors, and on the device the largest difference between scoring in a batch and
   one row at a time. Also the device's default dtype (float16 on CUDA) against the CPU's float32.
2. ``python -m toyclf.zeroshot`` on the device, on a labelled folder of generated images, timed,
   with its CSV.
3. Speed (not with ``--tiny``): ``benchmarks/unet_benchmark.py`` on the real SD 2.0 base UNet with
   random weights: the official recipe against toyclf's recipe, evaluations per second, the share
   of the device's matmul rate, seconds per image for the paper's schedules.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from toyclf import DiffusionClassifier, make_spirals
from toyclf.denoisers import load_denoiser
from toyclf.denoisers.tiny import (
    save_tiny_dit,
    save_tiny_stable_diffusion,
    save_tiny_stable_diffusion_3,
    save_tiny_stable_diffusion_xl,
)
from toyclf.estimator import class_errors
from toyclf.plan import make_plan

HERE = Path(__file__).resolve().parent


def compare(name: str, cpu: torch.Tensor, device: torch.Tensor, rowwise: torch.Tensor) -> bool:
    """Print one line of agreement; True when the decisions are the same and the errors within 1e-3 relative."""
    cpu, device, rowwise = (e.double().cpu() for e in (cpu, device, rowwise))
    same = float((cpu.argmin(1) == device.argmin(1)).double().mean())
    relative = float(((cpu - device).abs() / cpu.abs().clamp_min(1e-12)).max())
    batch_vs_row = float((device - rowwise).abs().max())
    ok = same == 1.0 and relative < 1e-3
    print(
        f"  {name:42s} same decisions {same:7.2%}  largest relative error difference {relative:.1e}  "
        f"batch vs one row on the device {batch_vs_row:.1e}  {'OK' if ok else 'DIFFERENT'}",
        flush=True,
    )
    return ok


def toy_agreement(device: str, folder: Path, tiny: bool) -> bool:
    X, y = make_spirals(800, noise=0.2, random_state=0)
    X_test, _ = make_spirals(200 if tiny else 1000, noise=0.2, random_state=1)
    steps = 200 if tiny else 3000
    clf = DiffusionClassifier(random_state=0, max_iter=steps, n_trials=64, pruning=None).fit(X, y)
    path = clf.save(folder / "spirals.pt")
    on_cpu, on_device = DiffusionClassifier.load(path, device="cpu"), DiffusionClassifier.load(path, device=device)
    cpu = torch.as_tensor(on_cpu.class_errors(X_test))  # [n, 2]
    batch = torch.as_tensor(on_device.class_errors(X_test))
    rows = torch.as_tensor(np.concatenate([on_device.class_errors(X_test[i : i + 1]) for i in range(len(X_test))]))
    return compare(f"toy MLP (spirals), {len(X_test)} points, 64 trials", cpu, batch, rows)


def pipeline_agreement(device: str, folder: Path) -> bool:
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1  # [6, 3, H, W] in [-1, 1]
    ok = True
    for name, model, classes in (
        ("tiny Stable Diffusion", save_tiny_stable_diffusion(folder / "sd"), ["cat", "dog", "fish"]),
        ("tiny SDXL", save_tiny_stable_diffusion_xl(folder / "sdxl"), ["cat", "dog", "fish"]),
        ("tiny Stable Diffusion 3", save_tiny_stable_diffusion_3(folder / "sd3"), ["cat", "dog", "fish"]),
        ("tiny DiT", save_tiny_dit(folder / "dit"), ["tench", "goldfish", "great white shark"]),
    ):
        errors = {}
        for where, dtype in (("cpu", "float32"), (device, "float32"), (device, None)):
            denoiser = load_denoiser(model, classes, device=where, dtype=dtype)
            plan = make_plan(denoiser, 16, seed=0)
            batch = class_errors(denoiser, images, plan)
            rows = torch.cat([class_errors(denoiser, images[i : i + 1], plan) for i in range(len(images))])
            errors[where, dtype] = batch, rows
        cpu = errors["cpu", "float32"][0]
        ok &= compare(f"{name}, float32", cpu, *errors[device, "float32"])
        default = str(load_denoiser(model, classes, device=device).dtype).removeprefix("torch.")
        compare(f"{name}, the device's default ({default})", cpu, *errors[device, None])
    return ok


def zeroshot_run(device: str, folder: Path) -> bool:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (folder / "pets" / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
                folder / "pets" / label / f"{i}.png"
            )
    command = [sys.executable, "-m", "toyclf.zeroshot", "--model", str(folder / "sd"), "--device", device]
    command += ["--trials", "16", "--csv", str(folder / "pets.csv"), "--quiet", str(folder / "pets")]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    rows = (folder / "pets.csv").read_text().count("\n") - 1 if (folder / "pets.csv").exists() else 0
    print(
        f"  python -m toyclf.zeroshot on {device}: exit {done.returncode}, {rows} CSV rows, {seconds:.1f} s", flush=True
    )
    print(
        "   ", done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:], flush=True
    )
    return done.returncode == 0 and rows == 8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes, no real-size UNet")
    parser.add_argument("--compile", action="store_true", help="also time toyclf's recipe with torch.compile")
    args = parser.parse_args()
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    print(f"device {args.device} ({where}), torch {torch.__version__}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("1. agreement, CPU against the device (float32)", flush=True)
        ok = toy_agreement(args.device, folder, args.tiny)
        ok &= pipeline_agreement(args.device, folder)
        print("2. the zero-shot command", flush=True)
        ok &= zeroshot_run(args.device, folder)
    if not args.tiny:
        print("3. speed: benchmarks/unet_benchmark.py", flush=True)
        for extra in ([], ["--compile"]) if args.compile else ([],):
            subprocess.run(
                [sys.executable, str(HERE / "unet_benchmark.py"), "--device", args.device, *extra], check=False
            )
    print(f"{'all agree' if ok else 'SOME DIFFER'}; done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
