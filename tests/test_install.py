"""The product as its users install and run it: a regular ``pip install``, never the checkout.

Every other test imports ``podcast`` from the editable dev install.  These tests install it
the way a user does and then only run the ``podcast`` command, each as a subprocess with a
clean environment (no ``PYTHONPATH``, the fresh venv's ``bin`` first on ``PATH``) and a
working folder outside the checkout.  Two stories, each an issue's acceptance points:

A. "``pip install .`` into a fresh venv (not editable), run from a temp folder outside the
   checkout: publish, feed, ``stats ingest``, ``stats report --html`` all work."  A user
   publishes the demo show, serves it with ``podcast serve``, three podcast apps download
   every episode over HTTP, and the user counts the downloads from the access log.

B. "The nightly workflow's steps (``.github/workflows/nightly-feed.yml``), run against a
   local S3 server from a regular install, rebuild the feed and ingest logs; a second night
   changes nothing; a deleted key is refused."  The user publishes to S3 (moto's server)
   from their machine; then each "night" a fresh runner folder (what ``actions/checkout``
   gives: the tracked files, nothing else) runs every ``run:`` step of the workflow file,
   in order, with the environment GitHub Actions would give it (job and step ``env:``,
   ``${{ secrets.NAME }}`` from the repository secrets, ``$GITHUB_ENV`` applied to the next
   steps).  The stats database lives in the ``PODCAST_STATE_URL`` bucket between nights.

Both count downloads twice: once by ``podcast``, once here by an independent model of the
IAB rule (README, "Counting rules"): one download per (episode, listener, UTC day) whose
GET answers (200/206) delivered at least the tag plus one minute of audio, or the whole
file when shorter; a listener is the address plus the user agent.

Like the demo, these tests run on the real clock: the demo episodes' dates (the last one
2026-11-30 18:00 +01:00) must be past for all four to be live.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
import yaml
from s3_servers import free_port, moto_s3, serving
from stats_fixtures import GOOGLEBOT, Request, ranged, s3_log

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "nightly-feed.yml"
SLUGS = ("001-sonia-mamin", "002-marc-olivier", "003-claire-dubois", "004-lea-fontaine")

APPLE = "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; en_us)"
OVERCAST = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
POCKETCASTS = "PocketCasts/1.0 (Pocket Casts Android v7.60)"
ANTENNAPOD = "AntennaPod/3.4.0"
SPOTIFY = "Spotify/8.9.10 Android/34 (Pixel 8)"
#: Agents our model treats as bots (the product knows many more).
BOTS = {GOOGLEBOT}


# --- running things the way a user does ----------------------------------------------------


def clean_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """This machine's environment minus anything that would reach into the checkout or
    configure ``podcast``: no PYTHONPATH, no PODCAST_*/AWS_*/GITHUB_* variables, no dev venv
    on PATH, and ``bin_dir`` first on PATH.  (pip's and TLS settings stay: they are the
    machine's, as on any user's computer.)"""
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
           and not name.startswith(("PODCAST_", "AWS_", "GITHUB_", "PYTEST_", "RUNNER_"))}
    path = [entry for entry in os.environ.get("PATH", "").split(os.pathsep)
            if entry and not Path(entry).resolve().is_relative_to(REPO)]
    env["PATH"] = os.pathsep.join([str(bin_dir), *path])
    env.update(extra)
    return env


def run(args: Iterable[object], *, cwd: Path, env: dict[str, str], timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``check``, fail the test with its output when it fails."""
    args = [str(a) for a in args]
    done = subprocess.run(args, cwd=cwd, env=env, text=True, capture_output=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"`{' '.join(args)}` exited {done.returncode} in {cwd}\n"
                    f"--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}")
    return done


def copy_checkout(dest: Path, *, untracked: bool) -> Path:
    """Copy the checkout's tracked files (plus, with ``untracked``, the files git does not
    ignore) to ``dest``, symlinks as symlinks: what ``actions/checkout`` or a user's clone
    holds, without .venv, .podcast/, public/ or build leftovers."""
    args = ["git", "-C", str(REPO), "ls-files", "-z", "--cached"]
    if untracked:
        args += ["--others", "--exclude-standard"]
    names = subprocess.run(args, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source = REPO / name
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the work tree, not yet in git
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return dest


def demo_show(folder: Path, config: str | None = None) -> Path:
    """A copy of the demo show (podcast.yaml, assets/, episodes/) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, folder / name)
    (folder / "podcast.yaml").write_text(config or (REPO / "podcast.yaml").read_text(),
                                         encoding="utf-8")
    return folder


def demo_config(**values: str) -> str:
    """The demo's podcast.yaml with some top-level ``key: value`` lines replaced."""
    text = (REPO / "podcast.yaml").read_text(encoding="utf-8")
    for key, value in values.items():
        text, count = re.subn(rf"(?m)^{key}:.*$", f"{key}: {value}", text)
        assert count == 1, f"the demo podcast.yaml has no single `{key}:` line"
    return text


def episode_titles() -> dict[str, str]:
    """slug -> title, read from the demo episodes' front matter (not through podcast)."""
    titles = {}
    for slug in SLUGS:
        text = (REPO / "episodes" / slug / "episode.md").read_text(encoding="utf-8")
        titles[slug] = yaml.safe_load(text.split("---")[1])["title"]
    return titles


@dataclass(frozen=True)
class Install:
    """A fresh venv with podcast installed from a wheel."""

    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def podcast(self) -> Path:
        return self.bin / "podcast"

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(self.bin, **extra)


def build_install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """``pip wheel`` of the checkout, installed with its dependencies into a fresh venv
    (the session's ``installed`` fixture, tests/conftest.py: built once for every test).

    The wheel is built from a copy of the checkout (every file git does not ignore): building
    in place would write build/ and *.egg-info into a checkout others are working in.
    """
    root = tmp_path_factory.mktemp("install")
    env = clean_env(Path(sys.executable).parent)
    source = copy_checkout(root / "source", untracked=True)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", root / "wheels", source],
        cwd=root, env=env)
    (wheel,) = (root / "wheels").glob("podcast-*.whl")
    run([sys.executable, "-m", "venv", root / "venv"], cwd=root, env=env)
    install = Install(root / "venv")
    run([install.bin / "python", "-m", "pip", "install", "--quiet", wheel], cwd=root,
        env=install.env())
    return install


def test_the_installed_package_is_not_the_checkout(installed: Install, tmp_path: Path) -> None:
    """Run from any folder, ``podcast`` is the installed copy in the venv's site-packages."""
    env = installed.env()
    assert shutil.which("podcast", path=env["PATH"]) == str(installed.podcast)
    done = run([installed.bin / "python", "-c", "import podcast; print(podcast.__file__)"],
               cwd=tmp_path, env=env)
    module = Path(done.stdout.strip())
    assert module.is_relative_to(installed.venv / "lib"), module
    assert "site-packages" in module.parts
    assert not module.resolve().is_relative_to(REPO)
    assert run([installed.podcast, "--version"], cwd=tmp_path, env=env).stdout.startswith(
        "podcast, version ")


# --- the independent model of the IAB rule ---------------------------------------------------


@dataclass
class Counts:
    """What the model expects ``podcast stats`` to count."""

    downloads: int
    by_slug: dict[str, int]
    #: Distinct listeners within each UTC month ({"2026-11": 3}): hashes change monthly.
    listeners: dict[str, int]
    listeners_by_slug: dict[str, dict[str, int]]
    rejected: Counter = field(default_factory=Counter)


def threshold(media: dict) -> int:
    """Tag plus one minute of audio, or the whole file when shorter (README)."""
    return min(media["bytes"], media["tag_size"] + media["bitrate"] // 8 * 60)


def model(requests: Iterable[Request], media_by_key: dict[str, dict]) -> Counts:
    """Downloads, listeners per month and rejected lines of ``requests`` by the IAB rule."""
    rejected: Counter = Counter()
    days: dict[tuple, int] = defaultdict(int)
    lines: dict[tuple, int] = defaultdict(int)
    for r in requests:
        if r.method != "GET":
            rejected["not_get"] += 1
        elif r.status not in (200, 206):
            rejected["bad_status"] += 1
        elif r.key not in media_by_key:
            rejected["unknown_object"] += 1
        elif r.agent in BOTS:
            rejected["bots"] += 1
        else:
            listener_day = (media_by_key[r.key]["slug"], r.ip, r.agent,
                            r.when.astimezone(UTC).date())
            days[listener_day] += r.sent
            lines[listener_day] += 1
    sizes = {m["slug"]: threshold(m) for m in media_by_key.values()}
    downloads = [k for k, sent in days.items() if sent >= sizes[k[0]]]
    for k in set(days) - set(downloads):
        rejected["below_threshold"] += lines[k]
    months = sorted({f"{day:%Y-%m}" for *_, day in downloads})

    def per_month(items: list[tuple]) -> dict[str, int]:
        return {month: len({(ip, agent) for _, ip, agent, day in items
                            if f"{day:%Y-%m}" == month}) for month in months}

    return Counts(
        downloads=len(downloads),
        by_slug={slug: sum(d[0] == slug for d in downloads) for slug in SLUGS},
        listeners=per_month(downloads),
        listeners_by_slug={slug: per_month([d for d in downloads if d[0] == slug])
                           for slug in SLUGS},
        rejected=rejected)


def assert_report_matches(report: dict, expected: Counts) -> None:
    """``podcast stats report --format json`` says what the model says."""
    assert report["listener_window"] == "utc-month"
    assert report["total"]["downloads"] == expected.downloads
    assert {m["month"]: m["listeners"] for m in report["listeners_by_month"]} == \
        expected.listeners
    episodes = {e["slug"]: (e["downloads"], e["listeners_by_month"]) for e in report["episodes"]}
    assert episodes == {slug: (expected.by_slug[slug], expected.listeners_by_slug[slug])
                        for slug in SLUGS}
    assert {reason: n for reason, n in report["rejected"].items() if n} == dict(
        expected.rejected)


def listeners_text(counts: Counts) -> str:
    """How the table report states the listeners: ``Listeners: 3 in 2026-11``."""
    return "Listeners: " + " · ".join(f"{n:,} in {month}"
                                      for month, n in counts.listeners.items())


# --- A. a user's computer: publish, serve, listen, count -----------------------------------


class PageText(html.parser.HTMLParser):
    """The text of an HTML page and every URL-valued attribute in it."""

    URL_ATTRIBUTES = {"src", "href", "srcset", "action", "poster", "data", "formaction"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [value for name, value in attrs if name in self.URL_ATTRIBUTES and value]

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @classmethod
    def of(cls, path: Path) -> PageText:
        page = cls()
        page.feed(path.read_text(encoding="utf-8"))
        page.close()
        return page

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


@dataclass
class Listening:
    """What the listeners did: every request (as the app saw its answer) and the log."""

    requests: list[Request]
    log: Path


@pytest.fixture(scope="module")
def local_show(tmp_path_factory: pytest.TempPathFactory):
    """The demo show copied to a temp folder, its base_url on a free port of this machine."""
    port = free_port()
    folder = demo_show(tmp_path_factory.mktemp("my-show"),
                       demo_config(base_url=f"http://127.0.0.1:{port}"))
    return folder, port


@pytest.fixture(scope="module")
def published_locally(installed: Install, local_show) -> Path:
    """``podcast publish --all``, then ``podcast feed --output feed.xml``."""
    folder, _ = local_show
    env = installed.env()
    done = run([installed.podcast, "publish", "--all"], cwd=folder, env=env)
    for slug in SLUGS:
        assert f"mastering {slug}" in done.stdout
    run([installed.podcast, "feed", "--output", "feed.xml"], cwd=folder, env=env)
    return folder


def test_publish_and_feed_from_the_install(published_locally: Path) -> None:
    """The user publishes the demo show to ./public and rebuilds the feed: the feed names
    every episode with its enclosure, and the HTML pages are there."""
    folder = published_locally
    public = folder / "public"
    built = (folder / "feed.xml").read_bytes()
    # An unchanged show rebuilds a byte-identical feed.
    assert built == (public / "feed.xml").read_bytes()
    feed = feedparser.parse(built)
    assert not feed.bozo, feed.get("bozo_exception")
    titles = episode_titles()
    assert feed.feed.title == "Salons & Rencontres"
    assert sorted(entry.title for entry in feed.entries) == sorted(titles.values())
    manifest = json.loads((public / ".podcast" / "manifest.json").read_text())
    for entry in feed.entries:
        (enclosure,) = entry.enclosures
        path = public / urllib.parse.urlsplit(enclosure.href).path.lstrip("/")
        assert path.is_file() and path.stat().st_size == int(enclosure.length)
        assert enclosure.type == "audio/mpeg"
    assert {m["key"] for m in manifest["media"].values()} == {
        urllib.parse.urlsplit(e.enclosures[0].href).path.lstrip("/") for e in feed.entries}
    index = PageText.of(public / "index.html").text
    for slug, title in titles.items():
        assert title in index
        assert title in PageText.of(public / "episodes" / f"{slug}.html").text


@pytest.fixture(scope="module")
def listened(installed: Install, local_show, published_locally: Path) -> Listening:
    """``podcast serve --port N``; three apps download every episode of the feed over HTTP
    (one in a series of byte ranges, one twice), plus a HEAD, a 2-byte probe and a crawler;
    then the server is stopped.  Its access log is the user's raw data."""
    folder, port = local_show
    feed = feedparser.parse((folder / "public" / "feed.xml").read_bytes())
    urls = [(entry.enclosures[0].href, int(entry.enclosures[0].length))
            for entry in feed.entries]
    assert all(url.startswith(f"http://127.0.0.1:{port}/") for url, _ in urls)
    server_out = folder / "serve.out"
    requests: list[Request] = []

    def fetch(url: str, agent: str, method: str = "GET", span: tuple[int, int] | None = None,
              ) -> bytes:
        headers = {"User-Agent": agent}
        if span:
            headers["Range"] = f"bytes={span[0]}-{span[1]}"
        when = datetime.now(UTC)
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers,
                                                           method=method), timeout=30) as r:
            body = r.read()
            status = r.status
        key = urllib.parse.urlsplit(url).path.lstrip("/")
        requests.append(Request(when, "127.0.0.1", agent, key, method, status, len(body)))
        return body

    # Serving starts with a bare TCP connect: no request, so nothing in the access log.
    with serving([str(installed.podcast), "serve", "--port", str(port)], port, server_out,
                 cwd=folder, env=installed.env()):
        for url, size in urls:
            assert len(fetch(url, APPLE)) == size
            assert len(fetch(url, OVERCAST)) == size
            assert len(fetch(url, OVERCAST)) == size  # again, the same day: still one
            third = size // 3 + 1
            parts = [fetch(url, POCKETCASTS, span=(start, min(size, start + third) - 1))
                     for start in range(0, size, third)]
            assert sum(map(len, parts)) == size
        first_url, _ = urls[0]
        assert fetch(first_url, APPLE, method="HEAD") == b""
        assert len(fetch(first_url, ANTENNAPOD, span=(0, 1))) == 2
        fetch(first_url, GOOGLEBOT)
        # A line is written once the app has acknowledged the bytes, a moment after it got
        # them: let the last ones land before stopping the server (a stop drops them).
        log = folder / ".podcast" / "access.log"
        deadline = time.monotonic() + 15
        while not log.is_file() or len(log.read_text().splitlines()) < len(requests):
            assert time.monotonic() < deadline, "podcast serve did not log every request"
            time.sleep(0.05)
    return Listening(requests, log)


def local_media(folder: Path) -> dict[str, dict]:
    """Media key -> manifest entry, from the published manifest."""
    manifest = json.loads((folder / "public" / ".podcast" / "manifest.json").read_text())
    return {m["key"]: m for m in manifest["media"].values()}


COMBINED = re.compile(r'^127\.0\.0\.1 - - \[[^]]+\] "(\w+) /(\S+) HTTP/1\.1" (\d+) (\d+) '
                      r'"-" "(.*)"$')


def test_serve_logs_every_request(listened: Listening) -> None:
    """``podcast serve`` wrote one combined log line per request, with the bytes it sent.
    (Server threads write them as each answer ends, so not necessarily in request order.)"""
    lines = listened.log.read_text().splitlines()
    parsed = [COMBINED.match(line) for line in lines]
    assert all(parsed), [line for line, match in zip(lines, parsed, strict=True) if not match]
    logged = Counter((m[1], m[2], int(m[3]), int(m[4]), m[5]) for m in parsed)
    assert logged == Counter((r.method, r.key, r.status, r.sent, r.agent)
                             for r in listened.requests)


def test_stats_from_the_access_log(installed: Install, published_locally: Path,
                                   listened: Listening) -> None:
    """``podcast stats ingest .podcast/access.log`` then ``stats report --format json``:
    each app's full download of each episode is one download (the second full download the
    same UTC day and the byte ranges are not more), each app is one listener; the HEAD,
    the 2-byte probe and the crawler are not counted.  A second ingest changes nothing."""
    folder, env = published_locally, installed.env()
    expected = model(listened.requests, local_media(folder))
    days = {r.when.date() for r in listened.requests}
    if len(days) == 1:  # not run across midnight UTC: 3 apps x every episode
        (day,) = days
        assert (expected.downloads, expected.listeners) == (3 * len(SLUGS),
                                                            {f"{day:%Y-%m}": 3})
        assert expected.rejected == Counter(not_get=1, bots=1, below_threshold=1)

    done = run([installed.podcast, "stats", "ingest", ".podcast/access.log"], cwd=folder,
               env=env)
    assert f"downloads: {expected.downloads} added" in done.stdout
    report = json.loads(run([installed.podcast, "stats", "report", "--format", "json"],
                            cwd=folder, env=env).stdout)
    assert_report_matches(report, expected)
    by_app = json.loads(run([installed.podcast, "stats", "report", "--format", "json",
                             "--by", "app"], cwd=folder, env=env).stdout)
    assert len(by_app["rows"]) == 3
    assert sum(row["downloads"] for row in by_app["rows"]) == expected.downloads

    again = run([installed.podcast, "stats", "ingest", ".podcast/access.log"], cwd=folder,
                env=env)
    assert "0 read, 1 already ingested" in again.stdout
    assert json.loads(run([installed.podcast, "stats", "report", "--format", "json"],
                          cwd=folder, env=env).stdout) == report


def test_html_report(installed: Install, published_locally: Path, listened: Listening) -> None:
    """``podcast stats report --html report.html`` writes one self-contained page (charts
    inline, nothing fetched from anywhere) with the totals and every episode title."""
    folder, env = published_locally, installed.env()
    run([installed.podcast, "stats", "ingest", ".podcast/access.log"], cwd=folder, env=env)
    expected = model(listened.requests, local_media(folder))
    run([installed.podcast, "stats", "report", "--html", "report.html"], cwd=folder, env=env)
    path = folder / "report.html"
    assert path.is_file()
    raw = path.read_text(encoding="utf-8")
    assert "http://" not in raw and "https://" not in raw
    page = PageText.of(path)
    assert page.urls, "the charts are inline images"
    assert all(url.startswith(("data:", "#")) for url in page.urls), page.urls
    assert "script" not in page.tags
    assert re.search(r'id="total-downloads">\s*' + str(expected.downloads) + r"\s*<", raw)
    for title in episode_titles().values():
        assert title in page.text


# --- B. the nightly workflow against a local S3 server -------------------------------------

#: Times in the logs: a fixed month, so later nights add to the same listener-hash month.
NOV20 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NOV21 = datetime(2026, 11, 21, 19, 30, tzinfo=UTC)
NOV22 = datetime(2026, 11, 22, 6, 45, tzinfo=UTC)
#: The user publishes before episode 3's date (2026-11-30 06:00 UTC): it (and episode 4,
#: the same evening) is uploaded but scheduled, and the first nightly run after that date
#: puts them in the feed.
PUBLISHED_AT = "2026-11-25T12:00:00Z"
S = timedelta(seconds=1)


@dataclass
class Step:
    """One ``run:`` step as the runner ran it."""

    name: str
    script: str
    returncode: int
    output: str  # stdout and stderr, interleaved as in the job log
    seconds: float


@dataclass
class Night:
    """One run of the job: its steps, and every object of the buckets before and after."""

    steps: list[Step]
    before: dict[str, tuple]
    after: dict[str, tuple]
    runner: Path | None = None  # the runner's workspace (what the artifact step uploads)

    def step(self, command: str) -> Step:
        """The step whose script runs ``command``; fails when it did not run."""
        found = [s for s in self.steps if command in s.script]
        assert len(found) == 1, f"no step running `{command}` ran:\n{self.log}"
        return found[0]

    @property
    def log(self) -> str:
        """The job log (each step's last 3,000 characters: pip is chatty)."""
        return "\n".join(f"--- {s.name} (exit {s.returncode}, {s.seconds:.1f} s)\n"
                         f"{s.output[-3000:]}" for s in self.steps)


EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def expand(text: str, repo_secrets: dict[str, str]) -> str:
    """Actions' ``${{ secrets.NAME }}`` (empty when the secret is not set); any other
    expression fails the test, so a changed workflow is never half-simulated."""

    def value(match: re.Match) -> str:
        name = re.fullmatch(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", match.group(1))
        assert name, f"the simulation cannot evaluate ${{{{ {match.group(1)} }}}}"
        return repo_secrets.get(name.group(1), "")

    return EXPRESSION.sub(value, str(text))


def read_github_env(path: Path) -> dict[str, str]:
    """``NAME=value`` and ``NAME<<DELIMITER`` … ``DELIMITER`` lines of ``$GITHUB_ENV``."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for more in lines:
                if more == delimiter:
                    break
                body.append(more)
            values[name] = "\n".join(body)
        elif line:
            name, _, value = line.partition("=")
            values[name] = value
    return values


def run_workflow(runner: Path, python: Path, repo_secrets: dict[str, str]) -> list[Step]:
    """Every ``run:`` step of the ``feed`` job, in order, the way GitHub Actions runs it.

    ``uses:`` steps are what the runner folder and ``python`` already stand for (checkout,
    setup-python).  Each script runs with ``bash -eo pipefail -c`` in the runner folder; its
    environment is the runner's, plus what earlier steps appended to ``$GITHUB_ENV``, plus
    the job's ``env:``, plus the step's ``env:``.  A failing step ends the job.
    """
    job = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["feed"]
    temp = runner.parent / "runner-temp"
    temp.mkdir()
    github_env = temp / "github_env"
    exported: dict[str, str] = {}
    done: list[Step] = []
    for index, step in enumerate(job["steps"]):
        if "uses" in step:
            continue
        unknown = set(step) - {"name", "run", "env"}
        assert not unknown, f"the simulation does not know the step keys {unknown}"
        github_env.write_text("")
        env = clean_env(python.parent, CI="true", GITHUB_ACTIONS="true",
                        GITHUB_WORKSPACE=str(runner), GITHUB_ENV=str(github_env),
                        RUNNER_TEMP=str(temp))
        env.update(exported)
        for scope in (job.get("env") or {}, step.get("env") or {}):
            env.update({name: expand(value, repo_secrets) for name, value in scope.items()})
        script = expand(step["run"], repo_secrets)
        started = time.monotonic()
        result = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=runner, env=env,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                timeout=600)
        exported.update(read_github_env(github_env))
        done.append(Step(step.get("name", f"step {index}"), script, result.returncode,
                         result.stdout, time.monotonic() - started))
        if result.returncode:
            break
    return done


def run_steps() -> list[str]:
    """The workflow's ``run:`` scripts (what a full night runs)."""
    job = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["feed"]
    return [step["run"] for step in job["steps"] if "run" in step]


def bucket_state(client, *buckets: str) -> dict[str, tuple]:
    """Every object of the buckets: ``BUCKET/KEY`` -> (ETag, LastModified)."""
    objects = {}
    for bucket in buckets:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                objects[f"{bucket}/{item['Key']}"] = (item["ETag"], item["LastModified"])
    return objects


@dataclass
class S3Show:
    """The show published to the moto bucket, and the repository's secrets."""

    server: object
    state_bucket: str
    config: str  # the podcast.yaml the user commits
    secrets: dict[str, str]
    root: Path
    laptop: Path  # the user's show folder, where they published from
    install: Install
    #: What actions/setup-python gives: a Python without podcast.  The first night's Install
    #: step installs podcast and every dependency into it; later nights' reinstall podcast
    #: from their own checkout (pip always rebuilds a local folder), dependencies already
    #: there, much as setup-python's pip cache spares the downloads.
    python: Path
    nights: int = 0

    @property
    def client(self):
        return self.server.client()

    @property
    def buckets(self) -> tuple[str, str]:
        return (self.server.bucket, self.state_bucket)

    def media(self) -> dict[str, dict]:
        """Media key (inside the store) -> manifest entry, from the bucket."""
        body = self.client.get_object(Bucket=self.server.bucket,
                                      Key="show/.podcast/manifest.json")["Body"].read()
        return {m["key"]: m for m in json.loads(body)["media"].values()}

    def feed(self):
        body = self.client.get_object(Bucket=self.server.bucket, Key="show/feed.xml")
        return feedparser.parse(body["Body"].read())

    def put_log(self, name: str, requests: list[Request]) -> None:
        """An S3 server access log file, as S3 delivers it to the logs prefix."""
        self.client.put_object(Bucket=self.server.bucket, Key=f"logs/{name}",
                               Body=s3_log(requests, bucket=self.server.bucket,
                                           prefix="show/").encode())

    def night(self, **secret_changes: str) -> Night:
        """A scheduled run in a fresh runner folder (the tracked files and the user's
        podcast.yaml: no .podcast/, no public/) with the runner's Python: every ``run:``
        step of the workflow, and the buckets' objects before and after."""
        self.nights += 1
        base = self.root / f"night-{self.nights}"
        runner = copy_checkout(base / "work", untracked=False)
        assert not (runner / ".podcast").exists() and not (runner / "public").exists()
        (runner / "podcast.yaml").write_text(self.config, encoding="utf-8")
        before = bucket_state(self.client, *self.buckets)
        steps = run_workflow(runner, self.python, {**self.secrets, **secret_changes})
        return Night(steps, before, bucket_state(self.client, *self.buckets), runner)

    def stored_report(self) -> dict:
        """``podcast stats report --format json`` on the user's own machine, from the
        database the nightly job keeps in PODCAST_STATE_URL."""
        folder = self.root / f"laptop-report-{secrets.token_hex(3)}"
        demo_show(folder, self.config)
        env = self.install.env(**self.server.env(),
                               PODCAST_STATE_URL=self.secrets["PODCAST_STATE_URL"])
        done = run([self.install.podcast, "stats", "report", "--format", "json"],
                   cwd=folder, env=env)
        assert "fetched the stats database from" in done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def s3_show(installed: Install, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Show]:
    """moto's S3 server; the user publishes the demo show to ``s3://BUCKET/show`` from the
    regular install (before episode 3's date), with a private bucket for the stats state."""
    root = tmp_path_factory.mktemp("nightly")
    with moto_s3() as server:
        state_bucket = f"{server.bucket}-state"
        server.client().create_bucket(Bucket=state_bucket)
        config = demo_config(storage=f"s3://{server.bucket}/show",
                             base_url=server.object_url("show"))
        laptop = demo_show(root / "laptop", config)
        run([sys.executable, "-m", "venv", root / "runner-python"], cwd=root,
            env=clean_env(Path(sys.executable).parent))
        python = root / "runner-python" / "bin" / "python"
        bare = run([python, "-c", "import podcast"], cwd=root, env=clean_env(python.parent),
                   check=False)
        assert bare.returncode != 0, "the runner's Python must start without podcast"
        run([installed.podcast, "publish", "--all", "--now", PUBLISHED_AT], cwd=laptop,
            env=installed.env(**server.env()))
        repo_secrets = {
            "AWS_ACCESS_KEY_ID": server.env()["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": server.env()["AWS_SECRET_ACCESS_KEY"],
            "AWS_DEFAULT_REGION": server.env()["AWS_DEFAULT_REGION"],
            "AWS_ENDPOINT_URL": server.endpoint,
            "PODCAST_LOGS_URL": f"s3://{server.bucket}/logs/",
            "PODCAST_STATE_URL": f"s3://{state_bucket}/stats",
            "PODCAST_IP_SECRET": secrets.token_hex(32),
        }
        # The user commits podcast.yaml as publish left it (it may add podcast:guid).
        yield S3Show(server, state_bucket, (laptop / "podcast.yaml").read_text("utf-8"),
                     repo_secrets, root, laptop, installed, python)


def nov20_21_traffic(media: dict[str, str]) -> dict[str, list[Request]]:
    """Two days of S3 access logs: apps, a re-download, byte ranges, a probe, a crawler,
    a HEAD, a 304 and the feed itself.  ``media``: slug -> key; sizes from the manifest."""
    ep1, ep2 = media["001-sonia-mamin"], media["002-marc-olivier"]
    return {
        "2026-11-20-08-15-03-3F2A9C1B7D6E5A40": [
            Request(NOV20, "192.0.2.10", APPLE, ep1, sent=-1),
            Request(NOV20 + 9 * S, "198.51.100.7", OVERCAST, ep1, sent=-1),
            ranged(NOV20 + 20 * S, "198.51.100.7", OVERCAST, 0, 300_000, key=ep2),
            ranged(NOV20 + 21 * S, "198.51.100.7", OVERCAST, 300_000, -1, key=ep2),
            Request(NOV20 + 30 * S, "203.0.113.5", POCKETCASTS, ep2, sent=-1),
            Request(NOV20 + 90 * S, "203.0.113.5", POCKETCASTS, ep2, sent=-1),
            ranged(NOV20 + 40 * S, "192.0.2.11", APPLE, 0, 2, key=ep1),
            Request(NOV20 + 50 * S, "192.0.2.12", GOOGLEBOT, ep1, sent=-1),
            Request(NOV20 + 60 * S, "192.0.2.13", OVERCAST, ep2, method="HEAD"),
            Request(NOV20 + 70 * S, "192.0.2.14", APPLE, ep1, status=304),
            Request(NOV20 + 80 * S, "192.0.2.10", APPLE, "feed.xml", sent=8_000),
        ],
        "2026-11-21-19-40-11-8C1D2E3F4A5B6C7D": [
            Request(NOV21, "192.0.2.10", APPLE, ep1, sent=-1),
            ranged(NOV21 + 5 * S, "198.51.100.7", OVERCAST, 0, 100_000, key=ep1),
        ],
    }


def sized(requests: list[Request], media_by_key: dict[str, dict]) -> list[Request]:
    """``sent=-1`` means "the rest of the file": the whole file, or from a range's start."""
    out = []
    for r in requests:
        if r.sent == -1:
            size = media_by_key[r.key]["bytes"]
            start = r.range[0] if r.range else 0
            r = Request(r.when, r.ip, r.agent, r.key, r.method, r.status, size - start,
                        (start, size - 1) if r.range else None)
        out.append(r)
    return out


@pytest.fixture(scope="module")
def first_night(s3_show: S3Show) -> tuple[Night, list[Request]]:
    """Two days of access logs have landed; the nightly job runs for the first time."""
    media_by_key = s3_show.media()
    traffic = nov20_21_traffic({m["slug"]: key for key, m in media_by_key.items()})
    every = []
    for name, requests in traffic.items():
        requests = sized(requests, media_by_key)
        s3_show.put_log(name, requests)
        every += requests
    return s3_show.night(), every


@pytest.mark.s3
def test_the_user_publishes_to_s3(s3_show: S3Show) -> None:
    """Before the first night: every master is in the bucket; the feed names the two
    episodes already out (episodes 3 and 4 are scheduled)."""
    media = s3_show.media()
    assert sorted(m["slug"] for m in media.values()) == list(SLUGS)
    for key, entry in media.items():
        # A scheduled episode's master waits in the private state until its time.
        scheduled = entry["slug"] in ("003-claire-dubois", "004-lea-fontaine")
        where = f"show/.podcast/staged/{key}" if scheduled else f"show/{key}"
        s3_show.client.head_object(Bucket=s3_show.server.bucket, Key=where)
    feed = s3_show.feed()
    assert not feed.bozo
    titles = episode_titles()
    assert sorted(e.title for e in feed.entries) == sorted(
        [titles["001-sonia-mamin"], titles["002-marc-olivier"]])


@pytest.mark.s3
def test_first_night_rebuilds_the_feed_and_counts(s3_show: S3Show, first_night) -> None:
    """Every step exits 0; episodes 3 and 4 go live (feed and pages uploaded); the logs are
    ingested, the database is stored in PODCAST_STATE_URL, and the report prints the
    downloads of the model; no secret appears in the job log."""
    night, requests = first_night
    assert [s.returncode for s in night.steps] == [0] * len(run_steps()), night.log
    # `pip install .` installed podcast and its dependencies into the bare runner Python.
    assert re.search(r"Successfully installed .*\bduckdb-.*\bpodcast-",
                     night.step("pip install").output), night.log
    feed_step = night.step("podcast feed --upload")
    assert "uploaded" in feed_step.output and "feed.xml" in feed_step.output, night.log
    bucket = s3_show.server.bucket
    assert night.after[f"{bucket}/show/feed.xml"] != night.before[f"{bucket}/show/feed.xml"]
    assert f"{bucket}/show/episodes/003-claire-dubois.html" not in night.before
    assert f"{bucket}/show/episodes/003-claire-dubois.html" in night.after
    released = next(key for key, m in s3_show.media().items()
                    if m["slug"] == "003-claire-dubois")
    assert f"{bucket}/show/{released}" in night.after  # released from the staging area
    assert f"{bucket}/show/.podcast/staged/{released}" not in night.after
    assert sorted(e.title for e in s3_show.feed().entries) == sorted(
        episode_titles().values())

    expected = model(requests, s3_show.media())
    assert (expected.downloads, expected.listeners) == (5, {"2026-11": 3})
    stats = night.step("podcast stats ingest").output
    assert "files: 2 read, 0 already ingested, 0 skipped" in stats, night.log
    assert f"downloads: {expected.downloads} added" in stats
    assert f"stored the stats database in {s3_show.secrets['PODCAST_STATE_URL']}" in stats
    assert re.search(rf"Downloads: {expected.downloads}\s+{listeners_text(expected)}\b",
                     stats), stats
    assert f"{s3_show.state_bucket}/stats/stats.duckdb" in night.after

    assert_report_matches(s3_show.stored_report(), expected)
    # The HTML report the artifact step keeps for marketing.
    page = (night.runner / "stats-report" / "stats-report.html").read_text(encoding="utf-8")
    assert f'id="total-downloads">{expected.downloads}<' in page
    job_log = "".join(s.output for s in night.steps)
    for name in ("AWS_SECRET_ACCESS_KEY", "PODCAST_IP_SECRET"):
        assert s3_show.secrets[name] not in job_log, f"{name} is in the job log"


@pytest.fixture(scope="module")
def second_night(s3_show: S3Show, first_night) -> Night:
    """No new log since; the job runs again on a fresh runner."""
    return s3_show.night()


@pytest.mark.s3
def test_second_night_changes_nothing(s3_show: S3Show, first_night, second_night: Night,
                                      ) -> None:
    """Every step exits 0; nothing is uploaded to the show or the state bucket (same
    objects, ETags and modification times); the ingest skips the known logs and the
    report is the first night's."""
    night = second_night
    assert [s.returncode for s in night.steps] == [0] * len(run_steps()), night.log
    assert "feed and pages unchanged" in night.step("podcast feed --upload").output
    stats = night.step("podcast stats ingest").output
    assert "files: 0 read, 2 already ingested, 0 skipped" in stats, night.log
    assert "stored the stats database" not in stats
    assert night.after == night.before

    def report_text(output: str) -> str:
        start = output.index("Salons & Rencontres")
        return output[start:output.index("Targets on", start)]

    first = first_night[0].step("podcast stats ingest").output
    assert report_text(stats) == report_text(first)


NOV22_LOG = "2026-11-22-06-50-27-5E6F7A8B9C0D1E2F"


def nov22_traffic(media_by_key: dict[str, dict]) -> list[Request]:
    """A later log of the same month: a returning listener and a new one."""
    by_slug = {m["slug"]: key for key, m in media_by_key.items()}
    return sized([Request(NOV22, "192.0.2.10", APPLE, by_slug["002-marc-olivier"], sent=-1),
                  Request(NOV22 + S, "192.0.2.77", SPOTIFY, by_slug["001-sonia-mamin"],
                          sent=-1)], media_by_key)


def assert_refused(s3_show: S3Show, night: Night, *words: str) -> None:
    """The feed steps pass, the ingest step fails saying why with a ``fix:``, and the
    stored stats database is the one from before (nothing else changed either)."""
    ingest = night.step("podcast stats ingest")
    assert ingest.returncode != 0, night.log
    assert night.steps[-1] is ingest, night.log
    assert all(s.returncode == 0 for s in night.steps[:-1]), night.log
    for word in words:
        assert word in ingest.output, ingest.output
    assert "fix:" in ingest.output
    assert "Traceback" not in ingest.output
    assert night.after == night.before  # the database in the state bucket is untouched


@pytest.fixture(scope="module")
def lost_secret_night(s3_show: S3Show, second_night: Night) -> Night:
    """A log for the same month lands; the PODCAST_IP_SECRET secret was deleted (Actions
    then gives an empty value)."""
    s3_show.put_log(NOV22_LOG, nov22_traffic(s3_show.media()))
    return s3_show.night(PODCAST_IP_SECRET="")


@pytest.mark.s3
def test_a_deleted_ip_secret_is_refused(s3_show: S3Show, lost_secret_night: Night) -> None:
    """Without the secret, new listener hashes would count November's listeners again:
    the ingest refuses and says what to do; the stored database is unchanged."""
    assert_refused(s3_show, lost_secret_night, "PODCAST_IP_SECRET")


@pytest.fixture(scope="module")
def changed_secret_night(s3_show: S3Show, lost_secret_night: Night) -> Night:
    """The user set the secret again, to a new random value."""
    return s3_show.night(PODCAST_IP_SECRET=secrets.token_hex(32))


@pytest.mark.s3
def test_a_changed_ip_secret_is_refused(s3_show: S3Show, changed_secret_night: Night) -> None:
    """A different secret gives different November keys: refused, database unchanged."""
    assert_refused(s3_show, changed_secret_night, "listener-hash key", "2026-11")


@pytest.fixture(scope="module")
def restored_secret_night(s3_show: S3Show, first_night, changed_secret_night: Night) -> Night:
    """The original secret is restored."""
    return s3_show.night()


@pytest.mark.s3
def test_the_restored_secret_counts_the_new_log(s3_show: S3Show, first_night,
                                                 restored_secret_night: Night) -> None:
    """With the secret back, the refused log is ingested (it was never marked as read), the
    returning listener is recognised as the same November listener, and the stored
    database has the new downloads."""
    night = restored_secret_night
    assert [s.returncode for s in night.steps] == [0] * len(run_steps()), night.log
    media_by_key = s3_show.media()
    expected = model(first_night[1] + nov22_traffic(media_by_key), media_by_key)
    assert (expected.downloads, expected.listeners) == (7, {"2026-11": 4})
    stats = night.step("podcast stats ingest").output
    assert "files: 1 read, 2 already ingested, 0 skipped" in stats, night.log
    assert "downloads: 2 added" in stats
    state_key = f"{s3_show.state_bucket}/stats/stats.duckdb"
    assert night.after[state_key] != night.before[state_key]
    assert_report_matches(s3_show.stored_report(), expected)
