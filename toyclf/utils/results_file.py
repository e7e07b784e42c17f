"""A CSV of per-item results that is written as the work goes, and read back, checked, to resume it.

One row per item (an image: ``path`` first), identified by a key (by default its ``path``; the
zero-shot command keys images by their resolved path, so one image is one row however its path
was spelled). Reading a file back checks it:

- a last row cut short (the run was killed while writing it: in a field, a quoted field holding
  a line break, a character of several bytes, before its line ending) is removed from the file,
  and its item done again: :attr:`ResultsFile.cut_line` holds what was removed, for the caller
  to say so;
- the settings the rows were made with are kept beside the file (``NAME.csv.settings.json``):
  rows of other settings are refused, never mixed in;
- a file that is not UTF-8 text or not a CSV, a header of other columns, a row with too few or
  too many fields, or one that ``check_row`` refuses is a ``ValueError`` naming the file and line;
- a key met a second time (a file that earlier versions appended the same image to twice) counts
  once: :attr:`ResultsFile.duplicates` says how many rows were left out.

Rows are appended and flushed one by one, so an interrupted run keeps every row it wrote. While
a :class:`ResultsFile` is open with ``lock=True`` it holds an exclusive lock on its file
(``flock``): a second run on the same file is refused instead of writing the same rows twice.
With several processes each writes its own part file (``NAME.rank{r}.csv``) and the main process
merges the parts into the file in the end (:meth:`ResultsFile.merge_parts`).

Files that could not be read go to a companion log beside it (``NAME.skipped.csv``: path and
reason; :func:`skipped_path`), appended as they are met and rewritten at the end of a run.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from toyclf.utils.files import atomic_write

try:
    import fcntl
except ImportError:  # Windows: files are not locked
    fcntl = None

SKIPPED_COLUMNS = ("path", "reason")
RowCheck = Callable[[dict], str | None]  # a row -> None if it is fine, else what is wrong with it


def path_key(row: dict) -> str:
    return row["path"]


class ResultsFile:
    """Append-only CSV rows with a fixed header, read back and checked (see the module's notes).

    ``rows`` are the rows read and appended, one per key, in file order; ``done`` their keys.
    With ``unique=False`` (a log) a key may come again, and every row is kept. With ``path=None``
    the rows are only kept in memory. With ``settings`` the file's record of the settings its rows
    were made with is checked (:func:`check_settings`; ``renamed_settings``: old name -> new name
    of a setting, for records written before a rename). A file that cannot be taken (another run
    holds it, a damaged row, other settings) is left as it was. Use it as a context manager (or
    call :meth:`close`) to release the file and its lock; a file that it found empty and never
    wrote to is removed then, with its record, unless part files hold rows of it.
    """

    def __init__(
        self,
        path: str | os.PathLike | None,
        columns: Sequence[str],
        *,
        key: Callable[[dict], str] = path_key,
        check_row: RowCheck | None = None,
        lock: bool = False,
        unique: bool = True,
        settings: dict[str, Any] | None = None,
        renamed_settings: dict[str, str] | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.columns, self.key, self.unique, self.check_row = list(columns), key, unique, check_row
        self.rows: list[dict] = []
        self.done: set[str] = set()
        self.cut_line: str | None = None
        self.duplicates = 0
        self.unrecorded_settings = False  # rows from before settings were recorded: taken as this run's
        self._file, self._found_empty, self._written, self._pending_record = None, False, False, None
        if self.path is None:
            return
        self._file = open_locked(self.path) if lock else self.path.open("a", newline="", encoding="utf-8")
        try:
            text, bom = read_text(self.path)
            complete, cut_line = split_cut_line(text)
            for row in parse_rows(complete, self.path, self.columns, check_row):
                self._remember(row)
            if settings is not None:
                has_rows = bool(complete) or bool(part_files(self.path))
                self.unrecorded_settings, self._pending_record = check_settings(
                    self.path, settings, has_rows=has_rows, renamed=renamed_settings
                )
            if cut_line is not None:  # only now that the file is taken: dropped, so the next row starts a line
                os.truncate(self.path, bom + len(complete.encode("utf-8")))
            self.cut_line, self._found_empty = cut_line, not complete
        except BaseException:
            self.close()
            raise

    def _remember(self, row: dict) -> bool:
        key = self.key(row)
        if key in self.done and self.unique:
            self.duplicates += 1
            return False
        self.done.add(key)
        self.rows.append(row)
        return True

    def append(self, row: dict) -> None:
        """Write one row now (the header first, for a file without one). A row whose key is already
        done is a ``ValueError`` (unless ``unique=False``): nothing is written twice."""
        row = {key: str(value) for key, value in row.items()}
        if self.unique and self.key(row) in self.done:
            raise ValueError(f"{self.key(row)!r} already has a row in {self.path or 'the results'}.")
        self._remember(row)
        if self._file is None:
            return
        if self._pending_record is not None:  # an older file's first new row: its settings recorded now
            write_settings(self.path, self._pending_record)
            self._pending_record = None
        writer = csv.DictWriter(self._file, self.columns)
        if self._found_empty and not self._written:
            writer.writeheader()
        writer.writerow(row)
        self._file.flush()
        self._written = True

    def merge_parts(self, order: Sequence[str]) -> None:
        """Append the rows of every part file of this file (:func:`part_files`) that are not done
        yet, those of the keys ``order`` first and in that order, then the others (a part an
        earlier run left: its rows are kept too), then delete the parts."""
        parts = part_files(self.path)
        rows = {self.key(row): row for part in parts for row in read_rows(part, self.columns, self.check_row)}
        first = [key for key in order if key in rows]
        firsts = set(first)
        for key in first + [key for key in rows if key not in firsts]:
            if key not in self.done:
                self.append(rows[key])
        for part in parts:
            part.unlink()

    def close(self) -> None:
        if self._file is None:
            return
        if self._found_empty and not self._written and not part_files(self.path):  # leave no empty file, no record
            self.path.unlink(missing_ok=True)
            settings_path(self.path).unlink(missing_ok=True)
        self._file.close()  # closing releases the lock
        self._file = None

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_locked(path: Path):
    """``path`` opened to append, with an exclusive lock held on it until it is closed; a
    ``ValueError`` if another process holds one. Opened again if another run removed the file
    between the opening and the locking (it removes an empty file it is done with)."""
    for _ in range(3):
        file = path.open("a", newline="", encoding="utf-8")
        if fcntl is None:
            return file
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise ValueError(
                f"{str(path)!r} is being written by another run right now; wait for it to end (running the same "
                "command again then resumes), or give another --csv file."
            ) from None
        try:
            if os.path.samestat(os.fstat(file.fileno()), os.stat(path)):
                return file
        except FileNotFoundError:
            pass
        file.close()
    raise ValueError(f"{str(path)!r} keeps being removed by another run while this one opens it.")


def read_text(path: Path) -> tuple[str, int]:
    """(the file as UTF-8 text, the length in bytes of a byte-order mark it starts with). A
    character cut short at the very end (a killed write) is left out; any other byte that is not
    UTF-8 is a ``ValueError`` naming the file."""
    data = path.read_bytes()
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8"), bom
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data" and bom + error.end == len(data):
            return data[bom : bom + error.start].decode("utf-8"), bom
        raise ValueError(
            f"{str(path)!r} is not a results CSV: byte {bom + error.start} is not UTF-8 text. Is it the right file?"
        ) from None


def split_cut_line(text: str) -> tuple[str, str | None]:
    """(the complete rows, the rest: the last row if a write was cut short before its end, else None).

    A row ends at a line ending outside quotes (CSV quotes a field that holds a line break, a
    comma or a quote, and doubles a quote inside it), that is after an even number of quote
    characters: the pieces of ``text.split('"')`` at even positions lie outside quotes.
    """
    pieces = text.split('"')
    end = 0
    for i in range(len(pieces) - 1 - (len(pieces) - 1) % 2, -1, -2):  # the even pieces, from the last one back
        newline = pieces[i].rfind("\n")
        if newline >= 0:
            end = sum(len(piece) + 1 for piece in pieces[:i]) + newline + 1
            break
    return (text, None) if end == len(text) else (text[:end], text[end:])


def settings_path(path: str | os.PathLike) -> Path:
    """Where the settings that made the rows of the results CSV ``path`` are recorded: ``NAME.csv.settings.json``."""
    path = Path(path)
    return path.with_name(f"{path.name}.settings.json")


def check_settings(
    path: Path, settings: dict[str, Any], *, has_rows: bool, renamed: dict[str, str] | None = None
) -> tuple[bool, dict | None]:
    """Refuse (``ValueError``) a results file whose rows were made with other ``settings``; record
    them for a new one (before any row, so that the part files of several processes are covered).
    ``renamed`` maps a setting's old name to its new one, for records written before the rename.
    Returns (rows without a record: an older file, whose rows are taken to be of these settings;
    the record to write with its first new row, so that a run that fails writes none)."""
    record, now = settings_path(path), json.loads(json.dumps(settings))  # as JSON reads them back
    if not has_rows:
        write_settings(path, now)
        return False, None
    if not record.exists():
        return True, now
    try:
        then = json.loads(record.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        then = error
    if not isinstance(then, dict):
        raise ValueError(
            f"{str(record)!r}, the record of the settings {str(path)!r} was made with, is damaged ({then!r}): "
            "delete it to take the rows as this run's, or use another --csv file."
        )
    then = {(renamed or {}).get(name, name): value for name, value in then.items()}
    changed = [name for name in sorted(set(then) | set(now)) if then.get(name) != now.get(name)]
    if changed:
        differences = "; ".join(f"{name} {then.get(name)!r} there, {now.get(name)!r} now" for name in changed)
        raise ValueError(
            f"{str(path)!r} holds results made with other settings ({differences}): they would be mixed. "
            "Use another --csv file, or run with the settings it was made with."
        )
    return False, None


def write_settings(path: Path, settings: dict[str, Any]) -> None:
    atomic_write(
        settings_path(path), lambda tmp: tmp.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    )


def parse_rows(text: str, path: Path, columns: Sequence[str], check_row: RowCheck | None = None) -> list[dict]:
    """The rows of complete CSV ``text`` (from ``path``), checked to have ``columns``, every field,
    and to pass ``check_row``; a ``ValueError`` naming the file and line otherwise."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        if reader.fieldnames is not None and list(reader.fieldnames) != list(columns):
            raise ValueError(
                f"{str(path)!r} holds results with columns {reader.fieldnames}, but this run writes {list(columns)}: "
                "a different class list or settings. Use another --csv file (or delete this one to start over)."
            )
        for row in reader:
            problem = field_problem(row, len(columns)) or (check_row(row) if check_row else None)
            if problem:
                raise ValueError(
                    f"line {reader.line_num} of {str(path)!r} is not a row this command writes: {problem}. "
                    "Was the file edited? Correct or delete that line, then run again."
                )
            rows.append(row)
    except csv.Error as error:
        raise ValueError(f"{str(path)!r} is not a readable CSV file (line {reader.line_num}: {error}).") from None
    return rows


def field_problem(row: dict, n_columns: int) -> str | None:
    if None in row:
        return f"{n_columns + len(row[None])} fields, expected {n_columns}"
    missing = sum(value is None for value in row.values())
    return f"{n_columns - missing} fields, expected {n_columns}" if missing else None


def read_rows(path: Path, columns: Sequence[str], check_row: RowCheck | None = None) -> list[dict]:
    """The complete, checked rows of a results CSV (a last row cut short is left out)."""
    complete, _ = split_cut_line(read_text(path)[0])
    return parse_rows(complete, path, columns, check_row)


def part_path(path: str | os.PathLike, rank: int) -> Path:
    """Where process ``rank`` writes its rows before they are merged."""
    path = Path(path)
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def part_files(path: str | os.PathLike) -> list[Path]:
    """The part files of ``path`` that processes have written (of this run or an interrupted one):
    ``NAME.rank{digits}.csv`` exactly, not any file whose name begins alike."""
    path = Path(path)
    pattern = re.compile(rf"{re.escape(path.stem)}\.rank\d+{re.escape(path.suffix)}")
    candidates = path.parent.glob(f"{glob.escape(path.stem)}.rank*{glob.escape(path.suffix)}")
    return sorted(part for part in candidates if pattern.fullmatch(part.name))


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
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)
