"""The listener pages in a real browser: a copy of the demo show with a two-second intro,
published with the CLI and served by `podcast serve` on 127.0.0.1, and one page visited in
a fresh Chromium context that records every request and every problem.

Shared by tests/test_pages.py and tests/test_pages_hosts.py; each configures its own show
(``make_show``) and adds what it reads from a page to its own :class:`Visit`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree
from s3_servers import free_port

from podcast.binaries import ffmpeg
from podcast.cli import main
from podcast.config import split_front_matter

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: When the show is published (every demo episode is out by then).
NOW = "2026-12-01T00:00:00Z"
#: The intro played before each interview, so the MP3's times are not the ones written.
INTRO_SECONDS = 2.0
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
AXE = REPO / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)")
needs_axe = pytest.mark.skipif(
    not AXE.exists(), reason="needs axe-core in tests/js (npm ci --prefix tests/js)")


# --------------------------------------------------------------------------- the show


@dataclass
class Site:
    """A published show and the `podcast serve` process answering for it."""

    base: str
    public: Path

    def page(self, key: str) -> str:
        return f"{self.base}/{key}"


def edit_front_matter(path: Path, **changes) -> None:
    """Set ``changes`` in an episode.md's front matter, keeping its notes."""
    data, notes = split_front_matter(path.read_text(encoding="utf-8"), path)
    data.update(changes)
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{front}---\n{notes}\n", encoding="utf-8")


def demo_with_intro(folder: Path, base: str) -> dict:
    """The demo's assets/ and episodes/ copied into ``folder`` with an intro of
    :data:`INTRO_SECONDS` in assets/intro.wav; the demo's config, parsed, set to publish
    to ``folder/public`` for ``base`` with that intro (see :func:`write_config`)."""
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, folder / name)
    subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency=660:duration={INTRO_SECONDS}", "-ac", "1",
                    str(folder / "assets" / "intro.wav")], check=True)
    config = yaml.safe_load((REPO / "podcast.yaml").read_text(encoding="utf-8"))
    config.update(base_url=base, storage="file://public")
    config["audio"]["intro"] = "assets/intro.wav"
    return config


def write_config(folder: Path, config: dict) -> Path:
    """``config`` written as ``folder/podcast.yaml`` (in its own key order); its path."""
    path = folder / "podcast.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


@contextmanager
def served_show(folder: Path, make_show: Callable[[Path, str], Path]
                ) -> Iterator[tuple[str, Path]]:
    """The show ``make_show(folder, base)`` writes (it returns its podcast.yaml),
    published with the CLI at :data:`NOW` and served by `podcast serve` on a free port,
    logging to ``folder/access.log``: its base URL and config while it runs."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = make_show(folder, base)
    published = CliRunner().invoke(main, ["--config", str(config), "publish", "--all",
                                          "--now", NOW])
    assert published.exit_code == 0, published.output
    process = subprocess.Popen(
        [sys.executable, "-c", "from podcast.cli import main; main()", "--config", str(config),
         "serve", "--port", str(port), "--log", str(folder / "access.log")],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{base}/index.html", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, \
                    process.stderr.read() if process.poll() is not None else "no answer"
                time.sleep(0.1)
        yield base, config
    finally:
        process.terminate()
        process.wait(timeout=10)


# --------------------------------------------------------------------------- what was published


def feed_item(public: Path, slug: str):
    """The published feed's item for an episode (found by its page link)."""
    for item in etree.parse(str(public / "feed.xml")).iter("item"):
        if item.findtext("link", "").endswith(f"/episodes/{slug}.html"):
            return item
    raise AssertionError(f"{slug} is not in the feed")


def published_chapters(public: Path, slug: str) -> list[dict]:
    """The chapters of an episode's published chapters JSON (its URL read from the feed):
    ``startTime`` is in the MP3, after the intro."""
    url = feed_item(public, slug).find(f"{{{PODCAST_NS}}}chapters").get("url")
    data = json.loads((public / urlsplit(url).path.lstrip("/")).read_text(encoding="utf-8"))
    return data["chapters"]


# --------------------------------------------------------------------------- the browser


class Visit:
    """One page in a fresh browser context, with every request and every problem
    (console errors, page errors, failed requests, answers of 400 and more), and what the
    tests read from it: its layout, axe-core's findings, texts and attributes."""

    def __init__(self, browser, url: str, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.problems.append(f"console: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)
        self.page.goto(url, wait_until="load")

    def __enter__(self) -> Visit:
        return self

    def __exit__(self, *exc) -> None:
        self.context.close()

    def layout(self, shot: Path) -> tuple[int, list[list]]:
        """Once the network is idle: how far (px) the page overflows the window sideways,
        and each image's src and natural width; a full-page screenshot goes to ``shot``."""
        self.page.wait_for_load_state("networkidle")
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth")
        images = self.page.eval_on_selector_all(
            "img", "images => images.map(i => [i.getAttribute('src'), i.naturalWidth])")
        self.page.screenshot(path=str(shot), full_page=True)
        return overflow, images

    def axe_violations(self) -> list[dict]:
        """axe-core's violations on the page as it is now (the script is evaluated in the
        page, so it needs no request and no change to the page's policy)."""
        self.page.evaluate(AXE.read_text(encoding="utf-8"))
        return self.page.evaluate("""() => axe.run().then(result => result.violations.map(
            v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})))""")

    def texts(self, selector: str) -> list[str]:
        """The text of each node ``selector`` matches, white space folded."""
        return self.page.eval_on_selector_all(
            selector, "nodes => nodes.map(n => n.textContent.trim().replace(/\\s+/g, ' '))")

    def attributes(self, selector: str, name: str) -> list[str | None]:
        """Attribute ``name`` of each node ``selector`` matches."""
        return self.page.eval_on_selector_all(
            selector, f"nodes => nodes.map(n => n.getAttribute({json.dumps(name)}))")
