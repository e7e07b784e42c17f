"""The rows of a zero-shot run: one per image, what its CSV holds, the check of a row read back,
and what the run says about them (resuming, repairs, an interruption, skipped files, accuracy).

A row is ``path, label, prediction, trials, error[c]..., p[c]...`` for the classes c of the run.
``path`` is written absolute, so the file means the same from any working directory; an image is
identified by its real path (:func:`toyclf.pretrained.images.image_key`), so one image is one row
however its path was spelled. A row read back from a CSV must be one this table writes: its
prediction and label among the classes, a positive count of trials, finite errors and
probabilities in [0, 1] (:meth:`ResultTable.problem`).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toyclf.pretrained.images import image_key
from toyclf.utils.results_file import ResultsFile, part_files, read_rows, read_skipped, skipped_path


def row_path(path: str | os.PathLike) -> str:
    """How an image's path is written in a results CSV: absolute (not resolved: links stay as named)."""
    return os.path.abspath(path)


def row_key(row: dict) -> str:
    """The image a row is about (:func:`~toyclf.pretrained.images.image_key` of its path)."""
    return image_key(row["path"])


RENAMED_FLAGS = {"--n-samples": "--stage-trials"}  # old flag -> new, in settings records of older runs


@dataclass(frozen=True)
class ResultTable:
    """The results CSV of a run over the classes ``classes`` with the ``settings`` that decide its
    numbers (recorded beside the CSV: a file of other settings is refused, not mixed in)."""

    classes: Sequence[str]
    settings: dict[str, Any] | None = None

    @property
    def columns(self) -> list[str]:
        return ["path", "label", "prediction", "trials", *self.error_columns, *self.probability_columns]

    @property
    def error_columns(self) -> list[str]:
        return [f"error[{c}]" for c in self.classes]

    @property
    def probability_columns(self) -> list[str]:
        return [f"p[{c}]" for c in self.classes]

    def row(self, path: str, label: str | None, outcome: dict) -> dict:
        """The row of one image's outcome (:func:`toyclf.pretrained.image_classification.classify_images`)."""
        trials = int(outcome["trials"].sum())
        row = {"path": row_path(path), "label": label or "", "prediction": outcome["prediction"], "trials": trials}
        row |= {name: f"{e:.9g}" for name, e in zip(self.error_columns, outcome["errors"], strict=True)}
        return row | {
            name: f"{p:.6g}" for name, p in zip(self.probability_columns, outcome["probabilities"], strict=True)
        }

    def problem(self, row: dict) -> str | None:
        """What is wrong with a row read back (None if it is one this table writes)."""
        classes = list(self.classes)
        if row["prediction"] not in classes:
            return f"its prediction {row['prediction']!r} is not one of the classes {classes}"
        if row["label"] and row["label"] not in classes:
            return f"its label {row['label']!r} is not one of the classes {classes}"
        if not (row["trials"].isdigit() and int(row["trials"]) > 0):
            return f"its trials {row['trials']!r} are not a positive integer"
        for name in self.error_columns + self.probability_columns:
            try:
                value = float(row[name])
            except ValueError:
                return f"its {name} {row[name]!r} is not a number"
            if not math.isfinite(value) or (name.startswith("p[") and not 0 <= value <= 1):
                return (
                    f"its {name} {row[name]!r} is not a {'probability' if name.startswith('p[') else 'finite number'}"
                )
        return None

    def open(self, path: str | os.PathLike | None, *, lock: bool = False, part: bool = False) -> ResultsFile:
        """The results file at ``path`` (in memory only for None), read back and checked row by row,
        its settings checked against this run's (not for a ``part`` file: its CSV's are)."""
        settings = None if part else self.settings
        return ResultsFile(
            path,
            self.columns,
            key=row_key,
            check_row=self.problem,
            lock=lock,
            settings=settings,
            renamed_settings=RENAMED_FLAGS,
        )

    def keys_in(self, path: str | os.PathLike | None) -> set[str]:
        """The images a results file holds rows for (none for a missing file), read without writing."""
        if path is None or not Path(path).exists():
            return set()
        return {row_key(row) for row in read_rows(Path(path), self.columns, self.problem)}

    def keys_in_parts(self, path: str | os.PathLike) -> set[str]:
        """The images that the part files of ``path`` hold rows for (an interrupted multi-process run)."""
        return {key for part in part_files(path) for key in self.keys_in(part)}


def report_repairs(results: ResultsFile) -> None:
    """Say what reading the CSV back repaired: a last line cut short, rows of an image given twice."""
    if results.cut_line is not None:
        print(
            f"warning: the last line of {results.path} was cut short (a run stopped while writing it): removed, "
            "and its image is scored again",
            file=sys.stderr,
        )
    if results.unrecorded_settings:
        print(
            f"note: {results.path} has no record of the settings its rows were made with (an older toyclf wrote "
            "it): they are taken to be this run's, recorded beside it with its first new row",
            file=sys.stderr,
        )
    if results.duplicates:
        print(
            f"warning: {results.path} holds {results.duplicates} more row(s) for images already in it "
            "(the same image under another spelling of its path); each image counts once",
            file=sys.stderr,
        )


def interruption_note(
    csv: Path | None, results: ResultsFile, writer: ResultsFile, mine: Sequence[str], state: Any
) -> str:
    """What an interrupted run kept of the images ``mine`` (keys) this process was given, in one
    line (``writer``: where it wrote its rows; ``state``: accelerate's, for several processes)."""
    kept = sum(key in writer.done for key in mine)
    if csv is None:
        return f"{kept} of {len(mine)} images were classified; without --csv nothing is kept."
    whose = f"process {state.process_index}: " if state.num_processes > 1 else ""
    where = csv if writer is results else f"its part file {writer.path}"
    return (
        f"{whose}{kept} of the {len(mine)} images to do are saved in {where}; the group being scored is not. "
        "Run the same command again to resume."
    )


def announce_resume(csv: Path | None, total: int, todo: Sequence[tuple[str, Any]]) -> None:
    """How much of the work an earlier run with this --csv did, and which unreadable files are tried again."""
    if csv is None:
        return
    if len(todo) < total:
        where = f"{csv} or the part files an interrupted run left" if part_files(csv) else str(csv)
        print(f"resuming: {total - len(todo)} of {total} images are already in {where}")
    earlier = read_skipped(csv)
    retried = sum(row_path(path) in earlier for path, _ in todo)
    if retried:
        print(f"trying again {retried} file(s) that could not be read before (listed in {skipped_path(csv)})")


def report_skipped(skipped: dict[str, str], total: int, log: Path | None, shown: int = 20) -> None:
    """The files that were skipped and why (the first ``shown`` of them), on stderr."""
    if not skipped:
        return
    where = "" if log is None else f" (listed in {log})"
    print(f"skipped {len(skipped)} of {total} files that are not readable images{where}:", file=sys.stderr)
    for path, reason in list(skipped.items())[:shown]:
        print(f"  {path}: {reason}", file=sys.stderr)
    if len(skipped) > shown:
        print(f"  ... and {len(skipped) - shown} more", file=sys.stderr)


def report_accuracy(rows: list[dict], classes: list[str]) -> None:
    """Accuracy over the labelled rows, overall and per class."""
    labelled = [row for row in rows if row["label"]]
    correct = np.array([row["prediction"] == row["label"] for row in labelled])
    print(f"accuracy: {correct.mean():.4f} ({correct.sum()} of {len(correct)} images)")
    for c in classes:
        mine = [row["prediction"] == c for row in labelled if row["label"] == c]
        if mine:
            print(f"  {c}: {np.mean(mine):.4f} of {len(mine)}")
