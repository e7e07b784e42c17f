"""The lecture deck (``python notebooks/slides.py``, from the stored ``notebooks/00_lecture.ipynb``) as a
projector shows it: rendered by headless Chromium at 1280 x 720, every slide's content fits its slide (no
scrolling, no code block or table wider than its box, no image past the edge), every slide has speaker
notes, and the page requests nothing from the network (Chromium's own log of its network requests says
which the page made). Skipped where no Chromium is installed (Debian:
``apt install chromium``)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_slides import _slides_module

HERE = Path(__file__).resolve().parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
WINDOW = (1280, 720)

pytestmark = pytest.mark.skipif(BROWSER is None, reason=f"no headless browser ({', '.join(BROWSERS)}) installed")


def network_requests(net_log: Path) -> list[str]:
    """The URLs a page opened from a file requested over the network, from Chromium's ``--log-net-log``:
    the requests whose initiator is the page's origin (a file's origin is opaque, "null"), not the
    browser's own background requests."""
    events = json.loads(net_log.read_text(encoding="utf-8"))["events"]
    return sorted({e["params"]["url"] for e in events if (e.get("params") or {}).get("initiator") == "null"})


def render(page: Path, *, virtual_ms: int = 60_000) -> dict:
    """Open ``page`` in headless Chromium at WINDOW with the measuring script of deck_report.js
    injected, and return what it reported, with the page's network requests under "requests"."""
    measured = page.with_name("measured.html")
    script = (HERE / "deck_report.js").read_text(encoding="utf-8")
    measured.write_text(page.read_text(encoding="utf-8").replace("</body>", f"<script>{script}</script></body>"))
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--allow-file-access-from-files",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--virtual-time-budget={virtual_ms}",
        f"--log-net-log={page.with_name('net_log.json')}",
        "--dump-dom",
        measured.as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False).stdout
    found = re.search(r'<pre id="deck-report">(.*?)</pre>', dom, re.S)
    assert found, f"the deck never reported (Chromium printed {len(dom)} characters)"
    report = json.loads(html.unescape(found.group(1)))
    assert "error" not in report, report.get("error")
    report["requests"] = network_requests(page.with_name("net_log.json"))
    return report


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    page = _slides_module().export_slides("00_lecture", tmp_path_factory.mktemp("deck"))
    return render(page)


def test_the_deck_is_laid_out_for_the_projectors_size(report) -> None:
    assert report["size"] == list(WINDOW)
    assert len(report["slides"]) >= 20


def test_no_slide_overflows(report) -> None:
    overflowing = {f"{s['index']} {s['title']!r}": s["problems"] for s in report["slides"] if s["problems"]}
    assert not overflowing, f"slides whose content does not fit 1280 x 720: {overflowing}"


def test_every_slide_has_speaker_notes(report) -> None:
    silent = [f"{s['index']} {s['title']!r}" for s in report["slides"] if s["notes"] < 80]
    assert not silent, f"slides without speaker notes: {silent}"


def test_every_slide_shows_a_heading_or_a_figure(report) -> None:
    bare = [s["index"] for s in report["slides"] if not s["title"] and s["images"] == 0]
    assert not bare, f"slides with neither a heading nor a figure (a print alone?): {bare}"


def test_the_deck_requests_nothing_from_the_network(report) -> None:
    assert not report["requests"], f"the deck requested {report['requests']}"


def test_the_network_check_sees_a_remote_image(tmp_path) -> None:
    """The check above can fail: a page with one remote image is caught."""
    page = tmp_path / "remote.html"
    page.write_text('<html><body><img src="https://example.invalid/figure.png"></body></html>')
    subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
         f"--log-net-log={tmp_path / 'net_log.json'}", "--dump-dom", page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert network_requests(tmp_path / "net_log.json") == ["https://example.invalid/figure.png"]
