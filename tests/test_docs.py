"""The README documents the code as it is: every key `podcast.yaml` and `episode.md` accept is
named in the README's tables, and no key there is one the code refuses; every module under
`podcast/` is in the module table (docs/modules.md, linked from the README); the README's
links to docs/ lead somewhere.
"""

from __future__ import annotations

import configparser
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import podcast
from podcast import config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
MODULES = Path(__file__).resolve().parent.parent / "docs" / "modules.md"


def _section(heading: str) -> str:
    start = README.index(f"\n## {heading}")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def _table(section: str) -> dict[str, str]:
    """``{key: meaning}`` of a two-column table; a row naming several keys gives each."""
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or cells[0] in ("key", "---"):
            continue
        for key in re.findall(r"`([a-z_]+)`", cells[0]):
            rows[key] = " | ".join(cells[1:])
    return rows


SHOW = _table(_section("The show: `podcast.yaml`"))
EPISODE = _table(_section("An episode: `episodes/<slug>/episode.md`"))


def _named(text: str) -> set[str]:
    return set(re.findall(r"`?\b([a-z_]+)\b`?", text))


def test_the_show_table_names_every_key_of_podcast_yaml_and_no_other():
    assert set(SHOW) == config.SHOW_KEYS


def test_the_episode_table_names_every_front_matter_key_and_no_other():
    assert set(EPISODE) == config.EPISODE_KEYS


@pytest.mark.parametrize(("row", "keys"), [
    ("audio", config.AUDIO_KEYS),
    ("targets", config.TARGET_KEYS),
    ("hosts", config.PERSON_KEYS),
])
def test_nested_keys_are_named_in_their_row(row: str, keys: set[str]):
    assert keys <= _named(SHOW[row])


def test_chapter_keys_are_named_in_the_episode_table():
    assert config.CHAPTER_KEYS <= _named(EPISODE["chapters"])


def test_required_keys_are_said_to_be_required():
    assert "required" in SHOW["title"] and "required" in EPISODE["title"]
    assert set(config.REQUIRED_SHOW_KEYS) <= set(SHOW)


# --- The module table (docs/modules.md) ----------------------------------------------------
# A newcomer finds every module there: a module is named by its own row (`podcast/x.py`) or,
# inside a sub-package, by its bare name in the package's row (`podcast/audio/` ... `cleanup`).

PACKAGE = Path(podcast.__file__).resolve().parent
ROOT = PACKAGE.parent


def _module_rows() -> dict[str, str]:
    """``{path: job}`` of the module table; a row naming several paths gives each."""
    rows = {}
    for line in MODULES.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2:
            for path in re.findall(r"`(podcast/[\w/]*?(?:\.py|/))`", cells[0]):
                rows[path] = cells[1]
    return rows


def _modules(folder: Path = PACKAGE) -> list[str]:
    """Every module and sub-package under ``folder``, as repository paths (``podcast/x.py``,
    ``podcast/audio/``), found on disk without importing them (so a module that fails to
    import is still listed)."""
    found = []
    for info in pkgutil.iter_modules([str(folder)]):
        path = folder / info.name
        if info.ispkg:
            found.append(f"{path.relative_to(ROOT).as_posix()}/")
            found += _modules(path)
        else:
            found.append(f"{path.relative_to(ROOT).as_posix()}.py")
    return found


def _named_in_row(module: str, rows: dict[str, str]) -> bool:
    """Whether ``module`` has its own row, or the row of a package it is in names it."""
    if module in rows:
        return True
    parts = module.rstrip("/").removesuffix(".py").split("/")
    for depth in range(len(parts) - 1, 1, -1):
        package = "/".join(parts[:depth]) + "/"
        if package in rows:
            inner = ".".join(parts[depth:])
            return f"`{inner}`" in rows[package] or f"`{inner}.py`" in rows[package]
    return False


MODULE_ROWS = _module_rows()


def test_the_module_table_finds_modules_by_either_kind_of_row():
    rows = {"podcast/a.py": "x", "podcast/pkg/": "steps: `one` (first), `two.py`"}
    assert _named_in_row("podcast/a.py", rows)
    assert _named_in_row("podcast/pkg/", rows)
    assert _named_in_row("podcast/pkg/one.py", rows)
    assert _named_in_row("podcast/pkg/two.py", rows)
    assert not _named_in_row("podcast/pkg/three.py", rows)
    assert not _named_in_row("podcast/b.py", rows)
    assert not _named_in_row("podcast/other/one.py", rows)


def test_the_walk_finds_modules_at_every_depth():
    walked = set(_modules())
    on_disk = {path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*.py")
               if path.name != "__init__.py"}
    on_disk |= {f"{path.parent.relative_to(ROOT).as_posix()}/"
                for path in PACKAGE.rglob("__init__.py") if path.parent != PACKAGE}
    assert walked == on_disk


@pytest.mark.parametrize("module", _modules())
def test_every_module_is_in_the_readme_module_table(module: str):
    assert _named_in_row(module, MODULE_ROWS), (
        f"{module} is not in the module table of docs/modules.md: "
        "add a row, or name it in its package's row")


def test_every_path_in_the_module_table_exists():
    missing = [path for path in MODULE_ROWS if not (ROOT / path).exists()]
    assert not missing, f"docs/modules.md's module table names what is not there: {missing}"


def test_the_readme_links_the_module_table_and_every_docs_page_it_names_exists():
    assert "(docs/modules.md)" in _section("How it fits together")
    linked = re.findall(r"\]\((docs/[\w.-]+)\)", README)
    assert {"docs/modules.md", "docs/security.md", "docs/multitrack.md"} <= set(linked)
    assert [page for page in linked if not (ROOT / page).is_file()] == []


# --- Markers and the quick command (README "Set up") ---------------------------------------
# The everyday loop leaves out four kinds of test by marker; a marker nobody registered (a
# typo) must fail, not silently select nothing.

KINDS = ("slow", "browser", "s3", "audio")
TESTS = ROOT / "tests"


def _pytest_ini() -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser["tool:pytest"]


def _run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """pytest on ``folder`` with the repository's setup.cfg and tests/conftest.py."""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "setup.cfg"), "--rootdir",
         str(folder), "-p", "conftest", "-p", "no:cacheprovider", *args, str(folder)],
        capture_output=True, text=True, env=env, cwd=folder, timeout=120, check=False)


def test_the_kinds_are_registered_and_strict_markers_is_on():
    ini = _pytest_ini()
    registered = {line.split(":")[0].strip() for line in ini["markers"].splitlines() if line}
    assert {*KINDS, "integration"} <= registered
    assert "--strict-markers" in ini["addopts"].split()


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_marks_some_test(kind: str):
    """A kind nobody uses would make the quick subset leave out nothing."""
    texts = [path.read_text(encoding="utf-8") for path in TESTS.glob("test_*.py")]
    assert any(re.search(rf"\bpytest\.mark\.{kind}\b", text) for text in texts)


@pytest.fixture(scope="module")
def marked_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    """One collection (``-m browser``) of a test using the browser fixture, a plain test and
    a test whose marker is misspelt, with the repository's pytest configuration."""
    folder = tmp_path_factory.mktemp("marked")
    (folder / "test_kinds.py").write_text(
        "def test_page(browser):\n    pass\n\n\ndef test_plain():\n    pass\n",
        encoding="utf-8")
    (folder / "test_typo.py").write_text(
        "import pytest\n\n\n@pytest.mark.slwo\ndef test_x():\n    pass\n", encoding="utf-8")
    return _run_pytest(folder, "-q", "--collect-only", "-m", "browser",
                       "--continue-on-collection-errors")


def test_a_misspelt_marker_fails_collection(marked_run: subprocess.CompletedProcess):
    assert marked_run.returncode != 0
    assert "'slwo' not found in `markers` configuration option" in marked_run.stdout


def test_a_test_using_the_browser_fixture_is_marked_browser(
        marked_run: subprocess.CompletedProcess):
    assert "test_kinds.py::test_page" in marked_run.stdout, marked_run.stdout
    assert "test_plain" not in marked_run.stdout


def test_the_readme_and_the_quick_script_leave_out_the_same_kinds():
    quick = (ROOT / "scripts" / "quick.sh").read_text(encoding="utf-8")
    expression = " and ".join(f"not {kind}" for kind in KINDS)
    assert f'-m "{expression}"' in quick
    setup = _section("Set up (fresh machine")
    assert "scripts/quick.sh" in setup and expression in setup
