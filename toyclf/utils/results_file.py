"""A CSV of per-image results that is written as the work goes, and read back to resume it.

One row per image (``path`` first). Rows are appended and flushed one by one, so an interrupted
run loses at most the image it was working on; the next run with the same file skips every path
already in it. With several processes each writes its own part file (``NAME.rank{r}.csv``) and
the main process merges the parts into the file in the end (:func:`merge_parts`).

Files that could not be read go to a companion log beside it (``NAME.skipped.csv``: path and
reason; :func:`skipped_path`), appended as they are met and rewritten at the end of a run.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from toyclf.utils.files import atomic_write

SKIPPED_COLUMNS = ("path", "reason")


class ResultsFile:
    """Append-only CSV rows with a fixed header; ``done`` are the paths already in the file.
    With ``path=None`` the rows are only kept in memory."""

    def __init__(self, path: str | os.PathLike | None, columns: Sequence[str]) -> None:
        self.path = None if path is None else Path(path)
        self.columns = list(columns)
        self.rows = read_rows(self.path, self.columns) if self.path is not None and self.path.exists() else []

    @property
    def done(self) -> set[str]:
        return {row["path"] for row in self.rows}

    def append(self, row: dict) -> None:
        """Write one row now (the header first, for a new file)."""
        self.rows.append({key: str(value) for key, value in row.items()})
        if self.path is None:
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as file:
            writer = csv.DictWriter(file, self.columns)
            if new:
                writer.writeheader()
            writer.writerow(row)


def read_rows(path: Path, columns: Sequence[str]) -> list[dict]:
    """The rows of a results CSV, checked to have ``columns`` (the same classes and fields)."""
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        if reader.fieldnames is not None and list(reader.fieldnames) != list(columns):
            raise ValueError(
                f"{str(path)!r} holds results with columns {reader.fieldnames}, but this run writes {list(columns)}: "
                "a different class list or settings. Use another --csv file (or delete this one to start over)."
            )
        return list(reader)


def part_path(path: str | os.PathLike, rank: int) -> Path:
    """Where process ``rank`` writes its rows before they are merged."""
    path = Path(path)
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def part_files(path: str | os.PathLike) -> list[Path]:
    """The part files of ``path`` that processes have written (of this run or an interrupted one)."""
    path = Path(path)
    return sorted(path.parent.glob(f"{path.stem}.rank*{path.suffix}"))


def part_rows(path: str | os.PathLike, columns: Sequence[str]) -> dict[str, dict]:
    """The rows of every part file of ``path``, by image path."""
    return {row["path"]: row for part in part_files(path) for row in read_rows(part, columns)}


def merge_parts(path: str | os.PathLike, columns: Sequence[str], order: Sequence[str]) -> ResultsFile:
    """Move the rows of every part file into ``path`` (in the order of ``order``), delete the parts."""
    results = ResultsFile(path, columns)
    rows = part_rows(path, columns)
    done = results.done
    for key in order:
        if key in rows and key not in done:
            results.append(rows[key])
    for part in part_files(path):
        part.unlink()
    return results


def skipped_path(path: str | os.PathLike) -> Path:
    """The companion log of the results CSV ``path``: the files that were skipped, and why."""
    path = Path(path)
    return path.with_name(f"{path.stem}.skipped{path.suffix}")


def read_skipped(path: str | os.PathLike) -> dict[str, str]:
    """{file: reason} of the skip log of ``path`` and of the parts that processes left; a later
    entry for the same file wins."""
    log = skipped_path(path)
    logs = ([log] if log.exists() else []) + part_files(log)
    return {row["path"]: row["reason"] for file in logs for row in read_rows(file, SKIPPED_COLUMNS)}


def write_skipped(path: str | os.PathLike, skipped: dict[str, str]) -> None:
    """Replace the skip log of ``path`` with ``skipped`` (no file when it is empty); delete its parts."""
    log = skipped_path(path)
    if skipped:
        atomic_write(log, lambda tmp: write_rows(tmp, SKIPPED_COLUMNS, skipped.items()))
    else:
        log.unlink(missing_ok=True)
    for part in part_files(log):
        part.unlink()


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A header and ``rows`` (sequences in the order of ``columns``) as a new CSV file."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)
