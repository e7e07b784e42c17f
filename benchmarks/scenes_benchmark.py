"""Benchmark: how fast the world of shapes (toyclf.scenes) draws its captioned scenes.

    python benchmarks/scenes_benchmark.py

Prints scenes per second for one- and two-object 32 x 32 scenes (attributes and pixels), and
the time of one scene in units of this machine's 1024 x 1024 float32 matrix multiply, measured
in the same run, so other machines can compare.
"""

from __future__ import annotations

import time

from spirals_benchmark import matmul_seconds

from toyclf.scenes import HELD_OUT_COMBINATIONS, make_scenes

N = 4000


def main() -> None:
    unit = matmul_seconds()
    print(f"machine unit: one 1024x1024 float32 matmul = {unit * 1e3:.2f} ms")
    for n_objects in (1, 2):
        make_scenes(100, n_objects=n_objects, random_state=0)  # warm up
        start = time.perf_counter()
        make_scenes(N, n_objects=n_objects, exclude=HELD_OUT_COMBINATIONS, random_state=0)
        seconds = time.perf_counter() - start
        print(
            f"{n_objects} object(s), 32 x 32: {N / seconds:,.0f} scenes/s "
            f"({seconds / N / unit:.3f} matmul units a scene)"
        )


if __name__ == "__main__":
    main()
