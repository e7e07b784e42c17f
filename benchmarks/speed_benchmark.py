"""Benchmark: the estimator's speed through toyclf's one GPU path, against the paper's recipe, in one run.

    python benchmarks/speed_benchmark.py                      # a GPU: SD 2 base, SDXL, SD3 medium, DiT-XL/2
    python benchmarks/speed_benchmark.py --models sd2 dit     # some of them
    python benchmarks/speed_benchmark.py --tiny               # anywhere (CPU): tiny pipelines, to check it runs

Speed does not depend on the weights, so each architecture is built at its published size with
random weights (``benchmarks/real_size.py``; nothing is downloaded) and driven end to end the way
a user's run drives it: ``denoiser_from_pipeline`` (what ``load_denoiser`` does once the pipeline
is loaded) and :func:`toyclf.estimator.class_errors` on one image, 8 classes. Side by side on
the same device:

- toyclf's default path: fp16 on CUDA, PyTorch's fused attention, channels-last UNets, the batch
  measured to fill half the free memory (and ``torch.compile`` with ``--compile``);
- the official implementation's recipe (Li et al.): fp16, batch 32, the classic attention
  (softmax(QK^T) materialised; SD3's joint attention has no classic form: fused there), NCHW.

It prints evaluations per second of each and their ratio (target: toyclf >= 2 x), the FLOPs of
one evaluation (``torch.utils.flop_counter``) and the fraction of the device's own fp16 matmul
rate measured in the same run, peak memory, and seconds per image for the paper's CIFAR-10
schedule (2,750 evaluations; SD) and ImageNet schedule (100,000; DiT), beside the paper's 30 s
and 1000 s on an RTX 3090.
"""

from __future__ import annotations

import argparse
import time

import torch
from real_size import REAL, TINY_MODELS
from torch.utils.flop_counter import FlopCounterMode

from toyclf.estimator import class_errors
from toyclf.plan import make_plan
from toyclf.pretrained.loading import denoiser_from_pipeline, resolve_dtype

N_CLASSES = 8  # divides every power-of-two batch: the timed runs are whole batches, for both recipes
TRIALS = {"sd2": 64, "sdxl": 16, "sd3": 16, "dit": 256}  # per class, at least: seconds of the official recipe
SCHEDULES = {  # the paper's: evaluations per image, its seconds per image on an RTX 3090
    "sd2": ("CIFAR-10 schedule (2,750 evaluations)", 2750, 30.0),
    "dit": ("ImageNet schedule (100,000 evaluations)", 100_000, 1000.0),
}
OFFICIAL = dict(attention="classic", channels_last=False, eval_batch_size=32)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_second(device: torch.device, dtype: torch.dtype, n: int) -> float:
    """The device's dense matrix-multiply rate in this dtype: the best of five timed n x n products."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    times = []
    for _ in range(7):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times[2:])


def evaluations_per_second(denoiser, x: torch.Tensor, trials: int, batch: int) -> float:
    """Classify ``x`` (one image) over every class with ``trials`` trials each, after a warm-up run
    of one ``batch``: denoiser evaluations per second, the whole estimator included."""
    class_errors(denoiser, x, make_plan(denoiser, batch // denoiser.n_classes, seed=1))  # warm-up (and compiling)
    start = time.perf_counter()
    class_errors(denoiser, x, make_plan(denoiser, trials, seed=0))  # returns on the CPU: synchronised
    return len(x) * denoiser.n_classes * trials / (time.perf_counter() - start)


def flops_per_evaluation(denoiser) -> float:
    """FLOPs of one denoiser evaluation (one row), counted by torch.utils.flop_counter."""
    x_t = torch.randn(1, *denoiser.latent_shape, device=denoiser.device)
    t, labels = torch.tensor([500], device=denoiser.device), torch.tensor([0], device=denoiser.device)
    with FlopCounterMode(display=False) as counter:
        denoiser.predict_noise(x_t, t, labels)
    return counter.get_total_flops()


def benchmark(name: str, what: str, builder, spec: dict, device: torch.device, compile: bool, peak: float) -> None:
    dtype = resolve_dtype(None, device)
    classes = [f"label {i}" for i in range(N_CLASSES)]
    if name == "dit":
        n_labels = 1000 if spec is REAL["dit"][2] else N_CLASSES
        pipeline = builder(spec, tuple(f"label {i}" for i in range(n_labels)), device=device)
    else:
        pipeline = builder(spec, device=device)
    pipeline.to(device, dtype)
    ours = denoiser_from_pipeline(pipeline, classes, compile=compile)
    parameters = sum(p.numel() for p in ours.backbone.parameters())
    batch = max(ours.eval_batch_size, OFFICIAL["eval_batch_size"])  # both powers of two: whole batches for both
    rows = -(-N_CLASSES * (TRIALS[name] if device.type == "cuda" else 4) // batch) * batch
    x = torch.rand(1, 3, ours.image_size, ours.image_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    our_rate = evaluations_per_second(ours, x, rows // N_CLASSES, batch)
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    setting = {**OFFICIAL, "attention": "sdpa"} if name == "sd3" else OFFICIAL  # joint attention: fused only
    official = denoiser_from_pipeline(pipeline, classes, **setting)  # the same network, set up the paper's way
    flops = flops_per_evaluation(official)  # eager, one row unpadded
    official_rate = evaluations_per_second(official, x, rows // N_CLASSES, batch)
    ratio = our_rate / official_rate
    print(f"{what}: {parameters / 1e6:.1f} M parameters, {flops / 1e9:.1f} GFLOP per evaluation", flush=True)
    print(
        f"  official recipe ({str(dtype)[6:]}, batch 32, {setting['attention']} attention, NCHW): {official_rate:8.1f} ev/s"
    )
    print(
        f"  toyclf's path ({str(dtype)[6:]}, batch {ours.eval_batch_size}, fused attention"
        f"{', channels-last' if hasattr(ours.backbone, 'conv_in') and device.type == 'cuda' else ''}"
        f"{', torch.compile' if compile else ''}): {our_rate:8.1f} ev/s = {ratio:.2f} x "
        f"(target >= 2: {'PASS' if ratio >= 2 else 'FAIL'}); peak memory {memory:.1f} GiB",
        flush=True,
    )
    print(f"  {flops * our_rate / 1e12:.1f} TFLOP/s = {100 * flops * our_rate / peak:.0f} % of the matmul rate")
    if name in SCHEDULES:
        schedule, evaluations, paper = SCHEDULES[name]
        print(
            f"  {schedule}: {evaluations / our_rate:.1f} s per image (official recipe "
            f"{evaluations / official_rate:.1f} s; the paper on an RTX 3090: {paper:.0f} s)",
            flush=True,
        )
    del ours, official, pipeline
    if device.type == "cuda":
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(REAL), default=list(REAL))
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny pipelines (a CPU, in seconds)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile toyclf's network")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = resolve_dtype(None, device)
    peak = matmul_flops_per_second(device, dtype, 8192 if device.type == "cuda" else 1024)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{where}, torch {torch.__version__}; {str(dtype)[6:]} matmul rate {peak / 1e12:.1f} TFLOP/s", flush=True)
    models = TINY_MODELS if args.tiny else REAL
    for name in args.models:
        benchmark(name, *models[name], device, args.compile, peak)


if __name__ == "__main__":
    main()
