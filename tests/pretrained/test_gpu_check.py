"""The device check script (``benchmarks/gpu_check.py``) runs end to end at tiny sizes on the CPU, as it
will on a GPU: the device tests, the zero-shot command and the speed benchmark, every step passing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_runs_tiny_on_the_cpu():
    pytest.importorskip("diffusers")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "1. the device tests: exit 0" in out and " passed" in out and "failed" not in out
    assert "  8 CSV rows" in out and "zero-shot, tiny_sd: exit 0" in out
    assert sum(line.startswith("tiny ") and "GFLOP per evaluation" in line for line in out.splitlines()) == 4
    assert "3. speed: exit 0" in out and out.splitlines()[-1].startswith("all checks passed")
