"""Execute the notebooks at full size and store them with their outputs, so they read on GitHub.

    python notebooks/build.py                  # every notebook
    python notebooks/build.py 01_spirals       # some of them

Each ``notebooks/NAME.py`` (jupytext ``py:percent``: the source you edit) runs top to bottom in a
fresh ``python3`` kernel, in ``notebooks/`` (so the links to ``../figures`` resolve), and is
written to ``notebooks/NAME.ipynb`` with its outputs (not what went to stderr: warnings, progress
bars) nor widgets (they need a running kernel). Figures are stored at 72 dpi to keep the files small. Prints how long each notebook took and how large its file is.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbclient

NOTEBOOKS = Path(__file__).resolve().parent
ROOT = NOTEBOOKS.parent
FIGURE_DPI = 72


def _readable(output) -> bool:
    """False for what a stored notebook cannot show: stderr (warnings, progress bars) and widget views."""
    if output.output_type == "stream":
        return output.name != "stderr"
    return "application/vnd.jupyter.widget-view+json" not in output.get("data", {})


def build(name: str, config_dir: str) -> tuple[float, int]:
    """Execute notebooks/NAME.py and write notebooks/NAME.ipynb; returns (seconds, bytes)."""
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    start = time.perf_counter()
    nbclient.NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute(env={**os.environ, "MPLCONFIGDIR": config_dir, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - start
    notebook.metadata.pop("widgets", None)  # sliders live in a running kernel only; their saved state is dead weight
    for cell in notebook.cells:  # what a reader needs: results, not library warnings, progress bars or dead widgets
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.outputs if _readable(out)]
    path = NOTEBOOKS / f"{name}.ipynb"
    jupytext.write(notebook, path, fmt="ipynb")
    return seconds, path.stat().st_size


def main() -> int:
    names = sorted(path.stem for path in NOTEBOOKS.glob("[0-9]*.py"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"notebooks to build (default: all of {', '.join(names)})")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"no such notebook: {', '.join(unknown)}; expected some of {', '.join(names)}")
    with tempfile.TemporaryDirectory() as config_dir:
        Path(config_dir, "matplotlibrc").write_text(f"figure.dpi: {FIGURE_DPI}\n")
        for name in args.names or names:
            seconds, size = build(name, config_dir)
            print(f"{name}: {seconds:.0f} s, {size / 1e6:.2f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
