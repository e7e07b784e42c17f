"""python -m toyclf.zeroshot never loses or doubles a row: a CSV cut mid-row resumes into exactly the
rows of an uninterrupted run, one image is one row however its path is spelled or however often
it is named, a second run on a CSV in use is refused, rows read back are checked, and Ctrl-C
keeps every row written and says so in one line. Tiny random pipelines; nothing is downloaded."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")

from toyclf import zeroshot
from toyclf.utils.results_file import ResultsFile

FAST = ["--trials", "4", "--quiet"]


def read(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def full_run(tiny_models, tiny_images, tmp_path) -> list[dict]:
    out = tmp_path / "full.csv"
    assert zeroshot.main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST]) == 0
    return read(out)


@pytest.mark.parametrize("cut", [1, 9, 30])  # the line ending, inside a probability, inside an error
def test_a_csv_cut_mid_row_resumes_into_the_rows_of_a_whole_run(
    full_run, tiny_models, tiny_images, tmp_path, capsys, cut
):
    partial = tmp_path / "partial.csv"
    whole = (tmp_path / "full.csv").read_bytes()
    lines = whole.splitlines(keepends=True)
    partial.write_bytes(b"".join(lines[:4])[:-cut])  # header, two rows, the third cut short
    capsys.readouterr()
    assert zeroshot.main(["--model", tiny_models["sd"], tiny_images, "--csv", str(partial), *FAST]) == 0
    assert f"warning: the last line of {partial} was cut short" in capsys.readouterr().err
    assert read(partial) == full_run  # the cut row done again, nothing glued, nothing lost


def test_one_image_is_one_row_however_its_folder_is_spelled(
    full_run, tiny_models, tiny_images, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "results.csv"
    monkeypatch.chdir(Path(tiny_images).parent)
    spellings = [
        tiny_images,
        os.path.relpath(tiny_images),
        tiny_images + "/",
        "./" + os.path.relpath(tiny_images) + "//",
    ]
    for spelling in spellings:
        assert zeroshot.main(["--model", tiny_models["sd"], spelling, "--csv", str(out), *FAST]) == 0
    rows = read(out)
    assert [row["path"] for row in rows] == [row["path"] for row in full_run] and len(rows) == 6
    assert all(os.path.isabs(row["path"]) for row in rows)
    assert capsys.readouterr().out.count(" of 6 images)") == 4  # every run's accuracy counts each image once


def test_an_image_named_twice_is_scored_once(tiny_models, tiny_images, tmp_path, capsys, monkeypatch):
    image = next(Path(tiny_images).glob("cat/*.png"))
    monkeypatch.chdir(image.parent)
    out = tmp_path / "results.csv"
    names = [str(image), image.name, f"./{image.name}", str(image.parent / ".." / "cat" / image.name)]
    args = ["--model", tiny_models["sd"], *names, "--classes", "cat", "dog", "--csv", str(out), "--trials", "4"]
    assert zeroshot.main(args) == 0
    out_text = capsys.readouterr().out
    assert "note: 3 of the paths given name an image given before it; each image is scored once" in out_text
    assert sum("->" in line for line in out_text.splitlines()) == 1 and len(read(out)) == 1


def test_a_second_run_on_a_csv_in_use_is_refused(full_run, tiny_models, tiny_images, tmp_path, capsys):
    out = tmp_path / "full.csv"
    columns = list(full_run[0])
    with ResultsFile(out, columns, lock=True):  # another run holds it
        code = zeroshot.main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST])
    assert code == 2 and "is being written by another run right now" in capsys.readouterr().err
    assert read(out) == full_run


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda text: text.replace(",cat,", ",lion,", 1), r"line 2 of .* its label 'lion' is not one of the classes"),
        (lambda text: text.replace("\r\n", "\r\nx,y\r\n", 2), r"line 2 of .* 2 fields, expected 8"),
        (lambda text: text + "garbage\r\n", r"line 8 of .* 1 fields, expected 8"),
    ],
)
def test_a_damaged_row_is_an_error_naming_its_line(
    full_run, tiny_models, tiny_images, tmp_path, capsys, damage, message
):
    out = tmp_path / "full.csv"
    out.write_bytes(damage(out.read_bytes().decode()).encode())
    before = out.read_bytes()
    assert zeroshot.main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert __import__("re").search(message, err) and "Traceback" not in err
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    "changed, named",
    [
        (["--trials", "6"], "--trials 4 there, 6 now"),
        (["--template", "a drawing of a {}."], "--template 'a photo of a {}.' there, 'a drawing of a {}.' now"),
        (["--seed", "5"], "--seed 0 there, 5 now"),
        (["--weighting", "elbo"], "--weighting 'uniform' there, 'elbo' now"),
    ],
)
def test_a_csv_of_other_settings_is_refused_not_mixed_in(
    full_run, tiny_models, tiny_images, tmp_path, capsys, changed, named
):
    out = tmp_path / "full.csv"
    before = out.read_bytes()
    assert zeroshot.main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST, *changed]) == 2
    err = capsys.readouterr().err
    assert "holds results made with other settings (" + named in err and "they would be mixed" in err
    assert out.read_bytes() == before


def test_the_model_folder_may_be_named_another_way(full_run, tiny_models, tiny_images, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(tiny_models["sd"]).parent)
    out = tmp_path / "full.csv"
    assert zeroshot.main(["--model", "./sd/", tiny_images, "--csv", str(out), *FAST]) == 0
    assert read(out) == full_run


def test_a_record_of_an_old_flag_name_is_the_same_settings(tiny_models, tiny_images, tmp_path, capsys):
    """A CSV whose settings record names --stage-trials by its old name, --n-samples, resumes."""
    out = tmp_path / "staged.csv"
    staged = ["--model", tiny_models["sd"], tiny_images, "--csv", str(out), "--pruning", "staged", "--quiet"]
    staged += ["--stage-trials", "2", "4", "--to-keep", "2", "1"]
    assert zeroshot.main(staged) == 0
    record = Path(f"{out}.settings.json")
    text = record.read_text()
    assert '"--stage-trials"' in text
    record.write_text(text.replace('"--stage-trials"', '"--n-samples"'))
    before = read(out)
    assert zeroshot.main(staged) == 0
    assert read(out) == before
    assert zeroshot.main([*staged, "--stage-trials", "2", "3"]) == 2  # and other values are still refused
    assert "--stage-trials [2, 4] there, [2, 3] now" in capsys.readouterr().err


def test_a_csv_of_random_bytes_is_named(tiny_models, tiny_images, tmp_path, capsys):
    out = tmp_path / "noise.csv"
    out.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    assert zeroshot.main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST]) == 2
    assert f"error: {str(out)!r} is not a results CSV: byte" in capsys.readouterr().err


def test_ctrl_c_keeps_every_row_written_and_says_so(tiny_models, tiny_images, tmp_path, capsys, monkeypatch):
    out = tmp_path / "results.csv"
    real, calls = zeroshot.classify_images, []

    def interrupted_on_the_second_group(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(zeroshot, "classify_images", interrupted_on_the_second_group)
    args = ["--model", tiny_models["sd"], tiny_images, "--csv", str(out), "--eval-batch-size", "1", *FAST]  # 2 a group
    assert zeroshot.main(args) == 130
    err = capsys.readouterr().err
    written = read(out)
    assert 0 < len(written) < 6 and "Traceback" not in err
    assert (
        f"interrupted: {len(written)} of the 6 images to do are saved in {out}; the group being scored is not." in err
    )
    monkeypatch.setattr(zeroshot, "classify_images", real)
    assert zeroshot.main(args) == 0
    assert [row["path"] for row in read(out)][: len(written)] == [row["path"] for row in written]
    assert len({row["path"] for row in read(out)}) == len(read(out)) == 6


def test_a_real_sigint_mid_run_then_a_resume_gives_every_image_once(tiny_models, tiny_images, tmp_path):
    images = tmp_path / "images"
    for name in ("cat", "dog"):
        (images / name).mkdir(parents=True)
        for i in range(12):
            shutil.copy(next(Path(tiny_images).glob(f"{name}/*.png")), images / name / f"{i:02d}.png")
    out = tmp_path / "results.csv"
    command = [sys.executable, "-m", "toyclf.zeroshot", "--model", tiny_models["sd"], str(images), "--csv", str(out)]
    command += ["--batch-size", "2", "--trials", "8", "--quiet"]  # --eval-batch-size by its old name
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out.exists() and len(out.read_text().splitlines()) >= 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the run finished before the interrupt reached it")
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "interrupted:" in err and "Run the same command again to resume." in err
    kept = read(out)
    assert 0 < len(kept) < 24
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = read(out)
    assert len(rows) == 24 and len({row["path"] for row in rows}) == 24 and rows[: len(kept)] == kept


def test_accuracy_counts_the_images_of_the_run_not_every_row_of_the_csv(
    full_run, tiny_models, tiny_images, tmp_path, capsys
):
    subset = tmp_path / "subset"
    for name in ("cat", "dog"):
        (subset / name).mkdir(parents=True)
        for image in sorted(Path(tiny_images).glob(f"{name}/*.png"))[:2]:
            shutil.copy(image, subset / name / image.name)
    out = tmp_path / "full.csv"
    capsys.readouterr()
    assert zeroshot.main(["--model", tiny_models["sd"], str(subset), "--csv", str(out), *FAST]) == 0
    assert len(read(out)) == 10 and " of 4 images)" in capsys.readouterr().out
