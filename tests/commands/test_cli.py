"""python -m toyclf.spirals, end to end with tiny settings, and its argument errors; the commands'
one error boundary (bad input, Ctrl-C and SIGTERM as one line, never a traceback)."""

import signal
import subprocess
import sys
import time

import pytest

from toyclf.spirals import FIGURES, main

TINY = ["--n-samples", "200", "--n-test", "200", "--steps", "30", "--trials", "4", "--grid", "20", "--quiet"]


@pytest.mark.parametrize("dataset", ["spirals", "blobs"])
def test_writes_every_figure_and_the_table(dataset, tmp_path, capsys):
    assert main([*TINY, "--dataset", dataset, "--out", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    for name in ("diffusion classifier", "RBF SVM", "k-NN", "MLP", "test accuracy"):
        assert name in out
    written = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert written == sorted(f"{dataset}_{figure}.png" for figure in FIGURES)
    for path in (tmp_path / "figs").iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_same_seed_same_numbers(tmp_path, capsys):
    tables = []
    for run in range(2):
        main([*TINY, "--seed", "3", "--out", str(tmp_path / str(run))])
        lines = capsys.readouterr().out.splitlines()
        tables.append([line.split()[-3] for line in lines if "classifier" in line and "test" not in line])
    assert tables[0] == tables[1] and tables[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "0"], "--steps: expected a positive integer, got 0"),
        (["--trials", "-3"], "--trials: expected a positive integer, got -3"),
        (["--grid", "many"], "--grid: expected a grid size from 2 to 1000, got 'many'"),
        (["--grid", "1"], "--grid: expected a grid size from 2 to 1000, got 1"),
        (["--grid", "100000"], "--grid: expected a grid size from 2 to 1000, got 100000"),
        (["--seed", "-1"], "--seed: expected a seed from 0 to 4294967295, got -1"),
        (["--seed", "4294967296"], "--seed: expected a seed from 0 to 4294967295, got 4294967296"),
        (["--dataset", "swirls"], "--dataset: invalid choice: 'swirls'"),
        (["--noise", "-1"], "--noise: expected a number >= 0"),
        (["--device", "cuda:7"], "device='cuda:7' was requested"),
    ],
)
def test_bad_arguments_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_folder_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        main([*TINY, "--out", str(blocker / "figures")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "cannot write into the folder" in err and "a-file/figures" in err


def test_pruning_flag_offers_every_rule_and_none():
    from toyclf.pruning import PRUNINGS
    from toyclf.spirals import build_parser

    pruning = next(action for action in build_parser()._actions if action.dest == "pruning")
    assert list(pruning.choices) == [*PRUNINGS, "none"] and pruning.default == "early_stopping"


def test_module_help():
    result = subprocess.run(
        [sys.executable, "-m", "toyclf.spirals", "--help"], capture_output=True, text=True, check=True
    )
    for flag in ("--seed", "--steps", "--trials", "--grid", "--dataset", "--device", "--out"):
        assert flag in result.stdout


def test_inside_measures_everything_and_writes_its_figures(tmp_path, capsys):
    from toyclf import inside

    out = tmp_path / "figs"
    assert inside.main(["--n-test", "100", "--steps", "40", "--grid", "8", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for what in ("best t =", "shared noise:", "oracle, ELBO, 1000 trials", "calibration, uniform", "early stopping"):
        assert what in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.png" for name in inside.FIGURES)


@pytest.mark.parametrize(
    "module", ["toyclf.spirals", "toyclf.animate", "toyclf.digits", "toyclf.inside", "toyclf.zeroshot"]
)
def test_a_negative_seed_is_refused_by_every_command(module, capsys):
    main_of = __import__(module, fromlist=["main"]).main
    with pytest.raises(SystemExit) as exit_:
        main_of(["--seed", "-1", *(["x.png", "--classes", "a", "b"] if module.endswith("zeroshot") else [])])
    assert exit_.value.code == 2
    assert "--seed: expected a seed from 0 to 4294967295, got -1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "raised, code, line",
    [
        (ValueError("bad value"), 2, "error: bad value\n"),
        (FileNotFoundError("no such file: 'x'"), 2, "error: no such file: 'x'\n"),
        (MemoryError(), 2, "error: out of memory (no memory left); smaller sizes or batches need less.\n"),
        (KeyboardInterrupt(), 130, "\ninterrupted\n"),
    ],
)
def test_the_command_boundary_turns_errors_into_one_line(raised, code, line, capsys):
    from toyclf.cli import command

    @command
    def failing(argv):
        raise raised

    assert failing([]) == code
    assert capsys.readouterr().err == line


def test_the_command_boundary_says_what_an_interruption_kept(capsys):
    from toyclf.cli import Interrupted, command

    @command
    def interrupted(argv):
        raise Interrupted("3 of 9 images are saved")

    assert interrupted([]) == 130 and capsys.readouterr().err == "\ninterrupted: 3 of 9 images are saved\n"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_during_training_is_one_line(stop, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "toyclf.spirals", "--steps", "1000000", "--n-samples", "200", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().startswith("spirals: 200 training")  # printed just before training starts
    time.sleep(1.0)
    process.send_signal(stop)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err
