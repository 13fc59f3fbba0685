"""`podcast doctor`: real checks of ffmpeg, the config, the episodes and the storage."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading

import pytest
from click.testing import CliRunner
from s3_servers import moto_s3

from podcast import binaries
from podcast.cli import main
from podcast.config import load_show
from podcast.doctor import check_private_state, run_checks
from podcast.serve import serving


@pytest.fixture
def fresh_binaries():
    """binaries.find caches its answer; tests that change PODCAST_FFMPEG need a clean one."""
    binaries.clear_cache()
    yield
    binaries.clear_cache()


def by_name(checks):
    return {check.name: check for check in checks}


def test_a_healthy_show_passes_every_check(demo_show):
    checks = by_name(run_checks(str(demo_show)))
    assert [name for name, check in checks.items() if not check.ok] == []
    assert checks["ffmpeg"].detail.startswith("ffmpeg version")
    assert checks["mp3 encoder"].detail == "libmp3lame"
    count = sum(1 for p in (demo_show.parent / "episodes").iterdir() if p.is_dir())
    assert f"{count} valid" in checks["episodes"].detail
    assert "write, read and delete work" in checks["storage"].detail
    # The probe object is gone again.
    public = demo_show.parent / "public"
    assert not public.exists() or not any(p.name.startswith("podcast-doctor")
                                          for p in public.iterdir())


def test_an_ffmpeg_without_mp3_is_reported_with_the_fix(demo_show, monkeypatch,
                                                        fresh_binaries):
    monkeypatch.setenv("PODCAST_FFMPEG", "/bin/echo")  # a program, but not an ffmpeg
    checks = by_name(run_checks(str(demo_show)))
    assert not checks["ffmpeg"].ok and "PODCAST_FFMPEG" in checks["ffmpeg"].detail
    assert not checks["mp3 encoder"].ok and not checks["mastering"].ok
    assert "not checked" in checks["mastering"].detail


def _fake_ffmpeg(tmp_path, monkeypatch, body: str):
    """PODCAST_FFMPEG set to a script that answers as ``body`` says and hands everything
    else to the real ffmpeg."""
    real = binaries.ffmpeg()
    script = tmp_path / "ffmpeg"
    script.write_text(f"#!/bin/sh\n{body}\nexec {real} \"$@\"\n")
    script.chmod(0o755)
    monkeypatch.setenv("PODCAST_FFMPEG", str(script))
    binaries.clear_cache()
    return script


def test_an_ffmpeg_that_refuses_the_masters_filters_fails_the_rehearsal(
        demo_show, monkeypatch, fresh_binaries, tmp_path):
    # Like a build without alimiter: `-version` and `-encoders` look fine, mastering fails.
    fake = _fake_ffmpeg(tmp_path, monkeypatch, """for arg in "$@"; do case "$arg" in *alimiter*)
  echo "[AVFilterGraph @ 0x55d0] No such filter: 'alimiter'" >&2; exit 8;; esac; done""")
    checks = by_name(run_checks(str(demo_show)))
    assert checks["ffmpeg"].ok and checks["mp3 encoder"].ok
    mastering = checks["mastering"]
    assert not mastering.ok
    assert "No such filter: 'alimiter'" in mastering.detail
    assert str(fake) in mastering.detail and "calibration" in mastering.detail
    assert "fix:" in mastering.detail

    result = CliRunner().invoke(main, ["--config", str(demo_show), "doctor"])
    assert result.exit_code == 1
    assert "[FAIL] mastering" in result.output


def test_an_ffmpeg_older_than_5_1_is_named_with_its_version(demo_show, monkeypatch,
                                                            fresh_binaries, tmp_path):
    fake = _fake_ffmpeg(tmp_path, monkeypatch, """[ "$2" = "-version" ] && {
  echo "ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021"; exit 0; }""")
    checks = by_name(run_checks(str(demo_show)))
    assert not checks["ffmpeg"].ok
    assert "4.4.2" in checks["ffmpeg"].detail and "5.1 or newer" in checks["ffmpeg"].detail
    assert str(fake) in checks["ffmpeg"].detail

    recording = next((demo_show.parent / "episodes").glob("*/interview.*"))
    result = CliRunner().invoke(main, ["--config", str(demo_show), "loudness", str(recording)])
    assert result.exit_code == 1 and "4.4.2" in result.output and "fix:" in result.output


def test_a_broken_config_names_the_key_and_skips_the_rest(demo_show):
    text = demo_show.read_text().replace("language: fr", "language: French")
    demo_show.write_text(text)
    checks = by_name(run_checks(str(demo_show)))
    assert not checks["config"].ok
    assert "language" in checks["config"].detail
    assert checks["storage"].detail.startswith("not checked")


def test_a_broken_episode_is_named(demo_show):
    episode = demo_show.parent / "episodes" / "002-marc-olivier" / "episode.md"
    episode.write_text(episode.read_text().replace("interview.m4a", "missing.m4a"))
    checks = by_name(run_checks(str(demo_show)))
    assert not checks["episodes"].ok
    assert "002-marc-olivier" in checks["episodes"].detail
    assert "missing.m4a" in checks["episodes"].detail


@pytest.mark.s3
def test_s3_storage_is_probed_for_real(demo_show, monkeypatch):
    with moto_s3() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        good = demo_show.read_text().replace("file://public", f"s3://{server.bucket}/show")
        demo_show.write_text(good)
        assert by_name(run_checks(str(demo_show)))["storage"].ok
        # The probe object was deleted again: doctor leaves no trace in the bucket.
        assert server.client().list_objects_v2(Bucket=server.bucket).get("KeyCount") == 0

        demo_show.write_text(good.replace(server.bucket, "no-such-bucket"))
        storage = by_name(run_checks(str(demo_show)))["storage"]
        assert not storage.ok
        assert "create the bucket" in storage.detail


def test_the_command_exits_non_zero_on_any_failure(demo_show):
    runner = CliRunner()
    healthy = runner.invoke(main, ["--config", str(demo_show), "doctor"])
    assert healthy.exit_code == 0, healthy.output
    assert "[ok] storage" in healthy.output
    demo_show.unlink()
    broken = runner.invoke(main, ["--config", str(demo_show), "doctor"])
    assert broken.exit_code == 1
    assert "[FAIL] config" in broken.output and "podcast init" in broken.output


# --- the store's state is not readable at base_url --------------------------------------------


def _point_base_url(config, url: str) -> None:
    config.write_text(config.read_text().replace("base_url: http://127.0.0.1:8000",
                                                 f"base_url: {url}"))


@contextlib.contextmanager
def _static_server(folder, hide_dotfiles: bool):
    """A plain static web server (Python's http.server, like a careless nginx) on the
    folder; with ``hide_dotfiles`` it refuses paths that start with a dot, nothing else."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def send_head(self):
            if hide_dotfiles and "/." in self.path:
                self.send_error(404)
                return None
            return super().send_head()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _old_public_manifest(public) -> None:
    public.mkdir(exist_ok=True)
    (public / "podcast-manifest.json").write_text(
        '{"version": 1, "media": {"003-claire-dubois": {}}}')


def test_podcast_serve_keeps_the_state_private(demo_show, tmp_path):
    public = demo_show.parent / "public"
    _old_public_manifest(public)  # even one left by an earlier version is refused
    with serving(public, port=0, log_path=tmp_path / "access.log") as server:
        _point_base_url(demo_show, f"http://127.0.0.1:{server.server_address[1]}")
        check = check_private_state(load_show(demo_show))
    assert check.ok, check.detail
    assert "is not readable (HTTP 404)" in check.detail
    # The probe went into the private area and is gone again.
    assert list((public / ".podcast").iterdir()) == []


def test_a_server_that_serves_dotfiles_is_reported_with_the_fix(demo_show):
    public = demo_show.parent / "public"
    public.mkdir()
    with _static_server(public, hide_dotfiles=False) as url:
        _point_base_url(demo_show, url)
        check = check_private_state(load_show(demo_show))
        result = CliRunner().invoke(main, ["--config", str(demo_show), "doctor"])
    assert not check.ok
    assert "readable by anyone" in check.detail and f"GET {url}/.podcast/" in check.detail
    assert "fix:" in check.detail and "podcast serve" in check.detail
    assert result.exit_code == 1 and "[FAIL] private state" in result.output


def test_an_old_public_manifest_is_reported_with_the_move(demo_show):
    public = demo_show.parent / "public"
    _old_public_manifest(public)
    with _static_server(public, hide_dotfiles=True) as url:
        _point_base_url(demo_show, url)
        check = check_private_state(load_show(demo_show))
    assert not check.ok
    assert f"{url}/podcast-manifest.json" in check.detail
    assert "podcast feed --upload" in check.detail


def test_an_unreachable_base_url_skips_the_check_with_a_note(demo_show):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _point_base_url(demo_show, f"http://127.0.0.1:{port}")
    check = check_private_state(load_show(demo_show))
    assert check.ok and check.detail.startswith("not checked:")
    assert f"http://127.0.0.1:{port} does not answer" in check.detail


@pytest.mark.s3
def test_a_private_s3_bucket_keeps_the_state_private(demo_show, monkeypatch):
    with moto_s3() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        demo_show.write_text(demo_show.read_text().replace(
            "file://public", f"s3://{server.bucket}/show"))
        _point_base_url(demo_show, server.object_url("show"))
        check = check_private_state(load_show(demo_show))
        assert check.ok, check.detail
        assert "is not readable (HTTP 403)" in check.detail  # moto: anonymous, no policy
        assert server.client().list_objects_v2(Bucket=server.bucket).get("KeyCount") == 0


def test_an_encoder_that_fails_its_gain_probe_stops_the_master_with_the_fix(
        demo_show, monkeypatch, fresh_binaries, tmp_path):
    # The encoder's gain is measured beside the analysis, in a thread: its failure still
    # ends the master with the message, once, and nothing is written.
    _fake_ffmpeg(tmp_path, monkeypatch, """case "$*" in *anoisesrc*libmp3lame*)
  echo "[libmp3lame @ 0x1] [error] lame: output buffer too small" >&2; exit 1;; esac""")
    output = tmp_path / "out.mp3"
    result = CliRunner().invoke(main, ["--config", str(demo_show), "master",
                                       "002-marc-olivier", "-o", str(output)])
    assert result.exit_code == 1, result.output
    assert result.output.count("cannot encode MP3 at 96k") == 1
    assert "output buffer too small" in result.output and "fix:" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.glob("*.mp3")) == [] and list(tmp_path.glob(".*")) == []
