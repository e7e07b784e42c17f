"""The thread choice under load (toyclf.utils.threads): what it counts, what it chooses, what it restores."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import toyclf.utils.threads as threads

linux_only = pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="counts runnable threads from Linux's /proc")


@linux_only
def test_a_busy_process_is_counted():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        counts = [threads.running_elsewhere() for _ in range(20)]
    finally:
        busy.kill()
    assert np.median(counts) >= 1


@pytest.mark.parametrize("free, expected", [(None, "all"), (0, 1), (-3, 1), (1, 1), (64, "all")])
def test_the_choice_is_at_least_one_and_at_most_torchs_setting(monkeypatch, free, expected):
    monkeypatch.setattr(threads, "free_cores", lambda: free)
    assert threads.threads_for_load() == (torch.get_num_threads() if expected == "all" else expected)


def test_the_classifier_uses_the_choice_and_restores_torchs_setting(monkeypatch, fitted, spirals_split):
    seen = []
    monkeypatch.setattr(threads, "free_cores", lambda: 1)
    monkeypatch.setattr(
        fitted.denoiser_, "predict_noise", lambda *args: seen.append(torch.get_num_threads()) or args[0]
    )
    before = torch.get_num_threads()
    fitted.class_errors(spirals_split[2][:5])
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before


def test_the_thread_choice_changes_no_prediction(monkeypatch, fitted, spirals_split):
    X_test = spirals_split[2][:300]
    results = {}
    for free in (1, 2):
        monkeypatch.setattr(threads, "free_cores", lambda free=free: free)
        results[free] = fitted.class_errors(X_test)
    np.testing.assert_array_equal(results[1], results[2])  # the MLP's sums do not depend on the threads
