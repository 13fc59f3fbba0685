"""The figures a master reports are those of the published MP3, in mono and in stereo.

Pass 2 meters the samples the encoder takes (``ebur128`` in the same ffmpeg,
:func:`podcast.audio.encoding.finish_command`) and adds the encoder's own gain, measured
once (:func:`podcast.audio.encoding.codec_gain`); the true peak is read from the MP3's
decoded samples (:mod:`podcast.audio.truepeak`).  These tests hold the reported figures
against an independent meter of the MP3 itself (ffmpeg's ``ebur128`` with its own 192 kHz
true-peak meter, and the BS.1770 gating done here in numpy over its block log): the
encoder's gain moves a little with the content (-0.43 to -0.45 dB on speech and tones),
well inside the 0.1 LU the figures are held to.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import alternating, ebur128, interview, show_and_episode

from podcast import binaries
from podcast.audio import master
from podcast.loudness import measure

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def block_log_loudness(path: Path) -> float:
    """Integrated loudness (LUFS) of ``path``: ffmpeg's 400 ms blocks (its frame log),
    gated here as BS.1770 says (absolute -70 LUFS, then 10 LU under the mean energy)."""
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i",
                           str(path), "-af", "ebur128=framelog=info", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    blocks = np.array([float(value) for value in
                       re.findall(r"\bM:\s*(-?[\d.]+|-inf|nan)\s+S:", done.stderr)])
    blocks = blocks[np.isfinite(blocks) & (blocks > -70.0)]
    energy = 10 ** ((blocks + 0.691) / 10)
    gate = -0.691 + 10 * np.log10(energy.mean()) - 10.0
    return float(-0.691 + 10 * np.log10(energy[blocks > gate].mean()))


@pytest.fixture(scope="module", params=["mono", "stereo"])
def mastered(request, tmp_path_factory):
    """A 90 s two-voice interview mastered in mono and in stereo."""
    folder = tmp_path_factory.mktemp(f"figures-{request.param}")
    source = interview(folder / "interview.wav", alternating(90, 15),
                       {"host": -21.0, "guest": -31.0})
    show, episode = show_and_episode(folder, source)
    show = replace(show, audio=replace(show.audio, channels=request.param))
    output = folder / "out" / "episode.mp3"
    output.parent.mkdir()
    return master(show, episode, output), output


def test_the_reported_loudness_and_true_peak_agree_with_a_meter_of_the_mp3(mastered):
    result, output = mastered
    independent = ebur128(output)
    # The meter prints one decimal (so do the figures): within 0.1 LU / 0.1 dB.
    assert result.output.lufs == pytest.approx(independent["lufs"], abs=0.1 + 1e-9)
    assert result.output.true_peak == pytest.approx(independent["true_peak"], abs=0.1 + 1e-9)
    assert result.output.lra == pytest.approx(independent["lra"], abs=0.1 + 1e-9)
    # Beyond the printed decimal: the MP3's blocks gated here.  The encoder's gain on this
    # interview differs from its gain on the probe's noise by up to 0.07 dB (stereo).
    assert result.output.lufs == pytest.approx(block_log_loudness(output), abs=0.1)


def test_a_peak_over_full_scale_reads_over_0_dbtp(tmp_path: Path):
    # A sine at 1.5x full scale in float: the meter reads its samples as float, so the
    # peak is not clipped at the 16-bit ceiling (0 dBFS).
    path = tmp_path / "over.wav"
    subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-f",
                    "lavfi", "-i", "sine=f=997:r=48000:d=3", "-af", "volume=12:precision=float",
                    "-c:a", "pcm_f32le", str(path)], check=True)
    expected = 20 * np.log10(12 / 8)  # ffmpeg's sine source peaks at 1/8 of full scale
    assert measure(path).true_peak == pytest.approx(expected, abs=0.1)
