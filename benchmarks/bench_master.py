"""Benchmark `podcast master` against a bare ffmpeg transcode and ffmpeg-normalize.

    python benchmarks/bench_master.py [--minutes 10 60] [--also 180] [--skip-normalize]

Builds (once, cached in benchmarks/.data/) a speech-like stereo 44.1 kHz WAV of the given
length: host and guest taking 30 s turns, the guest 14 LU quieter.  Then, one after the
other on the same file with the same ffmpeg binary, bitrate and channel count:

- a bare ``ffmpeg`` WAV -> MP3 transcode (the floor: decode + encode, nothing else),
- ``podcast master`` through the real CLI (analysis, levelling, limiter calibration,
  limiting, encode, measurement of the MP3, tags),
- ``ffmpeg-normalize`` (two-pass loudnorm) with ``FFMPEG_PATH`` set to that ffmpeg.

Each run's wall time and peak memory (RSS summed over the process and all its children,
sampled every 50 ms with psutil) are printed with PASS/FAIL per target, at every length of
the ``--minutes`` list (default 10 and 60: the fixed costs weigh on short recordings):
master <= 1.5x the bare transcode and peak RSS <= 300 MiB at each, >= 5x faster than
ffmpeg-normalize at the longest (also the RSS for every ``--also`` length, which runs only
the master).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
#: Everything this benchmark caches or writes (other benchmarks have their own folders).
DATA = ROOT / "benchmarks" / ".data" / "master"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from audio_fixtures import alternating, interview  # noqa: E402

from podcast.binaries import ffmpeg  # noqa: E402
from podcast.config import load_show  # noqa: E402

MiB = 1024 * 1024
RSS_LIMIT = 300 * MiB
BASE_MINUTES = 10


def speech_wav(minutes: int) -> Path:
    """The cached speech-like WAV of ``minutes`` minutes (stereo, 44.1 kHz, 16-bit)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"speech-{minutes}min-44k-stereo.wav"
    if path.exists():
        return path
    base = DATA / f"speech-{BASE_MINUTES}min-base.wav"
    if not base.exists():
        print(f"generating {BASE_MINUTES} min of speech-like audio (once) ...", flush=True)
        interview(base.with_suffix(".tmp.wav"), alternating(BASE_MINUTES * 60, 30),
                  {"host": -20.0, "guest": -34.0}, rate=44100, channels=2)
        base.with_suffix(".tmp.wav").replace(base)
        shutil.rmtree(DATA / f".{base.stem}.tmp-voices", ignore_errors=True)
    print(f"building {path.name} ...", flush=True)
    loops = -(-minutes // BASE_MINUTES)
    temp = path.with_suffix(".tmp.wav")
    subprocess.run([ffmpeg(), "-hide_banner", "-v", "error", "-y", "-stream_loop",
                    str(loops - 1), "-i", str(base), "-t", str(minutes * 60), "-c", "copy",
                    str(temp)], check=True)
    temp.replace(path)
    return path


def bench_show(wav: Path, minutes: int) -> tuple[Path, str]:
    """A copy of the demo show with one episode whose audio is ``wav`` (hard-linked)."""
    show = DATA / "show"
    (show / "assets").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "podcast.yaml", show / "podcast.yaml")
    shutil.copy(ROOT / "assets" / "cover.jpg", show / "assets" / "cover.jpg")
    slug = f"bench-{minutes}"
    folder = show / "episodes" / slug
    folder.mkdir(parents=True, exist_ok=True)
    audio = folder / "interview.wav"
    if not audio.exists():
        try:
            os.link(wav, audio)
        except OSError:
            shutil.copy(wav, audio)
    (folder / "episode.md").write_text(
        "---\ntitle: Benchmark\npublished: 2026-01-05T07:00:00+01:00\naudio: interview.wav\n"
        "chapters:\n  - {start: \"0:00\", title: Introduction}\n"
        f"  - {{start: {minutes * 30}, title: Milieu}}\n---\nBenchmark episode.\n",
        encoding="utf-8")
    return show / "podcast.yaml", slug


def run(command: list[str], env: dict | None = None) -> tuple[float, int, str, float]:
    """Run ``command``; return wall seconds, peak RSS of its process tree, stdout, and the
    CPU seconds (user + system) of the whole tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        total = 0
        try:
            for member in [process, *process.children(recursive=True)]:
                try:
                    total += member.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{err.decode(errors='replace')}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, peak, out.decode(errors="replace"), cpu


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_length(minutes: int, repeat: int, podcast: str) -> tuple[dict, dict, Path]:
    """The bare transcode and the master of ``minutes`` minutes, alternately ``repeat``
    times: per run (best wall s, peak RSS, CPU s), the master's figures, and the WAV."""
    wav = speech_wav(minutes)
    config, slug = bench_show(wav, minutes)
    settings = load_show(config).audio
    channels = "1" if settings.channels == "mono" else "2"
    out = DATA / "out"
    out.mkdir(exist_ok=True)
    print(f"\n== {minutes} min: {wav.name} ({wav.stat().st_size / MiB:.0f} MiB); output: "
          f"{settings.channels} {settings.bitrate} {settings.sample_rate} Hz; {ffmpeg()}")
    bare = [ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(wav),
            "-ac", channels, "-ar", str(settings.sample_rate), "-c:a", "libmp3lame",
            "-b:a", settings.bitrate, str(out / "bare.mp3")]
    master_cmd = [podcast, "--config", str(config), "master", slug, "-o",
                  str(out / "master.mp3"), "--force", "--json"]
    runs: dict[str, list[tuple[float, int, float]]] = {"bare ffmpeg transcode": [],
                                                         "podcast master": []}
    for attempt in range(1, repeat + 1):
        seconds, rss, _, cpu = run(bare)
        runs["bare ffmpeg transcode"].append((seconds, rss, cpu))
        seconds, rss, stdout, cpu = run(master_cmd)
        runs["podcast master"].append((seconds, rss, cpu))
        print(f"round {attempt}: bare {runs['bare ffmpeg transcode'][-1][0]:.1f} s, "
              f"master {seconds:.1f} s", flush=True)
    results = {name: (min(measured)[0], max(m[1] for m in measured), min(measured)[2])
               for name, measured in runs.items()}
    return results, json.loads(stdout)["output"], wav


def normalize_run(wav: Path, config_minutes: int) -> tuple[float, int, float]:
    """ffmpeg-normalize (two-pass loudnorm) on ``wav`` with the bench show's settings."""
    settings = load_show(bench_show(wav, config_minutes)[0]).audio
    channels = "1" if settings.channels == "mono" else "2"
    env = {**os.environ, "FFMPEG_PATH": ffmpeg()}
    normalize = [shutil.which("ffmpeg-normalize", path=str(Path(sys.executable).parent))
                 or "ffmpeg-normalize", str(wav), "-o", str(DATA / "out" / "normalize.mp3"),
                 "-f", "-t", str(settings.loudness), "-tp", str(settings.true_peak),
                 "-c:a", "libmp3lame", "-b:a", settings.bitrate,
                 "-ar", str(settings.sample_rate), f"--extra-output-options=-ac {channels}"]
    seconds, rss, _, cpu = run(normalize, env)
    return seconds, rss, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[10, 60])
    parser.add_argument("--also", type=int, action="append", default=[],
                        help="also master this many minutes (time and RSS only)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="run the transcode and the master this many times, alternately, "
                             "and keep the best (the machine is shared)")
    parser.add_argument("--skip-normalize", action="store_true",
                        help="do not run ffmpeg-normalize (it takes ~6 min per hour)")
    args = parser.parse_args()

    podcast = shutil.which("podcast", path=str(Path(sys.executable).parent)) or "podcast"
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores (other jobs slow every run alike)")
    checks = []
    for minutes in args.minutes:
        results, figures, wav = bench_length(minutes, args.repeat, podcast)
        if not args.skip_normalize and minutes == max(args.minutes):
            results["ffmpeg-normalize"] = normalize_run(wav, minutes)
        print(f"{'run (best of ' + str(args.repeat) + ')':28} {'seconds':>9} {'CPU s':>7} "
              f"{'peak RSS':>10}")
        for name, (seconds, rss, cpu) in results.items():
            print(f"{name:28} {seconds:9.1f} {cpu:7.1f} {rss / MiB:7.0f} MiB")
        print(f"master output: {figures['lufs']} LUFS, {figures['true_peak']} dBTP, "
              f"LRA {figures['lra']} LU, {figures['duration']} s")
        bare_s, master_s = results["bare ffmpeg transcode"][0], results["podcast master"][0]
        checks += [(f"{minutes} min: master / bare transcode = {master_s / bare_s:.2f}x "
                    f"(<= 1.5x)", master_s <= 1.5 * bare_s),
                   (f"{minutes} min: master peak RSS {results['podcast master'][1] / MiB:.0f}"
                    f" MiB (<= 300 MiB)", results["podcast master"][1] <= RSS_LIMIT)]
        if "ffmpeg-normalize" in results:
            speedup = results["ffmpeg-normalize"][0] / master_s
            checks.append((f"{minutes} min: ffmpeg-normalize / master = {speedup:.1f}x "
                           f"(>= 5x)", speedup >= 5))
    for minutes in args.also:
        long_config, long_slug = bench_show(speech_wav(minutes), minutes)
        seconds, rss, _, _ = run([podcast, "--config", str(long_config), "master", long_slug,
                                  "-o", str(DATA / "out" / f"master-{minutes}.mp3"),
                                  "--force", "--json"])
        print(f"podcast master {minutes} min: {seconds:.1f} s, peak RSS {rss / MiB:.0f} MiB")
        checks.append((f"master peak RSS at {minutes} min {rss / MiB:.0f} MiB (<= 300 MiB)",
                       rss <= RSS_LIMIT))
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    return 0 if all(ok for _text, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
