"""How many CPU threads to use when other programs want the cores too.

PyTorch splits each operation over ``torch.get_num_threads()`` OpenMP threads (one per core) and
waits at the end of it for the slowest. When another program holds a core (a browser, Jupyter, a
second notebook), the thread that shares that core gets only part of it and every operation waits
for it: on 2 cores with one busy, two threads ran the toy denoiser at half the speed of one
(benchmarks/map_benchmark.py). :func:`threads_for_load` counts only the cores nobody else is
using, and :func:`torch_threads` runs a block with that many.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


def running_elsewhere() -> int | None:
    """The number of threads running right now in other processes, or None where Linux's
    ``/proc`` cannot say (macOS, Windows). Counted from the kernel's run queue
    (``/proc/loadavg``, field 4) less this process's own running threads."""
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        own = 0
        for task in Path("/proc/self/task").iterdir():
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]  # after "(command name)"
            own += state == "R"
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - own)


def free_cores() -> int | None:
    """Cores this process may use that no other process is using right now (None: unknown)."""
    others = running_elsewhere()
    if others is None:
        return None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return usable - others


def threads_for_load() -> int:
    """As many threads as there are free cores right now: at least one, never more than
    ``torch.get_num_threads()`` (which a user may have set); that setting where it is unknown."""
    current, free = torch.get_num_threads(), free_cores()
    return current if free is None else max(1, min(current, free))


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` CPU threads (None: leave torch's setting), then restore it."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
