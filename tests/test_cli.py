"""python -m toyclf.spirals, end to end with tiny settings, and its argument errors."""

import subprocess
import sys

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
        (["--grid", "many"], "--grid: expected a positive integer, got 'many'"),
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
    for what in ("best t =", "shared noise:", "oracle, ELBO, 1000 pairs", "calibration, uniform", "early stopping"):
        assert what in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.png" for name in inside.FIGURES)
