"""The steps of a zero-shot run over image files, between finding them and the summary: which
images are still to do, scoring them group by group into the results CSV, the skip log of the
files that are not readable images, and what the run says at the end.

Each image is scored once, whatever its path's spelling (its key, :func:`~toyclf.pretrained.images.image_key`);
one line per image gives its prediction and each class's probability and error (eq. 5's Monte
Carlo error, as :func:`toyclf.pretrained.image_classification.classify_images` returns it). A file
that is not a readable image is skipped with a warning and logged as it is met, unless ``strict``
asks to stop there; the log beside the CSV (``NAME.skipped.csv``) is rewritten at the end to the
files of this run still unread. Which process scores which images, and where it writes them:
:mod:`toyclf.pretrained.processes`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from toyclf.pretrained.image_results import (
    ResultTable,
    announce_resume,
    report_accuracy,
    report_skipped,
    row_key,
    row_path,
)
from toyclf.pretrained.images import ImageSet, UnreadableImageError, collect_images, image_key, load_image
from toyclf.utils.results_file import ResultsFile, read_skipped, write_skipped

Labelled = tuple[str, str | None]  # (an image's path, its label: its class subfolder, or None)


def image_set_with_classes(
    inputs: Sequence[str], classes: Sequence[str] | None, *, say_repeats: bool = True
) -> ImageSet:
    """The images of ``inputs`` (files and folders: :func:`~toyclf.pretrained.images.collect_images`),
    refused without classes (neither ``classes`` nor a labelled folder's subfolders); with
    ``say_repeats``, a note of the paths that name an image given before."""
    found = collect_images(inputs, classes)
    if not found.classes:
        raise ValueError("give the class names with --classes (or one folder with a subfolder per class).")
    if found.repeated and say_repeats:
        print(f"note: {found.repeated} of the paths given name an image given before it; each image is scored once")
    return found


def images_to_do(
    found: ImageSet, key_of: Mapping[str, str], done: set[str], csv: Path | None, *, announce: bool
) -> list[Labelled]:
    """The images of ``found`` (path, label), in input order, that are not ``done`` (keys; ``key_of``:
    path -> key); with ``announce``, how much an earlier run with this ``csv`` did."""
    todo = [(p, label) for p, label in zip(found.paths, found.labels, strict=True) if key_of[p] not in done]
    if announce:
        announce_resume(csv, len(found.paths), todo)
    return todo


def score_images(
    mine: Sequence[Labelled],
    classify: Callable[[list], Iterable[dict]],
    group_size: int,
    table: ResultTable,
    writer: ResultsFile,
    skips: ResultsFile,
    *,
    strict: bool = False,
    quiet: bool = False,
    progress: bool = True,
) -> None:
    """Score the images ``mine`` ``group_size`` at a time with ``classify`` (pictures -> outcomes),
    writing each group's rows to ``writer`` when it finishes and each unreadable file to ``skips``
    as it is met; with ``strict``, an unreadable file stops the run there, once the files read
    before it are scored and written. One line per image unless ``quiet``; a progress bar with
    ``progress`` (and not ``quiet``)."""
    with tqdm(total=len(mine), desc="images", disable=quiet or not progress) as bar:
        for start in range(0, len(mine), group_size):
            chunk, group, pictures, stop = mine[start : start + group_size], [], [], None
            for path, label in chunk:
                try:
                    pictures.append(load_image(path))
                    group.append((path, label))
                except UnreadableImageError as error:
                    if strict:
                        stop = error
                        break
                    skips.append({"path": row_path(path), "reason": error.reason})
                    bar.write(f"warning: skipped {path!r}, not a readable image: {error.reason}", file=sys.stderr)
            for (path, label), out in zip(group, classify(pictures), strict=True):
                writer.append(table.row(path, label, out))
                if not quiet:
                    bar.write(image_line(path, out, table.classes))
            if stop is not None:
                raise stop
            bar.update(len(chunk))


def image_line(path: str, outcome: dict, classes: Sequence[str]) -> str:
    """The line of one image: its prediction, then each class's probability and error."""
    scores = "  ".join(
        f"{c}: p={p:.3f} err={e:.4g}"
        for c, p, e in zip(classes, outcome["probabilities"], outcome["errors"], strict=True)
    )
    return f"{path}  ->  {outcome['prediction']}   ({scores})"


def settle_skip_log(csv: Path | None, key_of: Mapping[str, str], done: set[str], skips: ResultsFile) -> dict[str, str]:
    """{path: reason} of this run's files that are still unread (``done``: the keys the CSV holds
    now), and the skip log beside ``csv`` rewritten to them, its parts merged in (a file read
    since it was logged is left out). Without a CSV, the files ``skips`` holds."""
    if csv is None:
        return {row["path"]: row["reason"] for row in skips.rows}
    earlier = {image_key(p): reason for p, reason in read_skipped(csv).items()}  # the log and its parts
    skipped = {row_path(p): earlier[k] for p, k in key_of.items() if k in earlier.keys() - done}
    write_skipped(csv, skipped)
    return skipped


def report_run(
    found: ImageSet, key_of: Mapping[str, str], results: ResultsFile, skipped: dict[str, str], log: Path | None
) -> None:
    """The summary: the accuracy on this run's labelled images (not every row the CSV holds), the
    files skipped (``log``: where they are listed), and an error if none of them was readable."""
    keys = set(key_of.values())
    rows = [row for row in results.rows if row_key(row) in keys]
    if any(label is not None for label in found.labels) and rows:
        report_accuracy(rows, found.classes)
    report_skipped(skipped, len(found.paths), log)
    if len(skipped) == len(found.paths):
        raise ValueError(f"no readable image among the {len(found.paths)} file(s) given; nothing was classified.")
