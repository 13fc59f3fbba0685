"""The demo show's published outputs, committed as expected files and compared.

`tests/expected/demo/` holds what `podcast publish` writes for the demo show: the manifest
(`podcast-manifest.json`; in the store, the private `.podcast/manifest.json`) and the feed
(`feed.xml`).  Reading them is the quickest way to see what the product makes; the tests
keep them true.  After an intended change, regenerate them
with ``PODCAST_UPDATE_EXPECTED=1 .venv/bin/python -m pytest tests/test_expected.py`` and
review the diff like code.

The feed is compared byte for byte (the build is deterministic).  The manifest is compared
exactly except for what depends on the MP3 encoder's own bytes (each master's sha256, the
key made from it, its size and its duration to 50 ms), since those move with the ffmpeg build.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXPECTED = Path(__file__).resolve().parent / "expected" / "demo"
PODCAST = [sys.executable, "-c", "from podcast.cli import main; main()"]
#: A moment after the demo's last episode: the whole show is live.
NOW = "2026-12-01T00:00:00Z"
UPDATE = os.environ.get("PODCAST_UPDATE_EXPECTED") == "1"


def _podcast(config: Path, *args: str) -> str:
    done = subprocess.run([*PODCAST, "--config", str(config), *args], capture_output=True,
                          text=True, cwd=config.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _encoder_free(manifest: dict) -> dict:
    """The manifest without the values that depend on the MP3 encoder's bytes."""
    media = {}
    for slug, entry in manifest["media"].items():
        entry = dict(entry)
        entry["key"] = re.sub(r"-[0-9a-f]{12}\.mp3$", "-<sha>.mp3", entry["key"])
        entry["sha256"] = entry["bytes"] = "<encoder>"
        entry["duration"] = round(entry["duration"] * 20) / 20
        media[slug] = entry
    return {**manifest, "media": media}


@pytest.mark.audio
def test_publishing_the_demo_writes_the_expected_manifest(demo_show: Path):
    _podcast(demo_show, "publish", "--all", "--now", NOW)
    written = demo_show.parent / "public" / ".podcast" / "manifest.json"
    expected = EXPECTED / "podcast-manifest.json"
    if UPDATE:
        expected.write_bytes(written.read_bytes())
    assert _encoder_free(json.loads(written.read_text())) == \
        _encoder_free(json.loads(expected.read_text()))


def test_the_feed_built_from_the_expected_manifest_is_the_expected_feed(demo_show: Path,
                                                                        tmp_path: Path):
    """`podcast feed` needs only the manifest in the store (as the nightly job has it)."""
    state = demo_show.parent / "public" / ".podcast"  # the store's private area
    state.mkdir(parents=True)
    (state / "manifest.json").write_bytes(
        (EXPECTED / "podcast-manifest.json").read_bytes())
    output = tmp_path / "feed.xml"
    _podcast(demo_show, "feed", "--output", str(output), "--now", NOW)
    expected = EXPECTED / "feed.xml"
    if UPDATE:
        expected.write_bytes(output.read_bytes())
    assert output.read_bytes() == expected.read_bytes()


@pytest.mark.parametrize("name", ["podcast-manifest.json", "feed.xml"])
def test_the_expected_files_are_committed(name: str):
    assert (EXPECTED / name).stat().st_size > 0
