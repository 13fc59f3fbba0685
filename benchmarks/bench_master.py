"""Benchmark `podcast master` against a bare ffmpeg transcode and ffmpeg-normalize.

    python benchmarks/bench_master.py [--minutes 1 10 60] [--also 180] [--skip-normalize]
    python benchmarks/bench_master.py --tracks 3 [--minutes 60] [--also 180]

Builds (once, cached in benchmarks/.data/) a speech-like stereo 44.1 kHz WAV of the given
length: host and guest taking 30 s turns, the guest 14 LU quieter.  Then, one after the
other on the same file with the same ffmpeg binary, bitrate and channel count:

- a bare ``ffmpeg`` WAV -> MP3 transcode (the floor: decode + encode, nothing else),
- ``podcast master`` through the real CLI (analysis, levelling, limiter calibration,
  limiting, encode, measurement of the MP3, tags),
- ``ffmpeg-normalize`` (two-pass loudnorm) with ``FFMPEG_PATH`` set to that ffmpeg.

Each run's CPU seconds (user + system of the whole process tree), wall time, peak memory
(RSS summed over the process and all its children, sampled every 50 ms with psutil) and
the load average sampled while it ran are printed at every length of the ``--minutes``
list (default 1, 10 and 60: the fixed costs weigh on short recordings).  The verdict is
on the **CPU** ratio master / bare (best of ``--repeat`` each, taken in turns): on the
shared 2-core machine the wall ratio moves with other people's load (the master's two
analysis halves and calibration runs overlap only on a free core), the CPU ratio much
less; the wall ratio is printed beside it.  Targets (issue 25): CPU ratio <= 1.6 at 10
minutes and longer, <= 2.5 under 10 minutes, peak RSS <= 300 MiB at each; >= 5x faster than
ffmpeg-normalize at the longest (also the RSS for every ``--also`` length, which runs
only the master).

With ``--tracks N`` (2 or 3) it benchmarks a multitrack episode instead: N mono 48 kHz
16-bit WAVs of the given length (host, guest, guest2; cached in benchmarks/.data/), one per
speaker, each with its own room noise and the other voices leaking in 25 dB down (3 ms late
between host and guest, one room; 200 ms to and from guest2, remote on speakers).  It
times a bare ffmpeg mix-and-encode of the same tracks (``amix=inputs=N:normalize=0`` ->
libmp3lame at the show's bitrate and channels) against ``podcast master`` of an episode
listing them: master <= 2x the bare mix's CPU and peak RSS <= 300 MiB at each length (and
the RSS at every ``--also`` length).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
#: Everything this benchmark caches or writes (other benchmarks have their own folders).
DATA = ROOT / "benchmarks" / ".data" / "master"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from audio_fixtures import (  # noqa: E402
    Passage,
    _voice_track,
    alternating,
    ebur128,
    interview,
    rms_dbfs,
)
from common import compile_package  # noqa: E402

from podcast.binaries import ffmpeg  # noqa: E402
from podcast.config import load_show  # noqa: E402

MiB = 1024 * 1024
RSS_LIMIT = 300 * MiB
BASE_MINUTES = 10
#: CPU ratio targets of the single-track master (issue 25): from this many minutes ...
LONG_MINUTES = 10
LONG_RATIO = 1.6
#: ... and under it, where the fixed costs (start-up, probes, calibration) weigh more.
SHORT_RATIO = 2.5
#: The speakers of a multitrack session, their loudness alone on their own track (LUFS),
#: their track's room noise (dBFS RMS, pink), and how far (dB) a voice leaks into the
#: other tracks.
TRACK_VOICES = ("host", "guest", "guest2")
TRACK_LEVELS = {"host": -20.0, "guest": -28.0, "guest2": -33.0}
TRACK_NOISE = {"host": -62.0, "guest": -55.0, "guest2": -58.0}
TRACK_BLEED_DB = -25.0
TRACK_RATE = 48000


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


def show_folder() -> Path:
    """The bench show: a copy of the demo show's podcast.yaml and cover."""
    show = DATA / "show"
    (show / "assets").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "podcast.yaml", show / "podcast.yaml")
    shutil.copy(ROOT / "assets" / "cover.jpg", show / "assets" / "cover.jpg")
    return show


def bench_show(wav: Path, minutes: int) -> tuple[Path, str]:
    """A copy of the demo show with one episode whose audio is ``wav`` (hard-linked)."""
    show = show_folder()
    slug = f"bench-{minutes}"
    folder = show / "episodes" / slug
    folder.mkdir(parents=True, exist_ok=True)
    _link(wav, folder / "interview.wav")
    (folder / "episode.md").write_text(
        "---\ntitle: Benchmark\npublished: 2026-01-05T07:00:00+01:00\naudio: interview.wav\n"
        "chapters:\n  - {start: \"0:00\", title: Introduction}\n"
        f"  - {{start: {minutes * 30}, title: Milieu}}\n---\nBenchmark episode.\n",
        encoding="utf-8")
    return show / "podcast.yaml", slug


def conversation(duration: float, voices: tuple[str, ...]) -> list[Passage]:
    """A seeded conversation of ``duration`` s: the host asks (4-20 s), a guest answers
    (8-45 s), now and then another guest puts in a reply of 1-3 s, and some pauses."""
    rng = random.Random(15)
    passages, now, turn = [], 0.0, 0
    while now < duration - 1.0:
        guest = voices[1 + turn % (len(voices) - 1)]
        turn += 1
        for voice, low, high in (("host", 4, 20), (guest, 8, 45)):
            end = min(duration, now + rng.uniform(low, high))
            passages.append(Passage(voice, now, end))
            now = end + rng.choice((0.0, 0.3, 0.8))
        others = [voice for voice in voices[1:] if voice != guest]
        if others and rng.random() < 0.35 and now < duration - 3:
            end = now + rng.uniform(1.0, 3.0)
            passages.append(Passage(rng.choice(others), now, end))
            now = end
        if rng.random() < 0.1:
            now += rng.uniform(2.0, 6.0)  # nobody speaks
    return [p for p in passages if p.start < duration]


def bleed_delay(source: str, into: str) -> float:
    """How late (s) ``source``'s voice reaches ``into``'s microphone: host and guest in
    one room (3 ms), guest2 remote on speakers (0.2 s, both ways)."""
    return 0.2 if "guest2" in (source, into) else 0.003


def _base_tracks(count: int) -> list[Path]:
    """The cached ``BASE_MINUTES`` session of ``count`` speakers: one WAV per speaker with
    its voice, its room noise and the others' bleed (mixed by ffmpeg, streaming)."""
    folder = DATA / f"tracks{count}"
    voices = TRACK_VOICES[:count]
    paths = [folder / f"{voice}-{BASE_MINUTES}min.wav" for voice in voices]
    if all(path.exists() for path in paths):
        return paths
    duration = BASE_MINUTES * 60.0
    print(f"generating {BASE_MINUTES} min of {count} speech-like tracks (once) ...",
          flush=True)
    work = folder / ".voices"
    work.mkdir(parents=True, exist_ok=True)
    passages = conversation(duration, voices)
    raw, gains = {}, {}
    for voice in voices:
        raw[voice] = work / f"{voice}.wav"
        _voice_track(raw[voice], voice, passages, duration, TRACK_RATE)
        gains[voice] = TRACK_LEVELS[voice] - ebur128(raw[voice])["lufs"]
    probe = work / "noise-probe.wav"
    subprocess.run([ffmpeg(), "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"anoisesrc=d=20:c=pink:r={TRACK_RATE}:a=0.1:seed=5", "-c:a",
                    "pcm_f32le", str(probe)], check=True)
    probe_rms = rms_dbfs(probe)
    for number, (voice, path) in enumerate(zip(voices, paths, strict=True)):
        inputs, chains, labels = [], [], ""
        for index, source in enumerate(voices):
            inputs += ["-i", str(raw[source])]
            gain = gains[source] + (0.0 if source == voice else TRACK_BLEED_DB)
            late = "" if source == voice else \
                f",adelay=delays={round(bleed_delay(source, voice) * TRACK_RATE)}S"
            chains.append(f"[{index}:a]volume={gain:.3f}dB{late}[v{index}]")
            labels += f"[v{index}]"
        amplitude = 0.1 * 10 ** ((TRACK_NOISE[voice] - probe_rms) / 20)
        chains.append(f"anoisesrc=d={duration}:c=pink:r={TRACK_RATE}:a={amplitude:.8f}:"
                      f"seed={101 + number}[noise]")
        chains.append(f"{labels}[noise]amix=inputs={count + 1}:normalize=0:"
                      f"duration=longest,atrim=duration={duration}[out]")
        temp = path.with_suffix(".tmp.wav")
        subprocess.run([ffmpeg(), "-hide_banner", "-v", "error", "-y", *inputs,
                        "-filter_complex", ";".join(chains), "-map", "[out]",
                        "-c:a", "pcm_s16le", str(temp)], check=True)
        temp.replace(path)
    shutil.rmtree(work, ignore_errors=True)
    return paths


def session_tracks(minutes: int, count: int) -> list[Path]:
    """The cached ``count`` tracks of ``minutes`` minutes (the base session looped)."""
    out = []
    for base in _base_tracks(count):
        path = base.with_name(base.name.replace(f"-{BASE_MINUTES}min", f"-{minutes}min"))
        if not path.exists():
            print(f"building {path.name} ...", flush=True)
            temp = path.with_suffix(".tmp.wav")
            subprocess.run([ffmpeg(), "-hide_banner", "-v", "error", "-y", "-stream_loop",
                            str(-(-minutes // BASE_MINUTES) - 1), "-i", str(base),
                            "-t", str(minutes * 60), "-c", "copy", str(temp)], check=True)
            temp.replace(path)
        out.append(path)
    return out


def _link(source: Path, target: Path) -> None:
    if not target.exists():
        try:
            os.link(source, target)
        except OSError:
            shutil.copy(source, target)


def multitrack_show(tracks: list[Path], minutes: int) -> tuple[Path, str]:
    """The bench show with an episode listing ``tracks`` (hard-linked) as its audio."""
    show = show_folder()
    slug = f"bench-tracks{len(tracks)}-{minutes}"
    folder = show / "episodes" / slug
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for voice, path in zip(TRACK_VOICES, tracks, strict=False):
        _link(path, folder / f"{voice}.wav")
        role = "host, name: Julien Morel" if voice == "host" else "guest"
        lines.append(f"  - {{file: {voice}.wav, role: {role}}}")
    (folder / "episode.md").write_text(
        "---\ntitle: Benchmark\npublished: 2026-01-05T07:00:00+01:00\naudio:\n"
        + "\n".join(lines) + "\nchapters:\n  - {start: \"0:00\", title: Introduction}\n"
        f"  - {{start: {minutes * 30}, title: Milieu}}\n---\nBenchmark episode.\n",
        encoding="utf-8")
    return show / "podcast.yaml", slug


@dataclass(frozen=True)
class Case:
    """One length to benchmark: the master's show and episode, the bare ffmpeg command it
    is held against (its name), the ratio target, and what is printed about the input."""

    config: Path
    slug: str
    bare: list[str]
    bare_name: str
    ratio: float
    describe: str
    sources: list[Path]


def output_settings(config: Path) -> tuple[str, int, str]:
    """The show's output channels ("1"/"2"), sample rate and bitrate."""
    settings = load_show(config).audio
    return ("1" if settings.channels == "mono" else "2"), settings.sample_rate, \
        settings.bitrate


def single_case(minutes: int) -> Case:
    """One stereo WAV, held against a bare transcode (CPU ratio target 1.6x, 2.5x under
    10 minutes)."""
    wav = speech_wav(minutes)
    config, slug = bench_show(wav, minutes)
    channels, rate, bitrate = output_settings(config)
    bare = [ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(wav),
            "-ac", channels, "-ar", str(rate), "-c:a", "libmp3lame", "-b:a", bitrate,
            str(DATA / "out" / "bare.mp3")]
    ratio = LONG_RATIO if minutes >= LONG_MINUTES else SHORT_RATIO
    return Case(config, slug, bare, "bare ffmpeg transcode", ratio,
                f"{wav.name} ({wav.stat().st_size / MiB:.0f} MiB)", [wav])


def multitrack_case(minutes: int, count: int) -> Case:
    """``count`` speaker tracks, held against a bare ``amix`` mix-and-encode (target 2x)."""
    tracks = session_tracks(minutes, count)
    config, slug = multitrack_show(tracks, minutes)
    channels, rate, bitrate = output_settings(config)
    inputs = [arg for path in tracks for arg in ("-i", str(path))]
    bare = [ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-y", *inputs,
            "-filter_complex", f"amix=inputs={count}:normalize=0", "-ac", channels,
            "-ar", str(rate), "-c:a", "libmp3lame", "-b:a", bitrate,
            str(DATA / "out" / "bare-mix.mp3")]
    size = sum(path.stat().st_size for path in tracks) / MiB
    return Case(config, slug, bare, "bare ffmpeg amix + encode", 2.0,
                f"{count} tracks, {', '.join(path.name for path in tracks)} ({size:.0f} MiB)",
                tracks)


@dataclass(frozen=True)
class Run:
    """One timed run: wall and CPU seconds (user + system of the whole process tree), peak
    RSS of the tree, and the 1-minute load average's lowest and highest value sampled
    while it ran."""

    wall: float
    cpu: float
    rss: int
    load: tuple[float, float]


def run(command: list[str], env: dict | None = None) -> tuple[Run, str]:
    """Run ``command``; return its :class:`Run` and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak, loads = 0, [os.getloadavg()[0]]
    while process.poll() is None:
        loads.append(os.getloadavg()[0])
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
    loads.append(os.getloadavg()[0])
    return Run(elapsed, cpu, peak, (min(loads), max(loads))), out.decode(errors="replace")


@dataclass(frozen=True)
class Best:
    """The best of several runs of one command: the least wall and the least CPU time
    (each on its own), the highest peak RSS, the load range over all of them."""

    wall: float
    cpu: float
    rss: int
    load: tuple[float, float]
    rounds: list[Run]

    @classmethod
    def of(cls, runs: list[Run]) -> Best:
        return cls(wall=min(r.wall for r in runs), cpu=min(r.cpu for r in runs),
                   rss=max(r.rss for r in runs),
                   load=(min(r.load[0] for r in runs), max(r.load[1] for r in runs)),
                   rounds=runs)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_length(case: Case, repeat: int, podcast: str) -> tuple[dict[str, Best], dict]:
    """The bare command and the master of one case, alternately ``repeat`` times: the
    best of each (:class:`Best`), and the master's JSON figures."""
    (DATA / "out").mkdir(parents=True, exist_ok=True)
    channels, rate, bitrate = output_settings(case.config)
    print(f"\n== {case.slug}: {case.describe}; output: {'mono' if channels == '1' else 'stereo'}"
          f" {bitrate} {rate} Hz; {ffmpeg()}")
    master_cmd = [podcast, "--config", str(case.config), "master", case.slug, "-o",
                  str(DATA / "out" / "master.mp3"), "--force", "--json"]
    runs: dict[str, list[Run]] = {case.bare_name: [], "podcast master": []}
    for attempt in range(1, repeat + 1):
        bare, _ = run(case.bare)
        runs[case.bare_name].append(bare)
        mastered, stdout = run(master_cmd)
        runs["podcast master"].append(mastered)
        print(f"round {attempt}: bare {bare.wall:.1f} s ({bare.cpu:.1f} CPU s), master "
              f"{mastered.wall:.1f} s ({mastered.cpu:.1f} CPU s): CPU ratio "
              f"{mastered.cpu / bare.cpu:.2f}, wall ratio {mastered.wall / bare.wall:.2f}, "
              f"load {min(bare.load[0], mastered.load[0]):.1f}-"
              f"{max(bare.load[1], mastered.load[1]):.1f}", flush=True)
    return {name: Best.of(measured) for name, measured in runs.items()}, json.loads(stdout)


def normalize_run(wav: Path, config_minutes: int) -> Best:
    """ffmpeg-normalize (two-pass loudnorm) on ``wav`` with the bench show's settings."""
    settings = load_show(bench_show(wav, config_minutes)[0]).audio
    channels = "1" if settings.channels == "mono" else "2"
    env = {**os.environ, "FFMPEG_PATH": ffmpeg()}
    normalize = [shutil.which("ffmpeg-normalize", path=str(Path(sys.executable).parent))
                 or "ffmpeg-normalize", str(wav), "-o", str(DATA / "out" / "normalize.mp3"),
                 "-f", "-t", str(settings.loudness), "-tp", str(settings.true_peak),
                 "-c:a", "libmp3lame", "-b:a", settings.bitrate,
                 "-ar", str(settings.sample_rate), f"--extra-output-options=-ac {channels}"]
    measured, _ = run(normalize, env)
    return Best.of([measured])


def make_case(minutes: int, tracks: int) -> Case:
    return multitrack_case(minutes, tracks) if tracks > 1 else single_case(minutes)


def print_results(case: Case, results: dict[str, Best], figures: dict, repeat: int) -> None:
    print(f"{'run (best of ' + str(repeat) + ')':28} {'CPU s':>7} {'wall s':>8} "
          f"{'peak RSS':>10} {'load':>10}")
    for name, best in results.items():
        print(f"{name:28} {best.cpu:7.2f} {best.wall:8.2f} {best.rss / MiB:6.0f} MiB "
              f"{best.load[0]:5.1f}-{best.load[1]:.1f}")
    output = figures["output"]
    print(f"master output: {output['lufs']} LUFS, {output['true_peak']:.2f} dBTP, "
          f"LRA {output['lra']} LU, {output['duration']} s")
    for track in figures.get("tracks") or []:
        print(f"  track {track['file']}: input {track['input_lufs']} LUFS, floor "
              f"{track['noise_floor_lufs']}, speech {track['speech_share']:.0%}, levelling "
              f"{track['levelling_min_db']}..{track['levelling_max_db']} dB, estimated "
              f"offset {track['estimated_offset']}")


def length_checks(minutes: int, case: Case, results: dict[str, Best]) -> list[tuple[str, bool]]:
    """The verdicts of one length: the CPU ratio (the wall ratio and the load beside it,
    not judged) and the peak RSS."""
    bare, master = results[case.bare_name], results["podcast master"]
    what = "bare mix" if len(case.sources) > 1 else "bare transcode"
    cpu_ratio, wall_ratio = master.cpu / bare.cpu, master.wall / bare.wall
    load = (min(bare.load[0], master.load[0]), max(bare.load[1], master.load[1]))
    return [(f"{minutes} min: master / {what} CPU = {cpu_ratio:.2f}x (<= {case.ratio:g}x); "
             f"wall {wall_ratio:.2f}x, load {load[0]:.1f}-{load[1]:.1f}",
             cpu_ratio <= case.ratio),
            (f"{minutes} min: master peak RSS {master.rss / MiB:.0f} MiB (<= 300 MiB)",
             master.rss <= RSS_LIMIT)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[1, 10, 60])
    parser.add_argument("--also", type=int, action="append", default=[],
                        help="also master this many minutes (time and RSS only)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="run the bare command and the master this many times, "
                             "alternately, and keep the best (the machine is shared)")
    parser.add_argument("--tracks", type=int, default=1, choices=(1, 2, 3),
                        help="a multitrack episode of this many speaker tracks, held "
                             "against a bare amix mix-and-encode (default 1: one WAV)")
    parser.add_argument("--skip-normalize", action="store_true",
                        help="do not run ffmpeg-normalize (it takes ~6 min per hour)")
    args = parser.parse_args()

    compile_package()
    podcast = shutil.which("podcast", path=str(Path(sys.executable).parent)) or "podcast"
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores (other jobs slow every run alike)")
    checks = []
    for minutes in args.minutes:
        case = make_case(minutes, args.tracks)
        results, figures = bench_length(case, args.repeat, podcast)
        if args.tracks == 1 and not args.skip_normalize and minutes == max(args.minutes):
            results["ffmpeg-normalize"] = normalize_run(case.sources[0], minutes)
        print_results(case, results, figures, args.repeat)
        checks += length_checks(minutes, case, results)
        if "ffmpeg-normalize" in results:
            speedup = results["ffmpeg-normalize"].wall / results["podcast master"].wall
            checks.append((f"{minutes} min: ffmpeg-normalize / master = {speedup:.1f}x "
                           f"(>= 5x)", speedup >= 5))
    for minutes in args.also:
        case = make_case(minutes, args.tracks)
        measured, _ = run([podcast, "--config", str(case.config), "master", case.slug,
                           "-o", str(DATA / "out" / f"master-{minutes}.mp3"), "--force",
                           "--json"])
        print(f"podcast master {minutes} min: {measured.wall:.1f} s, {measured.cpu:.1f} CPU s, "
              f"peak RSS {measured.rss / MiB:.0f} MiB")
        checks.append((f"master peak RSS at {minutes} min {measured.rss / MiB:.0f} MiB "
                       f"(<= 300 MiB)", measured.rss <= RSS_LIMIT))
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    return 0 if all(ok for _text, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
