"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent

# No hypothesis test has a time limit per example (its default "deadline" is 200 ms of
# wall-clock time, which a busy CI machine exceeds without any defect): the "ci" profile,
# loaded unless HYPOTHESIS_PROFILE names another ("dev" keeps hypothesis's deadline, to
# look for slow examples on an idle machine).
settings.register_profile("ci", deadline=None)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """``PODCAST_TEST_SEED`` seeds hypothesis too (unless ``--hypothesis-seed`` is given).

    So one seed replays every random choice of a run, and CI (which sets it) tries the same
    examples on every clean clone instead of new ones each time; without it, hypothesis
    picks new examples on each run, which is how local runs keep exploring.
    """
    seed = os.environ.get("PODCAST_TEST_SEED")
    if seed and config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = seed


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """With ``PODCAST_REQUIRE_TOOLS=1`` (CI), a test skipped because a tool it runs the
    product with is missing (Chromium, Node packages, …: a reason starting "needs") fails:
    a clean machine that lacks one must not pass by skipping what users run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("PODCAST_REQUIRE_TOOLS") == "1" and report.skipped:
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple)
                     else report.longrepr)
        if reason.removeprefix("Skipped: ").startswith("needs"):
            report.outcome = "failed"
            report.longrepr = f"required tool missing on CI: {reason}"


#: Debian's Chromium, the browser the page and report tests drive through Playwright.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session, started as this machine allows it (no
    sandbox as root, no background networking on a closed network) and allowed to play
    audio without a click."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        yield launched
        launched.close()


@pytest.fixture
def demo_show(tmp_path: Path) -> Path:
    """A private copy of the demo show (podcast.yaml, assets/, episodes/); returns its config."""
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "podcast.yaml", tmp_path / "podcast.yaml")
    return tmp_path / "podcast.yaml"


@pytest.fixture
def review(tmp_path: Path) -> Path:
    """Where screenshots go for a person to look at: ``$PODCAST_REVIEW_DIR``, else the
    test's tmp folder."""
    folder = Path(os.environ.get("PODCAST_REVIEW_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def mp3_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MP3s encoded once for the whole session (ffmpeg is the slow part)."""
    return tmp_path_factory.mktemp("mp3")


@pytest.fixture
def published(demo_show: Path, mp3_cache: Path):
    """The demo show published to a local folder (see feed_fixtures.publish_demo)."""
    from feed_fixtures import publish_demo

    return publish_demo(demo_show, mp3_cache)


#: Fixtures that make every test asking for them (directly or through another fixture) one
#: of the suite's slow kinds (setup.cfg's markers), whatever its module says: the quick
#: subset (``scripts/quick.sh``) then never starts Chromium by oversight.  Modules wholly of
#: a kind say so themselves with ``pytestmark``; tests of a mixed module, with a decorator.
KIND_OF_FIXTURE = {"browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test that uses a fixture of :data:`KIND_OF_FIXTURE` with its kind."""
    for item in items:
        for fixture, kind in KIND_OF_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()) and not item.get_closest_marker(kind):
                item.add_marker(kind)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory):
    """The checkout's wheel installed into a fresh venv, once per session
    (:func:`test_install.build_install`): the install and walkthrough tests share it."""
    from test_install import build_install

    return build_install(tmp_path_factory)
