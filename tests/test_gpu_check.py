"""The device check script (``benchmarks/gpu_check.py``) runs end to end at tiny sizes on the CPU, as it will on a
GPU: the same checks, the CPU against itself, every one agreeing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_tiny_on_the_cpu():
    pytest.importorskip("diffusers")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum("same decisions 100.00%" in line and line.endswith("OK") for line in lines) == 1 + 4 * 2, (
        done.stdout
    )  # toy; 4 pipelines, 2 dtypes
    assert any("python -m toyclf.zeroshot on cpu: exit 0, 8 CSV rows" in line for line in lines), done.stdout
    assert lines[-1].startswith("all agree")
