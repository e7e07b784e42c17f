"""The lecture notebooks: each ``notebooks/NAME.ipynb`` is the jupytext pair of ``notebooks/NAME.py`` (the source
of truth), stored with the outputs of one full-size run (``python notebooks/build.py``), and runs top to bottom
with tiny settings.

A notebook puts every size knob in one code cell tagged ``parameters``; the test runs it with a cell of tiny
overrides inserted right after that one, then checks a few of the notebook's variables against floors.
To add a notebook, add a ``NotebookCase`` to ``CASES``.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHECKS_MARKER = "NOTEBOOK-CHECKS:"
MAX_NOTEBOOK_BYTES = 3_000_000  # the stored outputs of a full run: figures at 72 dpi, no megabyte dumps


@dataclass(frozen=True)
class NotebookCase:
    name: str  # notebooks/{name}.py and notebooks/{name}.ipynb
    overrides: dict[str, object]  # tiny values for names assigned in the `parameters` cell
    floors: dict[str, float] = field(default_factory=dict)  # variable -> lowest acceptable value after the run


CASES = [
    NotebookCase(  # the lecture deck: python notebooks/slides.py; tests/lecture/test_deck.py renders it
        "00_lecture",
        overrides={
            "N_SAMPLES": 300,
            "N_TEST": 200,
            "TRAIN_STEPS": 150,
            "N_TRIALS": 8,
            "EVIDENCE_TRIALS": 16,
            "GRID": 16,
            "STRIP_GRID": 10,
        },
        floors={"accuracy": 0.75, "agree": 1.0},  # the ten-line Algorithm 1 picks the estimator's class everywhere
    ),
    NotebookCase(
        "01_spirals",
        overrides={
            "N_SAMPLES": 300,
            "N_TEST": 200,
            "TRAIN_STEPS": 150,
            "N_TRIALS": 8,
            "N_SHOW": 4,
            "GRID": 30,
            "EVIDENCE_TRIALS": 16,
        },
        floors={"accuracy": 0.75},  # two classes: chance is 0.5
    ),
    NotebookCase(
        "02_inside_the_estimator",
        overrides={
            "N_SAMPLES": 300,
            "N_TEST": 200,
            "TRAIN_STEPS": 150,
            "MAX_TRIALS": 16,
            "N_ORACLE": 100,
            "N_PRUNED": 50,
            "GRID": 12,
            "N_LIKELIHOOD": 8,
            "LIKELIHOOD_RTOL": 1e-3,
        },
        floors={"accuracy": 0.75, "saving": 1.0},  # early stopping never spends more than every trial
    ),
    NotebookCase(  # the shipped tiny Stable Diffusion: the notebook checks its hand-written loop against class_errors
        "03_stable_diffusion_zero_shot",
        overrides={"N_TRIALS": 12, "N_TEST": 12, "N_PAIRS": 2, "SAMPLE_STEPS": 4},
        floors={"colour_accuracy": 0.5},  # four colours: chance is 0.25
    ),
    NotebookCase(
        "04_digits",
        overrides={
            "TRAIN_STEPS": 400,
            "HIDDEN_SIZE": 64,
            "N_TRIALS": 16,
            "STAGED_TRIALS": (4, 16),
            "N_SHOW": 3,
            "N_GENERATED": 2,
        },
        # the model that ships with toyclf (RETRAIN = True, a plain fit, is covered by tests/commands/test_digits.py)
        floors={"accuracy": 0.95, "saving": 1.0},  # ten classes: chance is 0.1; the shipped model gets 0.99
    ),
    NotebookCase(  # the flow-matching model of the spirals, classified by the same estimator
        "05_flow_matching",
        overrides={"N_SAMPLES": 300, "N_TEST": 200, "TRAIN_STEPS": 150, "N_ORACLE": 100, "N_TRIALS": 32, "GRID": 24},
        floors={"accuracy": 0.75},
    ),
    NotebookCase(  # the student's exercises: every hidden solution passes its check
        "06_exercises",
        overrides={"N_SAMPLES": 300, "N_TEST": 200, "TRAIN_STEPS": 150, "N_TRIALS": 8, "GRID": 20},
        floors={"passed": 5, "accuracy": 0.7},  # five checks; two classes: chance is 0.5
    ),
]


def _by_name(cases):
    return pytest.mark.parametrize("case", cases, ids=[case.name for case in cases])


def _parameters_cell(nb) -> int:
    """Index of the one code cell tagged ``parameters``."""
    tagged = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    assert len(tagged) == 1, f"expected exactly one code cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


@_by_name(CASES)
def test_notebook_is_the_executed_pair_of_its_script(case: NotebookCase) -> None:
    path = NOTEBOOKS / f"{case.name}.ipynb"
    ipynb = nbformat.read(path, as_version=4)
    script = jupytext.read(NOTEBOOKS / f"{case.name}.py")

    def cells(nb):
        return [(cell.cell_type, cell.source) for cell in nb.cells]

    assert cells(ipynb) == cells(script), (
        f"{case.name}.ipynb is out of sync with {case.name}.py; rebuild it: python notebooks/build.py {case.name}"
    )
    _parameters_cell(ipynb)
    code = [cell for cell in ipynb.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{case.name}.ipynb is not stored as one run from top to bottom (execution counts {counts}); "
        f"rebuild it: python notebooks/build.py {case.name}"
    )
    errors = [i for i, cell in enumerate(code) for output in cell.outputs if output.output_type == "error"]
    assert not errors, f"{case.name}.ipynb stores errors in its code cells {errors}"
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{case.name}.ipynb is {path.stat().st_size / 1e6:.1f} MB"


@_by_name(CASES)
def test_notebook_runs_with_tiny_settings(case: NotebookCase, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The toy MLP's ops are tiny: one torch thread is as fast as two on an idle 2-core machine, and tens of times
    # faster when another process holds a core (OpenMP threads then wait on each other at every op).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # the kernel runs in tmp_path: make the package importable even when it is not pip-installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOKS / f"{case.name}.ipynb", as_version=4)

    index = _parameters_cell(nb)
    knobs = {
        target.id
        for statement in ast.parse(nb.cells[index].source).body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }
    unknown = set(case.overrides) - knobs
    assert not unknown, f"overrides {sorted(unknown)} are not set in the parameters cell of {case.name}"
    overrides = "\n".join(f"{name} = {value!r}" for name, value in case.overrides.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(overrides, metadata={"tags": ["injected-parameters"]}))
    if case.floors:
        report = ", ".join(f"{name!r}: float({name})" for name in case.floors)
        nb.cells.append(nbformat.v4.new_code_cell(f"import json\nprint({CHECKS_MARKER!r} + json.dumps({{{report}}}))"))

    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError if any cell fails, e.g. the hand-built == class_errors check

    if case.floors:
        text = "".join(output.get("text", "") for output in nb.cells[-1].outputs if output.output_type == "stream")
        lines = [line for line in text.splitlines() if line.startswith(CHECKS_MARKER)]
        assert lines, f"the checks cell printed nothing readable: {text!r}"
        values = json.loads(lines[-1].removeprefix(CHECKS_MARKER))
        for name, floor in case.floors.items():
            assert values[name] >= floor, f"{case.name}: {name} = {values[name]:.3f} is below {floor}"
