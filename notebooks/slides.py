"""The lecture (notebook 00) as reveal.js slides that work in a lecture room without internet.

    python notebooks/slides.py                        # notebooks/slides/00_lecture.slides.html
    python notebooks/slides.py 01_spirals --out /tmp/talk

Exports the stored notebook (``notebooks/NAME.ipynb``, with the outputs of a full run: see
``notebooks/build.py``) with nbconvert's slides exporter. Each cell's ``slideshow`` metadata,
set in the ``py:percent`` source (``# %% [markdown] slideshow={"slide_type": "slide"}``), says
whether it starts a slide, a sub-slide (below the previous one: press the down arrow), a
fragment or is skipped; a cell tagged ``hide-input`` shows only its output (the figure, not the
code that draws it). Nothing is fetched from the internet when the slides are shown:
reveal.js (from the ``sphinx-revealjs`` package) and MathJax (from ``jupyter-server-mathjax``)
are copied beside the HTML file, images are embedded in it. Open the HTML file in a browser;
press ``s`` for the speaker view, ``Esc`` for an overview.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import jupyter_server_mathjax
import nbformat
import sphinx_revealjs
from nbconvert import SlidesExporter
from nbconvert.preprocessors import TagRemovePreprocessor

NOTEBOOKS = Path(__file__).resolve().parent
ROOT = NOTEBOOKS.parent
TEMPLATE = NOTEBOOKS / "slides_template"
REVEAL = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"  # dist/, plugin/
MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"  # MathJax 2: MathJax.js, config/, jax/, ...
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # the configurations jupyter-server-mathjax ships


def read_stored_notebook(name: str) -> nbformat.NotebookNode:
    """The stored notebook ``notebooks/NAME.ipynb``; a ``ValueError`` saying how to build it when
    it is missing or cannot be read (cut short, not a notebook)."""
    path = NOTEBOOKS / f"{name}.ipynb"
    build = f"build it with: python notebooks/build.py {name}"
    if not path.is_file():
        raise ValueError(f"no stored notebook {path}: {build}")
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat fails with JSON, validation and key errors alike: all mean "not readable"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path} is not a readable notebook ({reason}): {build}") from None
    return notebook


def export_slides(name: str, out: Path) -> Path:
    """Write ``out/NAME.slides.html`` and, beside it, ``reveal.js/`` and ``mathjax/``; returns the HTML path.
    The notebook is read first: nothing is written for one that is missing or damaged."""
    notebook = read_stored_notebook(name)
    out.mkdir(parents=True, exist_ok=True)
    for source, target in ((REVEAL, out / "reveal.js"), (MATHJAX, out / "mathjax")):
        shutil.copytree(source, target, dirs_exist_ok=True)
    exporter = SlidesExporter(
        extra_template_basedirs=[str(NOTEBOOKS)],
        template_name=TEMPLATE.name,
        reveal_url_prefix="reveal.js",
        reveal_theme="white",
        reveal_width="1280",
        reveal_height="720",
        reveal_number="c/t",
        mathjax_url=f"mathjax/MathJax.js?config={MATHJAX_CONFIG}",
        embed_images=True,  # the GIFs and figures the markdown links to travel inside the HTML
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    for cell in notebook.cells:  # nbconvert embeds only images below its base folder: make that the repository
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("](../figures/", "](figures/")
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags=("hide-input",)), enabled=True)
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"path": str(ROOT)}})
    path = out / f"{name}.slides.html"
    path.write_text(html, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    names = sorted(path.stem for path in NOTEBOOKS.glob("[0-9]*.py"))  # the sources: a notebook not built yet counts
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", default="00_lecture", help=f"one of {', '.join(names)}")
    parser.add_argument("--out", type=Path, default=NOTEBOOKS / "slides", help="folder to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.name not in names:
        parser.error(f"no such notebook: {args.name!r}; expected one of {', '.join(names)}")
    try:
        print(export_slides(args.name, args.out))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
