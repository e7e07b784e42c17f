"""Notebook 01 as reveal.js slides (``python notebooks/slides.py``): slides as the source marks them, and nothing
fetched from the internet when they are shown in a lecture room."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def _slides_module():
    spec = importlib.util.spec_from_file_location("notebook_slides", NOTEBOOKS / "slides.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    return _slides_module().export_slides("01_spirals", tmp_path_factory.mktemp("slides"))


def _slide_types(name: str) -> list[str]:
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    return [cell.metadata.get("slideshow", {}).get("slide_type", "-") for cell in notebook.cells]


def test_every_section_of_notebook_01_starts_a_slide() -> None:
    notebook = jupytext.read(NOTEBOOKS / "01_spirals.py")
    for cell, slide_type in zip(notebook.cells, _slide_types("01_spirals"), strict=True):
        if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source):
            assert slide_type == "slide", f"this heading does not start a slide: {cell.source.splitlines()[0]!r}"
    assert _slide_types("01_spirals").count("subslide") >= 10, "the long sections should be split into sub-slides"


def test_the_export_has_one_slide_per_marked_cell(exported: Path) -> None:
    html = exported.read_text(encoding="utf-8")
    types = _slide_types("01_spirals")
    # nbconvert nests: <section> per slide holding a <section> per sub-slide (the slide's own first part included)
    expected = types.count("slide") + types.count("subslide") + types.count("slide")
    assert html.count("<section") == expected
    assert html.count('class="fragment"') >= types.count("fragment")


def test_the_slides_need_no_internet(exported: Path) -> None:
    html = exported.read_text(encoding="utf-8")
    loaded = re.findall(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"', html)
    remote = [url for url in loaded if re.match(r"(https?:)?//", url)]
    assert not remote, f"the slides fetch {remote}"
    local = [url.split("?")[0] for url in loaded if not url.startswith("data:")]
    assert "mathjax/MathJax.js" in local and "reveal.js/dist/reveal.js" in local
    missing = [url for url in local if not (exported.parent / url).is_file()]
    assert not missing, f"the slides load files that were not written beside them: {missing}"
    assert "../figures/" not in html, "the figures the markdown links to must be embedded"
    assert html.count("data:image/gif;base64") >= 4  # the four animations


def test_unknown_notebook_is_refused(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["slides.py", "05_missing"])
    with pytest.raises(SystemExit) as stop:
        _slides_module().main()
    assert stop.value.code == 2
    assert "no such notebook: '05_missing'; expected one of 00_lecture, 01_spirals" in capsys.readouterr().err


@pytest.mark.parametrize(
    "stored, message",
    [
        (None, r"no stored notebook .*06_talk.ipynb: build it with: python notebooks/build.py 06_talk"),
        (
            b'{\n "cells": [\n  {\n   "cell_',
            r"06_talk.ipynb is not a readable notebook .*: build it with: python notebooks/build",
        ),
        (b'{"cells": 3}', r"06_talk.ipynb is not a readable notebook"),
    ],
)
def test_a_missing_or_damaged_notebook_is_one_line_and_writes_nothing(stored, message, tmp_path, monkeypatch, capsys):
    slides = _slides_module()
    monkeypatch.setattr(slides, "NOTEBOOKS", tmp_path)
    (tmp_path / "06_talk.py").write_text("# %% [markdown]\n# A talk\n")  # its source: the notebook is known
    if stored is not None:
        (tmp_path / "06_talk.ipynb").write_bytes(stored)
    out = tmp_path / "deck"
    assert slides.main(["06_talk", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err
    assert not out.exists()  # reveal.js is not copied for a deck that cannot be made
