"""Benchmark: Stable Diffusion UNet evaluations per second, the official recipe against toyclf's, in one run.

    python benchmarks/unet_benchmark.py                 # a GPU: the real SD 2.0 base UNet, random weights
    python benchmarks/unet_benchmark.py --tiny          # anywhere (CPU): the tiny test UNet, to check it runs

Speed does not depend on the weights, so the real architecture (SD 2.0 base: 865 M parameters,
latents 4 x 64 x 64, 77 x 1024 text embeddings) is built from its config with random weights and
nothing is downloaded. Measured on the same device, side by side:

- the official implementation's recipe (Li et al.): fp16, batch 32, the classic attention
  (``AttnProcessor``: softmax(QK^T) materialised), eager PyTorch, NCHW;
- toyclf's: ``--dtype`` (bf16 by default on GPU), PyTorch's scaled-dot-product attention
  (flash / memory-efficient kernels), channels-last, ``--batch-size`` (default 128), and
  ``torch.compile`` with ``--compile``.

It prints evaluations per second of each (target: toyclf >= 2 x the official recipe), the
FLOPs of one evaluation (counted by ``torch.utils.flop_counter``) and the achieved fraction of the
device's own dense matrix-multiply rate measured in the same run, and seconds per image for the
paper's CIFAR-10 schedule (10 classes, 2,750 evaluations) and ImageNet schedule (1000 classes,
100,000 evaluations), against the paper's 30 s and 1000 s on an RTX 3090.
"""

from __future__ import annotations

import argparse
import time

import torch

from toyclf.denoisers.tiny import TINY_UNET

SD2_BASE_UNET = dict(  # stabilityai/stable-diffusion-2-base, unet/config.json
    sample_size=64,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=1024,
    attention_head_dim=(5, 10, 20, 20),
    use_linear_projection=True,
)
SCHEDULES = {
    "CIFAR-10 (10 classes, 2,750 evaluations)": (2750, 30.0),
    "ImageNet (1000 classes, 100,000)": (100_000, 1000.0),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_second(device: torch.device, dtype: torch.dtype, n: int) -> float:
    """The device's dense matrix-multiply rate in this dtype: median of timed n x n products."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b, device)


def timed(step, device: torch.device, repeats: int = 5) -> float:
    """Median seconds of ``step()`` after two warm-up calls."""
    for _ in range(2):
        step()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def unet_step(unet, batch: int, config: dict, device, dtype, channels_last: bool):
    """A closure that runs one UNet forward on a random batch (latents, timesteps, text embeddings)."""
    size = config["sample_size"]
    x = torch.randn(batch, 4, size, size, device=device, dtype=dtype)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    t = torch.randint(0, 1000, (batch,), device=device)
    text = torch.randn(batch, 77, config["cross_attention_dim"], device=device, dtype=dtype)

    def step():
        with torch.inference_mode():
            return unet(x, t, encoder_hidden_states=text).sample

    return step


def main() -> None:
    import diffusers
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    diffusers.utils.logging.set_verbosity_error()

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny test UNet (runs on a CPU in seconds)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="toyclf's batch (default 128 on GPU, 32 on CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile toyclf's UNet")
    args = parser.parse_args()

    device = torch.device(args.device)
    gpu = device.type == "cuda"
    official_dtype = torch.float16 if gpu else torch.float32  # fp16 convolutions are not a CPU path
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if gpu else torch.float32)
    batch = args.batch_size or (128 if gpu else 32)
    config = TINY_UNET if args.tiny else SD2_BASE_UNET
    name = "tiny test UNet" if args.tiny else "SD 2.0 base UNet (random weights)"
    print(f"{name} on {torch.cuda.get_device_name(device) if gpu else 'CPU'}, torch {torch.__version__}")

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config).eval().requires_grad_(False)
    print(f"parameters: {sum(p.numel() for p in unet.parameters()) / 1e6:.1f} M")

    official = unet.to(device, official_dtype)
    official.set_attn_processor(AttnProcessor())
    official_rate = 32 / timed(unet_step(official, 32, config, device, official_dtype, False), device)
    print(
        f"official recipe ({str(official_dtype)[6:]}, batch 32, classic attention, eager): {official_rate:8.1f} evaluations/s"
    )

    ours = unet.to(device, dtype).to(memory_format=torch.channels_last)
    ours.set_attn_processor(AttnProcessor2_0())
    if args.compile:
        ours = torch.compile(ours, mode="max-autotune-no-cudagraphs" if gpu else "default")
    step = unet_step(ours, batch, config, device, dtype, True)
    our_rate = batch / timed(step, device)
    recipe = f"{str(dtype)[6:]}, batch {batch}, SDPA, channels-last{', torch.compile' if args.compile else ''}"
    ratio = our_rate / official_rate
    print(
        f"toyclf ({recipe}): {our_rate:8.1f} evaluations/s = {ratio:.2f} x (target >= 2) {'PASS' if ratio >= 2 else 'FAIL'}"
    )

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        unet_step(unet, 1, config, device, dtype, True)()
    flops = counter.get_total_flops()
    peak = matmul_flops_per_second(device, dtype, 8192 if gpu else 1024)
    print(
        f"one evaluation: {flops / 1e9:.1f} GFLOP; toyclf runs at {flops * our_rate / 1e12:.2f} TFLOP/s = "
        f"{100 * flops * our_rate / peak:.0f} % of this device's {str(dtype)[6:]} matmul rate ({peak / 1e12:.1f} TFLOP/s)"
    )
    for schedule, (evaluations, paper_seconds) in SCHEDULES.items():
        print(
            f"{schedule}: {evaluations / our_rate:8.1f} s per image with toyclf's recipe, "
            f"{evaluations / official_rate:8.1f} s with the official one (paper, RTX 3090: {paper_seconds:.0f} s)"
        )


if __name__ == "__main__":
    main()
