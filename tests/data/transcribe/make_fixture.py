"""Regenerates the two-voice English interview that tests/test_transcribe.py transcribes.

Run from the repository root: ``python tests/data/transcribe/make_fixture.py``.  Needs
espeak-ng (``apt-get install espeak-ng``, GPL-3, its output is not covered by it) and ffmpeg.
Writes one Opus track per speaker (``host.opus``, ``guest.opus``: the other speaker is
silent there, with a faint noise bed as in a real room) and ``lines.json``: each line's
speaker, text and true start (s), the first sample of the synthesised speech louder than
-40 dBFS, found here with numpy, not with the product's code.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
RATE = 22050  # espeak-ng's own rate
VOICES = {"Ada Host": "en-us", "Ben Guest": "en-gb-x-rp"}
#: (speaker, text, silence before the line in s); the 6 s pause is for ``max_pause`` to cut.
SCRIPT = [
    ("Ada Host", "Welcome to the show. Today we talk about running a small bakery in the "
                 "city.", 0.5),
    ("Ben Guest", "Thank you for having me. It is a pleasure to be here.", 0.9),
    ("Ada Host", "How did you start baking bread?", 0.9),
    ("Ben Guest", "My grandmother taught me when I was ten years old, and I never stopped.", 0.9),
    ("Ada Host", "What was the hardest part of opening the shop?", 6.0),
    ("Ben Guest", "Finding a good oven and paying the rent on time every month.", 0.9),
    ("Ada Host", "What advice would you give to a new baker?", 0.9),
    ("Ben Guest", "Start small, listen to your customers, and keep your prices honest.", 0.9),
    ("Ada Host", "Thank you very much for coming today.", 0.9),
]


def speak(text: str, voice: str, work: Path) -> np.ndarray:
    out = work / "line.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True)
    with wave.open(str(out)) as handle:
        assert handle.getframerate() == RATE
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
    samples = data.astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(samples) > 10 ** (-40 / 20))
    return samples[loud[0]:loud[-1] + 1] * 0.5  # trimmed: the line starts at its first sample


def main() -> None:
    rng = np.random.default_rng(23)
    lines, clips, cursor = [], [], 0.0
    with tempfile.TemporaryDirectory() as work:
        for speaker, text, gap in SCRIPT:
            clip = speak(text, VOICES[speaker], Path(work))
            cursor += gap
            lines.append({"speaker": speaker, "text": text, "start": round(cursor, 3)})
            clips.append((speaker, int(round(cursor * RATE)), clip))
            cursor += len(clip) / RATE
    total = int((cursor + 1.0) * RATE)
    for speaker, name in (("Ada Host", "host"), ("Ben Guest", "guest")):
        track = rng.normal(0, 10 ** (-62 / 20), total)
        for who, at, clip in clips:
            if who == speaker:
                track[at:at + len(clip)] += clip
        pcm = (np.clip(track, -1, 1) * 32767).astype("<i2").tobytes()
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", str(RATE),
                        "-ac", "1", "-i", "-", "-c:a", "libopus", "-b:a", "24k",
                        "-fflags", "+bitexact", "-flags:a", "+bitexact",  # the same bytes
                        str(HERE / f"{name}.opus")], input=pcm, check=True)
    (HERE / "lines.json").write_text(json.dumps(lines, indent=2) + "\n")


if __name__ == "__main__":
    main()
