"""The device check: the test suite's device tests, the zero-shot command and the speed, on one device.

    python benchmarks/gpu_check.py                      # on a GPU, within 8 minutes
    python benchmarks/gpu_check.py --tiny --device cpu  # anywhere: the same steps at tiny sizes (CI runs this)

1. ``pytest tests/pretrained/test_device.py --device DEVICE``: the toy classifier and the tiny Stable Diffusion
   1/2 (epsilon and v), SDXL, SD3 and DiT pipelines against the CPU: the same decisions, errors
   within 1e-4 relative in float32 (1e-3 in the device's default float16), the same in a batch as
   one row or image at a time; it prints what it measured.
2. ``python -m toyclf.zeroshot`` on the device, on a labelled folder of 8 generated images, timed,
   with its CSV: with the tiny Stable Diffusion, and with a real-size SD 2 base pipeline of random
   weights saved to a folder (``benchmarks/real_size.py``; tiny again with ``--tiny``).
3. ``benchmarks/speed_benchmark.py``: SD 2 base, SDXL, SD3 medium and DiT-XL/2 at their real sizes
   (random weights), toyclf's default path against the paper's recipe.
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
from real_size import REAL

from toyclf.pretrained.loading import resolve_dtype
from toyclf.pretrained.tiny import save_tiny_stable_diffusion

HERE = Path(__file__).resolve().parent


def run(command: list[str], what: str) -> bool:
    """Run a step as its own process, its output shown as it comes; True when it exits 0."""
    print(f"$ {' '.join(command)}", flush=True)
    start = time.perf_counter()
    code = subprocess.run(command, cwd=HERE.parent).returncode
    print(f"  {what}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
    return code == 0


def labelled_folder(folder: Path) -> Path:
    """8 random RGB images in cat/ and dog/."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (folder / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / label / f"{i}.png")
    return folder


def zeroshot_run(model: Path, images: Path, device: str, trials: int) -> bool:
    csv = model.with_suffix(".csv")
    command = [sys.executable, "-m", "toyclf.zeroshot", "--model", str(model), "--device", device]
    ok = run([*command, "--trials", str(trials), "--csv", str(csv), "--quiet", str(images)], f"zero-shot, {model.name}")
    rows = csv.read_text().count("\n") - 1 if csv.exists() else 0
    print(f"  {rows} CSV rows", flush=True)
    return ok and rows == 8


def save_real_size_sd2(folder: Path, device: str) -> Path:
    """SD 2 base at its real size with random weights, saved in the device's default dtype."""
    start = time.perf_counter()
    _, builder, spec = REAL["sd2"]
    pipeline = builder(spec, device=device).to(dtype=resolve_dtype(None, torch.device(device)))
    pipeline.save_pretrained(folder)
    print(f"  built and saved a real-size SD 2 base pipeline in {time.perf_counter() - start:.1f} s", flush=True)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny pipelines only (a CPU, in about a minute)")
    parser.add_argument("--compile", action="store_true", help="also time toyclf's path with torch.compile")
    args = parser.parse_args()
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    print(f"device {args.device} ({where}), torch {torch.__version__}", flush=True)
    start = time.perf_counter()
    pytest = [sys.executable, "-m", "pytest", "tests/pretrained/test_device.py", "--device", args.device, "-q", "-s"]
    ok = run([*pytest, "-p", "no:cacheprovider"], "1. the device tests")
    with tempfile.TemporaryDirectory() as tmp:
        folder, images = Path(tmp), labelled_folder(Path(tmp) / "pets")
        print("2. the zero-shot command", flush=True)
        ok &= zeroshot_run(save_tiny_stable_diffusion(folder / "tiny_sd"), images, args.device, 16)
        if not args.tiny:
            ok &= zeroshot_run(save_real_size_sd2(folder / "sd2_base", args.device), images, args.device, 50)
    speed = [sys.executable, str(HERE / "speed_benchmark.py"), "--device", args.device]
    speed += ["--tiny"] if args.tiny else []
    ok &= run(speed, "3. speed")
    if args.compile:
        ok &= run([*speed, "--compile"], "3. speed with torch.compile")
    print(f"{'all checks passed' if ok else 'SOME CHECKS FAILED'}; done in {time.perf_counter() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
