"""`podcast publish` masters independent episodes side by side (``--jobs``, by default one
per processor) and does exactly what a run one at a time does.

The demo show (four one-minute episodes, the fourth mixed from two tracks) is published
twice from two copies, once with ``jobs=1`` and once with four at a time: the same lines
in the same order, byte-identical masters, one progress step counting the masters.  When
episodes fail, the error is the one a run one at a time raises (the first failing
episode in order) and nothing reaches the store.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from podcast.cli import main
from podcast.config import load_show
from podcast.errors import PodcastError
from podcast.publish import cores, publish
from podcast.storage import open_store, read_catalog

pytestmark = [pytest.mark.audio, pytest.mark.slow]

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)  # every demo episode is out


def _copy(config: Path, folder: Path) -> Path:
    """A second copy of the show beside the first; its podcast.yaml."""
    shutil.copytree(config.parent, folder)
    return folder / "podcast.yaml"


def _publish(config: Path, jobs: int) -> tuple[list[str], list[tuple[str, int, int]]]:
    """Publish every episode; the lines echoed and the progress calls."""
    lines: list[str] = []
    calls: list[tuple[str, int, int]] = []
    publish(load_show(config), [], dry_run=False, storage_url=None, now=NOW,
            echo=lines.append, progress=lambda label, done, total: calls.append(
                (label, done, total)), jobs=jobs)
    return lines, calls


def _media(config: Path) -> dict[str, tuple[str, int]]:
    show = load_show(config)
    catalog = read_catalog(open_store(show.storage, show.root))
    return {slug: (entry.sha256, entry.bytes) for slug, entry in catalog.media.items()}


def test_side_by_side_publishes_what_one_at_a_time_does(demo_show: Path, tmp_path: Path):
    other = _copy(demo_show, tmp_path / "other")
    one_lines, one_calls = _publish(demo_show, jobs=1)
    many_lines, many_calls = _publish(other, jobs=4)

    assert many_lines == one_lines
    assert [line for line in many_lines if line.startswith("mastering")] == [
        f"mastering {slug}..." for slug in sorted(_media(demo_show))]
    assert _media(other) == _media(demo_show)
    assert len(_media(other)) == 4
    # One at a time, each master's own steps; side by side, one step counting masters.
    assert any(label.startswith("analysing") for label, _, _ in one_calls)
    assert not any("side by side" in label for label, _, _ in one_calls)
    together = [(done, total) for label, done, total in many_calls
                if label == "mastering 4 episodes side by side"]
    assert together == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert not any(label.startswith(("analysing", "calibrating"))
                   for label, _, _ in many_calls)


def _break(config: Path, slug: str, name: str) -> None:
    (config.parent / "episodes" / slug / name).write_bytes(b"this is no audio file " * 100)


def test_the_first_failing_episode_in_order_is_the_error_and_nothing_is_stored(
        demo_show: Path, tmp_path: Path):
    _break(demo_show, "002-marc-olivier", "interview.m4a")
    _break(demo_show, "004-lea-fontaine", "guest.mp3")
    other = _copy(demo_show, tmp_path / "other")
    # Two at a time, the longest first: 004 (two tracks) begins before 002 and fails
    # first, yet 002 still runs, and its error is the one raised.
    third = _copy(demo_show, tmp_path / "third")
    with pytest.raises(PodcastError) as alone:
        _publish(demo_show, jobs=1)
    with pytest.raises(PodcastError) as together:
        _publish(other, jobs=4)
    with pytest.raises(PodcastError) as by_two:
        _publish(third, jobs=2)

    assert "002-marc-olivier" in str(alone.value) or "interview.m4a" in str(alone.value)
    for config, error in ((other, together), (third, by_two)):
        assert str(error.value) == str(alone.value).replace(str(demo_show.parent),
                                                             str(config.parent))
    for config in (demo_show, other, third):
        public = config.parent / "public"
        assert not public.exists() or sorted(p.name for p in public.rglob("*")
                                             if p.is_file()) == []


def test_jobs_on_the_command_line(demo_show: Path):
    runner = CliRunner()
    refused = runner.invoke(main, ["--config", str(demo_show), "publish", "--jobs", "0"])
    assert refused.exit_code == 2 and "--jobs" in refused.output
    done = runner.invoke(main, ["--config", str(demo_show), "publish", "--all", "--jobs", "2",
                                "--now", NOW.isoformat()])
    assert done.exit_code == 0, done.output
    assert done.output.count("mastering ") == 4
    assert "feed: 4 episode(s) live" in done.output


def test_cores_is_what_this_process_may_run_on():
    import os

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    assert cores() == expected


def test_stopping_a_job_ends_the_children_of_jobs_opened_in_its_threads():
    """What lets Ctrl-C end every master's ffmpeg: each master opens its own job in a
    worker thread; stopping the publish's job ends their children, and a child started
    after that is ended at once."""
    import contextvars
    import subprocess
    import threading

    from podcast import binaries

    started: list[subprocess.Popen] = []
    ready, stopped, late = threading.Event(), threading.Event(), []

    def master() -> None:
        with binaries.job():  # as audio.master does in each worker thread
            started.append(binaries.popen(["sleep", "30"]))
            ready.set()
            stopped.wait(10)
            late.append(binaries.popen(["sleep", "30"]))
            started[0].wait(10)

    with binaries.job():
        worker = threading.Thread(target=contextvars.copy_context().run, args=(master,))
        worker.start()
        assert ready.wait(10)
    # The outer job is over (as when Ctrl-C unwinds publish): the inner child is gone.
    assert started[0].poll() is not None
    stopped.set()
    worker.join(10)
    assert late and late[0].poll() is not None  # started after the stop: ended at once
