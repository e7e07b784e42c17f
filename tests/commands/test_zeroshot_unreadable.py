"""python -m toyclf.zeroshot on folders with files that are not readable images, through every
backend (Stable Diffusion 1/2, XL and 3, and DiT: tiny random pipelines): skipped with a
warning, listed at the end and beside the CSV, tried again on resume, or the end of the run
with --strict; and class lists of fewer than two distinct classes, refused before any model
loads."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from toyclf import zeroshot
from toyclf.zeroshot import main

FAST = ["--trials", "4", "--quiet"]
BACKENDS = ["sd", "sdxl", "sd3", "dit"]
CLASS = {"sd": "cat", "sdxl": "cat", "sd3": "cat", "dit": "tench"}  # a class each backend knows


def read(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def mixed(tiny_images, tmp_path) -> Path:
    """A labelled folder, goldfish/0.png, goldfish/1.png, tench/0.png, then two files of tench/
    that are not readable images: 1.png is text, 2.png a PNG cut in half."""
    root = tmp_path / "fish"
    good = sorted(Path(tiny_images).glob("cat/*.png"))
    for name in ("goldfish", "tench"):
        (root / name).mkdir(parents=True)
    shutil.copy(good[0], root / "goldfish" / "0.png")
    shutil.copy(good[1], root / "goldfish" / "1.png")
    shutil.copy(good[2], root / "tench" / "0.png")
    (root / "tench" / "1.png").write_text("not an image\n")
    (root / "tench" / "2.png").write_bytes(good[0].read_bytes()[: good[0].stat().st_size // 2])
    return root


def paths(root: Path, *names: str) -> list[str]:
    return [str(root / name) for name in names]


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreadable_files_are_skipped_with_a_warning_and_listed(backend, tiny_models, mixed, tmp_path, capsys):
    out = tmp_path / "results.csv"
    assert main(["--model", tiny_models[backend], str(mixed), "--csv", str(out), *FAST]) == 0
    captured = capsys.readouterr()
    text, cut = paths(mixed, "tench/1.png", "tench/2.png")
    warnings = [
        f"warning: skipped {text!r}, not a readable image: cannot identify image file {text!r}",
        f"warning: skipped {cut!r}, not a readable image: image file is truncated",
        f"skipped 2 of 5 files that are not readable images (listed in {tmp_path / 'results.skipped.csv'}):",
    ]
    positions = [captured.err.find(line) for line in warnings]
    assert -1 not in positions and positions == sorted(positions), captured.err  # one by one, then the summary
    assert [row["path"] for row in read(out)] == paths(mixed, "goldfish/0.png", "goldfish/1.png", "tench/0.png")
    assert read(tmp_path / "results.skipped.csv") == [
        {"path": text, "reason": f"cannot identify image file {text!r}"},
        {"path": cut, "reason": "image file is truncated"},
    ]
    assert "of 3 images)" in captured.out  # accuracy over the images that were read


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_resumed_run_tries_the_skipped_files_again(backend, tiny_models, mixed, tmp_path, capsys):
    out, log = tmp_path / "results.csv", tmp_path / "results.skipped.csv"
    args = ["--model", tiny_models[backend], str(mixed), "--csv", str(out), "--trials", "4"]
    text, cut = paths(mixed, "tench/1.png", "tench/2.png")
    main([*args, "--quiet"])
    capsys.readouterr()
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "resuming: 3 of 5 images are already in" in captured.out
    assert f"trying again 2 file(s) that could not be read before (listed in {log})" in captured.out
    assert "->" not in captured.out and [row["path"] for row in read(log)] == [text, cut]  # still listed
    shutil.copy(mixed / "tench" / "0.png", text)  # the file is repaired: the next run reads it
    assert main([*args, "--quiet"]) == 0
    assert read(out)[-1]["path"] == text and [row["path"] for row in read(log)] == [cut]
    shutil.copy(mixed / "tench" / "0.png", cut)
    assert main([*args, "--quiet"]) == 0
    assert len(read(out)) == 5 and not log.exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_strict_stops_at_the_first_unreadable_file(backend, tiny_models, mixed, tmp_path, capsys):
    out = tmp_path / "results.csv"
    assert main(["--model", tiny_models[backend], str(mixed), "--csv", str(out), "--strict", *FAST]) == 2
    text = str(mixed / "tench" / "1.png")
    assert capsys.readouterr().err == f"error: could not read image {text!r}: cannot identify image file {text!r}\n"
    assert [row["path"] for row in read(out)] == paths(mixed, "goldfish/0.png", "goldfish/1.png", "tench/0.png")
    assert not (tmp_path / "results.skipped.csv").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_where_no_file_is_readable_fails(backend, tiny_models, mixed, capsys):
    files = paths(mixed, "tench/1.png", "tench/2.png")
    assert main(["--model", tiny_models[backend], *files, "--classes", "tench", "goldfish", *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("warning: skipped") == 2 and "skipped 2 of 2 files that are not readable images:" in err
    assert err.endswith("error: no readable image among the 2 file(s) given; nothing was classified.\n")


def refuse_to_load(*args, **kwargs):
    raise AssertionError("a model was loaded")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("repeat", [1, 2])
def test_fewer_than_two_distinct_classes_are_refused_before_loading(
    backend, repeat, tiny_models, tiny_images, monkeypatch, capsys
):
    monkeypatch.setattr(zeroshot, "load_denoiser", refuse_to_load)
    image = str(next(Path(tiny_images).glob("cat/*.png")))
    classes = [CLASS[backend]] * repeat
    with pytest.raises(SystemExit) as exit_:
        main(["--model", tiny_models[backend], image, "--classes", *classes, *FAST])
    expected = (
        f"--classes needs at least two classes; got {classes}"
        if repeat == 1
        else f"--classes needs distinct classes; got {classes}, with {classes[:1]} more than once"
    )
    assert exit_.value.code == 2 and expected in capsys.readouterr().err


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_labelled_folder_of_one_class_is_refused_before_loading(backend, tiny_models, mixed, monkeypatch, capsys):
    monkeypatch.setattr(zeroshot, "load_denoiser", refuse_to_load)
    shutil.rmtree(mixed / "goldfish")
    assert main(["--model", tiny_models[backend], str(mixed), *FAST]) == 2
    expected = f"error: {str(mixed)!r} has one class subfolder, ['tench']: a labelled folder needs two or more.\n"
    assert capsys.readouterr().err == expected
