"""The processes of a zero-shot run: the one process, or each of the several that ``torchrun`` or
``accelerate launch`` started (accelerate's ``PartialState``), and how they share the images.

Only the main process opens the results CSV to write: it checks, repairs and locks it. Where it
cannot take the file (another run holds it, a damaged row, other settings) every process stops,
the main one with the error and the others quietly with the same exit code, rather than wait at
a barrier the main process never reaches (:meth:`RunProcesses.open_results`). The images to do
are split between the processes in contiguous shares, in input order; with several, each writes
its rows to its own part file (``NAME.rank{r}.csv``) and its unreadable files to its own part of
the skip log, and the main process merges the parts into the CSV at the end. Part files that an
interrupted run left count as done, and are merged by the next one.

accelerate is imported only where the processes start, so that the command that uses this module
imports without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from toyclf.pretrained.image_results import ResultTable, report_repairs
from toyclf.utils.results_file import SKIPPED_COLUMNS, ResultsFile, part_path


class RunProcesses:
    """This process among the processes of a run (one, or those torchrun started), on ``device``
    (``"auto"``: this process's GPU if there is one, else the CPU)."""

    def __init__(self, device: str) -> None:
        from accelerate import PartialState

        on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
        self.state = PartialState(cpu=on_cpu)  # accelerate's view of the processes: rank, count, device

    @property
    def main(self) -> bool:
        """Whether this is the main process: the one that opens the CSV, merges the parts and reports."""
        return self.state.is_main_process

    @property
    def several(self) -> bool:
        return self.state.num_processes > 1

    @property
    def device(self) -> Any:
        """This process's device, as accelerate assigns it (each process its own GPU)."""
        return self.state.device

    def wait(self) -> None:
        """Go on once every process has come here."""
        self.state.wait_for_everyone()

    def open_results(self, table: ResultTable, csv: Path | None, *, exit_code: int) -> ResultsFile:
        """The results CSV, opened by the main process (checked, repaired, locked, and what was
        repaired said); the others get an in-memory table once it is. Where the main process
        cannot take the file every process stops: the main one raises the error, the others exit
        quietly with ``exit_code`` (the command's code for that error)."""
        problem, results = None, table.open(None)
        if self.main:
            try:
                results = table.open(csv, lock=True)
            except (ValueError, OSError) as error:
                problem = error
        if self.several:
            self.broadcast_refusal(problem is not None, exit_code)
        if problem is not None:
            raise problem
        if self.main:
            report_repairs(results)
        return results

    def broadcast_refusal(self, refused: bool, exit_code: int) -> None:
        """Tell every process whether the main one (``refused``: its own answer) could not take the
        CSV; where it could not, the others exit with ``exit_code`` (the main one says why)."""
        from accelerate.utils import broadcast_object_list

        failed = broadcast_object_list([refused])[0]  # the main process's answer, on every process
        self.wait()  # every process has the answer before any of them leaves
        if failed and not self.main:
            raise SystemExit(exit_code)

    def images_done(self, table: ResultTable, results: ResultsFile, csv: Path | None) -> set[str]:
        """The images (keys) already in the CSV (the main process has them from the file it opened,
        the others read it) or in the part files an interrupted multi-process run left."""
        done = results.done if self.main else table.keys_in(csv)
        if csv is not None:
            done = done | table.keys_in_parts(csv)
        return done

    @contextlib.contextmanager
    def share(
        self, todo: list, table: ResultTable, results: ResultsFile, csv: Path | None, log: Path | None
    ) -> Iterator[tuple[list, ResultsFile, ResultsFile]]:
        """(this process's share of ``todo``, where it writes their rows, where it logs the files it
        skips): the CSV and the skip ``log`` for one process, its own part files for several
        (``log=None``: skips kept in memory only). The part files are closed on leaving."""
        with self.state.split_between_processes(todo) as mine:
            rank = self.state.process_index
            writer = table.open(part_path(csv, rank), lock=True, part=True) if self.several else results
            skips = ResultsFile(part_path(log, rank) if self.several else log, SKIPPED_COLUMNS, unique=False)
            with skips, writer if self.several else contextlib.nullcontext():
                yield mine, writer, skips

    def merge_parts(self, results: ResultsFile, order: Sequence[str]) -> None:
        """On the main process, once every process is done: the rows of the part files appended to
        the CSV in the ``order`` of the images (keys), and the parts deleted (nothing without a CSV)."""
        if results.path is not None:
            results.merge_parts(list(order))
