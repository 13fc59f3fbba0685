"""Stopping a run: SIGTERM (a CI runner's cancel, `kill`, systemd) and SIGINT (Ctrl-C) end
every ffmpeg the run started and leave no temp file, in `podcast master`, `podcast publish`
and `podcast stats ingest`.

Each test starts the real command, waits until the ffmpeg of the phase it wants is running,
sends the signal and then looks for what a user would find: a process still running, a
hidden temp MP3 beside the output, a work folder in the temp directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from audio_fixtures import run_ffmpeg

pytestmark = pytest.mark.audio

PODCAST = [sys.executable, "-c", "from podcast.cli import main; main()"]
#: A phase's ffmpeg, told apart by its command line.
PHASES = {"analysis": "framelog=info", "encode": "alimiter"}


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory) -> Path:
    """Ten minutes of speech-band noise in phrases (2 s on, 1.3 s of pause 26 dB down, so
    it is not refused as noise without speech): long enough to be stopped in any phase."""
    path = tmp_path_factory.mktemp("long") / "long.wav"
    run_ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=600:c=pink:r=44100:a=0.05:seed=9",
               "-af", "highpass=f=100,lowpass=f=6000,"
                      "volume='0.025+0.5*gt(sin(2*PI*0.3*t),-0.5)':eval=frame",
               "-c:a", "pcm_s16le", str(path))
    return path


@pytest.fixture
def long_show(demo_show: Path, long_recording: Path) -> Path:
    """The demo show whose first episode is the ten-minute recording."""
    folder = demo_show.parent / "episodes" / "001-sonia-mamin"
    os.link(long_recording, folder / "long.wav")
    episode = folder / "episode.md"
    episode.write_text(episode.read_text().replace("audio: interview.mp3", "audio: long.wav"))
    return demo_show


def _start(args: list[str], cwd: Path, tmpdir: Path) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.Popen([*PODCAST, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_phase(process: subprocess.Popen, phase: str) -> list[psutil.Process]:
    """The run's children once an ffmpeg of ``phase`` runs among them."""
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        children = parent.children(recursive=True)
        try:
            if any(PHASES[phase] in " ".join(child.cmdline()) for child in children):
                return children
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no {phase} ffmpeg within 60 s")


def _stop(process: subprocess.Popen, children: list[psutil.Process], signum: int) -> str:
    process.send_signal(signum)
    _out, err = process.communicate(timeout=30)
    assert process.returncode != 0
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], f"still running after the run ended: {[p.cmdline() for p in alive]}"
    return err


def _leftovers(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("*")
            if path.name.startswith((".podcast-master-", "podcast-master-"))]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("phase", ["analysis", "encode"])
def test_a_stopped_master_leaves_no_process_and_no_temp_file(long_show, tmp_path, signum,
                                                             phase):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    output = tmp_path / "out" / "episode.mp3"
    output.parent.mkdir()
    process = _start(["--config", str(long_show), "master", "001-sonia-mamin", "-o",
                      str(output)], long_show.parent, tmpdir)
    children = _wait_for_phase(process, phase)
    err = _stop(process, children, signum)
    assert "Traceback" not in err
    assert not output.exists() and not output.with_suffix(".json").exists()
    assert _leftovers(output.parent, tmpdir) == []


def test_a_publish_stopped_while_mastering_leaves_no_process_no_temp_and_no_feed(
        long_show, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    process = _start(["--config", str(long_show), "publish", "--all"], long_show.parent, tmpdir)
    children = _wait_for_phase(process, "encode")
    err = _stop(process, children, signal.SIGTERM)
    assert "Traceback" not in err
    state = long_show.parent / ".podcast"
    assert _leftovers(state, tmpdir) == []
    assert not (long_show.parent / "public" / "feed.xml").exists()


def _ingest(config: Path, log: Path) -> None:
    done = subprocess.run([*PODCAST, "--config", str(config), "stats", "ingest", str(log)],
                          capture_output=True, text=True, cwd=config.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def _report(config: Path) -> dict:
    done = subprocess.run([*PODCAST, "--config", str(config), "stats", "report", "--format",
                           "json"], capture_output=True, text=True, cwd=config.parent)
    assert done.returncode == 0, done.stderr
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError(done.stdout[:500]) from None


def test_an_ingest_stopped_by_sigterm_leaves_no_temp_file_and_counts_once(demo_show, tmp_path):
    done = subprocess.run([*PODCAST, "--config", str(demo_show), "publish", "--all"],
                          capture_output=True, text=True, cwd=demo_show.parent)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((demo_show.parent / "public" / ".podcast" / "manifest.json").read_text())
    keys = [entry["key"] for entry in manifest["media"].values()]
    log = tmp_path / "access.log"
    with log.open("w") as out:
        for i in range(300_000):
            out.write(f'10.{i % 250}.{i // 250 % 250}.{i % 7} - - [{i % 8 + 20}/Nov/2026:10:00:00'
                      f' +0000] "GET /{keys[i % len(keys)]} HTTP/1.1" 200 {900_000 + i % 999} '
                      f'"-" "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4)"\n')
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    state = demo_show.parent / ".podcast"
    process = _start(["--config", str(demo_show), "stats", "ingest", str(log)],
                     demo_show.parent, tmpdir)
    time.sleep(0.4)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert "Traceback" not in err
    leftovers = [p.name for p in [*state.iterdir(), *tmpdir.iterdir()]
                 if p.name.endswith(".tmp") or ".tmp." in p.name]
    assert leftovers == []

    # The next run finishes the work: the same figures as one uninterrupted ingest.
    _ingest(demo_show, log)
    resumed = _report(demo_show)
    for path in state.glob("stats.duckdb*"):
        path.unlink()
    _ingest(demo_show, log)
    clean = _report(demo_show)
    assert resumed["total"]["downloads"] == clean["total"]["downloads"] > 0
    assert resumed["total"] == clean["total"]
