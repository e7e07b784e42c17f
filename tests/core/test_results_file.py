"""The results CSV read back to resume a run: a last line cut short is removed (never glued to the
next row), every row read is checked, a file that is not a results CSV is an error naming it, a
row is never written twice, and a second writer is refused while the first holds the file."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from toyclf.utils.results_file import ResultsFile, read_rows

COLUMNS = ["path", "label", "score"]
ROWS = [{"path": f"/images/{i}.png", "label": "cat", "score": f"0.{i}5"} for i in range(3)]


def written(tmp_path, rows=ROWS, name="results.csv"):
    path = tmp_path / name
    with ResultsFile(path, COLUMNS) as results:
        for row in rows:
            results.append(row)
    return path


def read(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("cut", [1, 5, 12, 20])  # inside the last row: its line ending, a number, the path
def test_a_cut_last_line_is_removed_and_the_next_row_starts_on_its_own_line(tmp_path, cut):
    path = written(tmp_path)
    whole = path.read_bytes()
    path.write_bytes(whole[:-cut])
    with ResultsFile(path, COLUMNS) as results:
        assert results.rows == ROWS[:2] and results.cut_line is not None and results.cut_line in whole.decode()
        results.append(ROWS[2])  # the image of the cut row, done again
    assert read(path) == ROWS and path.read_bytes() == whole


def test_a_cut_header_leaves_a_new_file(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("path,la")
    with ResultsFile(path, COLUMNS) as results:
        assert results.rows == [] and results.cut_line == "path,la"
        results.append(ROWS[0])
    assert read(path) == ROWS[:1]


@pytest.mark.parametrize(
    "content, message",
    [
        (bytes(range(256)) * 4, r"'.*results.csv' is not a results CSV: byte \d+ is not UTF-8 text"),
        (
            b'path,label,score\r\n"' + b"x" * 200_000 + b'",a,b\r\n',
            r"'.*results.csv' is not a readable CSV file \(line",
        ),
        (
            b"path,label,score\r\n/a.png,cat\r\n",
            r"line 2 of '.*results.csv' is not a row this command writes: 2 fields",
        ),
        (b"path,label,score\r\n/a.png,cat,0.1,extra\r\n", r"line 2 of .* 4 fields, expected 3"),
        (b"path,label\r\n", r"holds results with columns \['path', 'label'\], but this run writes"),
    ],
)
def test_a_file_that_is_not_a_results_csv_is_an_error_naming_it(tmp_path, content, message):
    path = tmp_path / "results.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        ResultsFile(path, COLUMNS)
    assert path.read_bytes() == content  # nothing is changed in a file that is not ours


def test_rows_are_checked_as_they_are_read_back(tmp_path):
    path = written(tmp_path)

    def problem(row):
        return None if row["score"].startswith("0.") else f"score {row['score']!r} is not below 1"

    assert ResultsFile(path, COLUMNS, check_row=problem).rows == ROWS
    path.write_text(path.read_text().replace("0.15", "7.5"))
    with pytest.raises(ValueError, match=r"line 3 of .* score '7.5' is not below 1. Was the file edited"):
        ResultsFile(path, COLUMNS, check_row=problem)
    with pytest.raises(ValueError, match="line 3"):
        read_rows(path, COLUMNS, problem)


def test_a_key_is_written_once_and_counted_once(tmp_path):
    path = written(tmp_path)
    with open(path, "a", newline="") as file:  # an older run appended the same image again
        csv.DictWriter(file, COLUMNS).writerow(ROWS[0])
    with ResultsFile(path, COLUMNS) as results:
        assert results.rows == ROWS and results.duplicates == 1 and results.done == {r["path"] for r in ROWS}
        with pytest.raises(ValueError, match="already has a row"):
            results.append(ROWS[1])
    with ResultsFile(tmp_path / "log.csv", COLUMNS, unique=False) as log:  # a log keeps every entry
        log.append(ROWS[0])
        log.append(ROWS[0])
    assert len(read(tmp_path / "log.csv")) == 2


def test_a_second_writer_is_refused_while_the_first_holds_the_file(tmp_path):
    path = written(tmp_path)
    with ResultsFile(path, COLUMNS, lock=True):
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from toyclf.utils.results_file import ResultsFile; ResultsFile({str(path)!r}, "
                f"{COLUMNS!r}, lock=True)",
            ],
            capture_output=True,
            text=True,
        )
        assert "is being written by another run right now" in other.stderr
    with ResultsFile(path, COLUMNS, lock=True) as results:  # released when the first closed
        assert results.rows == ROWS


def test_a_file_opened_and_never_written_is_removed(tmp_path):
    with ResultsFile(tmp_path / "results.csv", COLUMNS):
        assert (tmp_path / "results.csv").exists()
    assert not (tmp_path / "results.csv").exists()
    path = written(tmp_path)
    with ResultsFile(path, COLUMNS):
        pass
    assert read(path) == ROWS  # an existing file stays


@pytest.mark.parametrize(
    "cut_at",
    [
        lambda data: data.index("ü".encode()) + 1,  # inside a character of two bytes
        lambda data: data.index(b"new\nline") + 4,  # just after a line break inside a quoted field
        lambda data: data.index(b"new\nline") + 6,  # inside the quoted field, after its line break
    ],
)
def test_a_row_cut_inside_a_character_or_a_quoted_line_break_is_removed(tmp_path, cut_at):
    rows = [*ROWS[:2], {"path": "/images/new\nline, ünï.png", "label": "cat", "score": "0.9"}]
    path = written(tmp_path, rows)
    whole = path.read_bytes()
    path.write_bytes(whole[: cut_at(whole)])
    with ResultsFile(path, COLUMNS) as results:
        assert results.rows == rows[:2] and results.cut_line is not None
        results.append(rows[2])
    assert path.read_bytes() == whole


def test_a_byte_order_mark_is_read_past_and_kept(tmp_path):
    path = written(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes()[:-3])  # as a spreadsheet saves it, and the last row cut
    with ResultsFile(path, COLUMNS) as results:
        assert results.rows == ROWS[:2]
        results.append(ROWS[2])
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf" and read(path)[0]["\ufeffpath"] == ROWS[0]["path"]


def test_rows_of_other_settings_are_refused_and_new_files_record_theirs(tmp_path):
    path = tmp_path / "results.csv"
    with ResultsFile(path, COLUMNS, settings={"--trials": 4, "--seed": 0}) as results:
        results.append(ROWS[0])
    assert json.loads((tmp_path / "results.csv.settings.json").read_text()) == {"--trials": 4, "--seed": 0}
    with ResultsFile(path, COLUMNS, settings={"--trials": 4, "--seed": 0}) as results:
        assert results.rows == ROWS[:1] and not results.unrecorded_settings
    with pytest.raises(ValueError, match=r"made with other settings \(--trials 4 there, 6 now\)"):
        ResultsFile(path, COLUMNS, settings={"--trials": 6, "--seed": 0})
    (tmp_path / "results.csv.settings.json").unlink()  # a file of an older toyclf: taken as this run's...
    with ResultsFile(path, COLUMNS, settings={"--trials": 9, "--seed": 0}) as results:
        assert results.unrecorded_settings  # ...but a run that writes nothing (it failed) records nothing
    assert not (tmp_path / "results.csv.settings.json").exists()
    with ResultsFile(path, COLUMNS, settings={"--trials": 6, "--seed": 0}) as results:
        results.append(ROWS[1])  # recorded with its first new row
    assert json.loads((tmp_path / "results.csv.settings.json").read_text())["--trials"] == 6


def test_a_run_refused_by_the_lock_never_removes_the_file_of_the_run_holding_it(tmp_path):
    path = tmp_path / "results.csv"
    with ResultsFile(path, COLUMNS, lock=True, settings={"--seed": 0}) as first:  # new and still empty
        with pytest.raises(ValueError, match="being written by another run"):
            ResultsFile(path, COLUMNS, lock=True, settings={"--seed": 0})
        assert path.exists() and (tmp_path / "results.csv.settings.json").exists()
        first.append(ROWS[0])
    assert read(path) == ROWS[:1]


def test_merging_parts_keeps_every_row_and_touches_only_part_files(tmp_path):
    path = tmp_path / "results.csv"
    for rank, rows in ((0, ROWS[:1]), (1, ROWS[1:])):
        written(tmp_path, rows, name=f"results.rank{rank}.csv")
    others = [tmp_path / "results.rankings.csv", tmp_path / "results.rank_backup.csv"]
    for other in others:
        other.write_text("not a part\n")
    with ResultsFile(path, COLUMNS) as results:
        results.merge_parts([ROWS[2]["path"]])  # this run's images: one of the parts' rows, first
    assert read(path) == [ROWS[2], ROWS[0], ROWS[1]]  # the rest kept too, in their order
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["results.csv", *(o.name for o in others)])


def test_a_cut_anywhere_in_the_last_row_is_repaired(tmp_path):
    rows = [*ROWS[:2], {"path": '/images/"q"\r\n, ünï.png', "label": "cat,dog", "score": "0.9"}]
    whole = written(tmp_path, rows, name="whole.csv").read_bytes()
    start = len(whole) - len(whole.splitlines(keepends=True)[-1]) - len(whole.splitlines(keepends=True)[-2])
    for cut in range(start + 1, len(whole)):  # every byte of the last row, quoted line break and all
        path = tmp_path / "cut.csv"
        path.write_bytes(whole[:cut])
        with ResultsFile(path, COLUMNS) as results:
            assert results.rows == rows[:2], cut
            results.append(rows[2])
        assert path.read_bytes() == whole, cut


def test_a_refused_run_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "results.csv"
    with ResultsFile(path, COLUMNS, settings={"--seed": 0}) as results:
        for row in ROWS:
            results.append(row)
    path.write_bytes(path.read_bytes()[:-5])  # the last row cut
    cut = path.read_bytes()
    with pytest.raises(ValueError, match="other settings"):
        ResultsFile(path, COLUMNS, settings={"--seed": 3})
    assert path.read_bytes() == cut  # not repaired by a run that does not take the file


def test_an_empty_file_with_parts_of_its_rows_keeps_its_record(tmp_path):
    """An interrupted multi-process run on a new CSV: the rows are in the part files, the CSV is empty."""
    path = tmp_path / "results.csv"
    with ResultsFile(path, COLUMNS, settings={"--seed": 0}):
        written(tmp_path, ROWS[:2], name="results.rank0.csv")
    assert path.exists() and (tmp_path / "results.csv.settings.json").exists()
    with pytest.raises(ValueError, match="other settings"):  # the parts' rows are of seed 0
        ResultsFile(path, COLUMNS, settings={"--seed": 1})


def test_a_file_that_is_only_a_byte_order_mark_gets_a_header(tmp_path):
    path = tmp_path / "results.csv"
    path.write_bytes(b"\xef\xbb\xbf")
    with ResultsFile(path, COLUMNS) as results:
        results.append(ROWS[0])
    assert ResultsFile(path, COLUMNS).rows == ROWS[:1]


def test_the_record_of_one_file_is_not_the_record_of_another(tmp_path):
    with ResultsFile(tmp_path / "out.csv", COLUMNS, settings={"--seed": 0}) as results:
        results.append(ROWS[0])
    with ResultsFile(tmp_path / "out.tsv", COLUMNS, settings={"--seed": 7}) as results:
        results.append(ROWS[0])
    assert ResultsFile(tmp_path / "out.csv", COLUMNS, settings={"--seed": 0}).rows == ROWS[:1]
