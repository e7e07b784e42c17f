"""python -m toyclf.zeroshot end to end on tiny random pipelines: lines, CSV, folder accuracy,
resuming, several processes through torchrun (skipping unreadable files), and its errors.
Nothing is downloaded. Unreadable files and class counts: test_zeroshot_unreadable.py."""

from __future__ import annotations

import csv
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from toyclf.estimator import class_errors
from toyclf.paper import PAPER_ALGORITHM_2
from toyclf.plan import make_plan
from toyclf.pruning import PRUNINGS, StagedElimination
from toyclf.zeroshot import build_parser, choose_pruning, estimator_settings, main, parse_arguments, recorded_settings

FAST = ["--trials", "4", "--quiet"]


def read(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_image_files_and_class_names(tiny_models, tiny_images, capsys):
    files = sorted(str(p) for p in Path(tiny_images).glob("*/*.png"))[:2]
    assert main(["--model", tiny_models["sd"], "--classes", "cat", "dog", "bird", "--trials", "4", *files]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "->" in line]
    assert len(lines) == 2
    for line, file in zip(lines, files, strict=True):
        assert line.startswith(file) and line.split("->")[1].split()[0] in ("cat", "dog", "bird")
        assert "cat: p=" in line and "err=" in line


def test_labelled_folder_reports_accuracy_and_writes_csv(tiny_models, tiny_images, tmp_path, capsys):
    out = tmp_path / "results.csv"
    assert main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST]) == 0
    rows = read(out)
    assert [row["label"] for row in rows] == ["cat"] * 3 + ["dog"] * 3
    assert list(rows[0]) == ["path", "label", "prediction", "trials", "error[cat]", "error[dog]", "p[cat]", "p[dog]"]
    assert all(int(row["trials"]) == 2 * 4 for row in rows)
    accuracy = sum(row["prediction"] == row["label"] for row in rows) / len(rows)
    assert f"accuracy: {accuracy:.4f} ({round(accuracy * 6)} of 6 images)" in capsys.readouterr().out


def test_an_interrupted_run_resumes_where_it_stopped(tiny_models, tiny_images, tmp_path, capsys):
    full, partial = tmp_path / "full.csv", tmp_path / "partial.csv"
    main(["--model", tiny_models["sd"], tiny_images, "--csv", str(full), *FAST])
    lines = full.read_text().splitlines(keepends=True)
    partial.write_text("".join(lines[:3]))  # header and two images: as if stopped after the second
    capsys.readouterr()
    assert main(["--model", tiny_models["sd"], tiny_images, "--csv", str(partial), "--trials", "4"]) == 0
    out = capsys.readouterr().out
    assert "resuming: 2 of 6 images are already in" in out
    assert sum("->" in line for line in out.splitlines()) == 4  # only the four missing ones were classified
    assert read(partial) == read(full)


def test_a_csv_from_other_classes_is_not_mixed_in(tiny_models, tiny_images, tmp_path, capsys):
    out = tmp_path / "results.csv"
    main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST])
    code = main(
        ["--model", tiny_models["sd"], tiny_images, "--classes", "cat", "dog", "bird", "--csv", str(out), *FAST]
    )
    assert code == 2 and "holds results with columns" in capsys.readouterr().err


def test_staged_elimination_and_dit(tiny_models, tiny_images, tmp_path):
    out = tmp_path / "dit.csv"
    args = ["--model", tiny_models["dit"], "--classes", "tench", "goldfish", "great white shark", "--csv", str(out)]
    files = sorted(str(p) for p in Path(tiny_images).glob("cat/*.png"))
    assert (
        main([*args, "--pruning", "staged", "--n-samples", "2", "4", "--to-keep", "2", "1", "--quiet", *files]) == 0
    )  # --stage-trials by its old name
    assert [int(row["trials"]) for row in read(out)] == [3 * 2 + 2 * 2] * 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}", "--classes", "cat", "dog"], "no such image file or folder: '.*missing.png'"),
        (
            ["--model", "{tmp}/nowhere", "{image}", "--classes", "cat", "dog"],
            "could not load a diffusers pipeline from",
        ),
        (["{image}"], "give the class names with --classes"),
        (["{broken}", "--strict", "--classes", "cat", "dog"], "could not read image '.*broken.png'"),
    ],
)
def test_errors_are_one_clear_line(tiny_models, tiny_images, tmp_path, capsys, args, message):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    values = {
        "missing": str(tmp_path / "missing.png"),
        "tmp": str(tmp_path),
        "image": str(next(Path(tiny_images).glob("cat/*.png"))),
        "broken": str(broken),
    }
    args = [a.format(**values) for a in args]
    if "--model" not in args:
        args = ["--model", tiny_models["sd"], *args]
    assert main([*args, *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert __import__("re").search(message, err)


def test_two_processes_with_torchrun_gather_into_one_csv(tiny_models, tiny_images, tmp_path):
    images = shutil.copytree(tiny_images, tmp_path / "images")
    for name in ("cat", "dog"):  # one unreadable file for each process to skip
        (images / name / "9.png").write_text("not an image\n")
    single, double = tmp_path / "one.csv", tmp_path / "two.csv"
    main(["--model", tiny_models["sd"], str(images), "--csv", str(single), *FAST])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29613"]
    command += ["-m", "toyclf.zeroshot", "--model", tiny_models["sd"], str(images), "--csv", str(double), *FAST]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("accuracy:") == 1  # only the main process reports
    assert result.stderr.count("warning: skipped") == 2 and result.stderr.count("skipped 2 of 8 files") == 1
    one, two = read(single), read(double)
    assert [row["path"] for row in two] == [row["path"] for row in one]  # every image once, in input order
    assert [row["prediction"] for row in two] == [row["prediction"] for row in one]
    for a, b in zip(one, two, strict=True):
        assert float(a["error[cat]"]) == pytest.approx(float(b["error[cat]"]), rel=1e-5)
    assert read(tmp_path / "two.skipped.csv") == read(tmp_path / "one.skipped.csv")
    assert [row["path"] for row in read(tmp_path / "two.skipped.csv")] == [
        str(images / "cat/9.png"),
        str(images / "dog/9.png"),
    ]
    assert not list(tmp_path.glob("*.rank*.csv"))  # the part files were merged and removed


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_temperature_must_be_a_positive_finite_number(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--temperature", value, "--classes", "cat", "dog", "image.png"])
    assert exit_.value.code == 2
    assert f"--temperature: expected a positive finite number, got '{value}'" in capsys.readouterr().err


def test_pruning_flags():
    parser = build_parser()
    pruning = next(action for action in parser._actions if action.dest == "pruning")
    assert set(pruning.choices) == {*PRUNINGS, "none"} and pruning.default == "none"
    assert choose_pruning(parser.parse_args(["x.png"])) is None
    assert choose_pruning(parser.parse_args(["x.png", "--pruning", "early_stopping"])) == "early_stopping"
    staged = parser.parse_args(["x.png", "--pruning", "staged", "--stage-trials", "2", "4", "--to-keep", "2", "1"])
    assert choose_pruning(staged) == StagedElimination((2, 4), (2, 1))


def test_a_csv_refused_under_torchrun_stops_every_process_with_one_line(tiny_models, tiny_images, tmp_path):
    out = tmp_path / "results.csv"
    assert main(["--model", tiny_models["sd"], tiny_images, "--csv", str(out), *FAST]) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29614"]
    command += ["-m", "toyclf.zeroshot", "--model", tiny_models["sd"], tiny_images, "--csv", str(out), "--quiet"]
    result = subprocess.run([*command, "--trials", "6"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.count("error: ") == 1 and "other settings (--trials 4 there, 6 now)" in result.stderr
    assert "exitcode  : 2" in result.stderr and "Connection closed" not in result.stderr  # no rank left waiting


PAPER_FLAGS = ["--pruning", "staged", "--stage-trials", "50", "500", "--to-keep", "5", "1", "--weighting", "uniform"]
PAPER_FLAGS += ["--loss", "l2", "--noise-sampling", "gaussian"]


def settings_of(argv: list[str]) -> tuple[int, dict, dict]:
    """(trials, the estimator's settings, the settings recorded with the CSV) of a command line."""
    args = parse_arguments(build_parser(), argv)
    n_trials, settings = estimator_settings(args)
    return n_trials, settings, recorded_settings(args, n_trials)


def test_paper_is_the_paper_settings():
    """--paper parses to the flags of the paper's settings (Algorithm 2, CIFAR-10's stages): the same
    trials, estimator and record as those flags given one by one, so either resumes the other's CSV."""
    paper = settings_of(["x.png", "--paper"])
    assert paper == settings_of(["x.png", *PAPER_FLAGS])
    n_trials, settings, _ = paper
    assert n_trials == 500 and settings["pruning"] == StagedElimination((50, 500), (5, 1))
    for name in ("loss", "weighting"):
        assert settings[name] == PAPER_ALGORITHM_2[name]
    assert settings["temperature"] == 1.0  # the paper's softmax, the command's default
    assert parse_arguments(build_parser(), ["x.png", "--paper"]).noise_sampling == PAPER_ALGORITHM_2["noise_sampling"]
    # what the command never changes is the paper's too: evenly spaced timesteps, every noise level
    assert inspect.signature(make_plan).parameters["timesteps"].default == PAPER_ALGORITHM_2["timesteps"]
    assert inspect.signature(class_errors).parameters["noise_range"].default == PAPER_ALGORITHM_2["noise_range"]
    # without it: every class on 100 trials, no elimination
    n_trials, settings, _ = settings_of(["x.png"])
    assert n_trials == 100 and settings["pruning"] is None


@pytest.mark.parametrize("where", ["after", "before"])
def test_a_flag_given_beats_paper(where):
    flags = ["--to-keep", "2", "1", "--loss", "l1"]
    argv = ["x.png", "--paper", *flags] if where == "after" else ["x.png", *flags, "--paper"]
    n_trials, settings, recorded = settings_of(argv)
    assert settings["pruning"] == StagedElimination((50, 500), (2, 1)) and settings["loss"] == "l1"
    assert recorded["--to-keep"] == [2, 1] and recorded["--stage-trials"] == [50, 500] and n_trials == 500
    assert settings_of(["x.png", "--paper", "--pruning", "none"])[:2] == settings_of(["x.png"])[:2]


def test_paper_end_to_end_with_its_stages_given(tiny_models, tiny_images, tmp_path):
    """A run with --paper and smaller stages given writes the rows of those stages, and the same
    command with the paper's flags spelled out resumes its CSV (the same settings): nothing is redone."""
    out = tmp_path / "paper.csv"
    args = ["--model", tiny_models["dit"], "--classes", "tench", "goldfish", "great white shark", "--csv", str(out)]
    files = sorted(str(p) for p in Path(tiny_images).glob("cat/*.png"))
    stages = ["--stage-trials", "2", "4", "--to-keep", "2", "1", "--trials", "4", "--quiet", *files]
    assert main([*args, "--paper", *stages]) == 0
    rows = read(out)
    assert [int(row["trials"]) for row in rows] == [3 * 2 + 2 * 2] * 3  # the stages given, not the paper's
    assert main([*args, *PAPER_FLAGS, *stages]) == 0
    assert read(out) == rows


def test_old_flag_names_still_work_and_are_not_offered():
    """--n-samples and --batch-size, the names of --stage-trials and --eval-batch-size before they
    were renamed, set the same settings, and --help names each setting once."""
    parser = build_parser()
    old = parser.parse_args(["x.png", "--pruning", "staged", "--n-samples", "2", "4", "--batch-size", "3"])
    new = parser.parse_args(["x.png", "--pruning", "staged", "--stage-trials", "2", "4", "--eval-batch-size", "3"])
    assert vars(old) == vars(new)
    assert parser.parse_args(["x.png"]).stage_trials == [50, 500]
    text = parser.format_help()
    assert "--stage-trials" in text and "--eval-batch-size" in text
    assert "--n-samples" not in text and "--batch-size" not in text.replace("--eval-batch-size", "")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--paper", "--trials", "100"], "--trials 100: the stages end at 500 trials (--stage-trials 50 500)"),
        (["--paper", "--trials", "1000"], "--trials 1000: the stages end at 500 trials"),  # never drawn for nothing
        (["--paper", "--to-keep", "2"], "--stage-trials and --to-keep need one value per stage; got 2 (50 500) and 1"),
        (
            ["--stage-trials", "10", "20"],
            "--stage-trials sets the stages of --pruning staged; this run has --pruning none",
        ),
        (["--paper", "--pruning", "none", "--to-keep", "3", "1"], "--to-keep sets the stages of --pruning staged"),
        (["--pruning", "staged", "--stage-trials", "4", "2", "--to-keep", "2", "1"], "--stage-trials 4 2: each stage"),
        (["--pruning", "staged", "--stage-trials", "2", "4", "--to-keep", "1", "2"], "--to-keep 1 2: a stage cannot"),
    ],
)
def test_stages_are_checked_in_the_words_of_the_flags(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["x.png", "--classes", "cat", "dog", *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
