"""Real test audio made by ffmpeg, and an independent ffmpeg meter for checking results.

Nothing here imports the product's audio code: the interviews are generated and measured
with plain ffmpeg commands, so a test that compares the product against them can fail.

Speech-like signal: pink noise shaped into a voice band, amplitude-modulated at a syllable
rate (~4 Hz) and gated into phrases with pauses.  The host and the guest differ in band
(the guest sounds like a remote call) and rhythm.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from podcast import binaries
from podcast.model import AudioSettings, Chapter, Episode, Person, Show

#: Voice shaping: (band filter, syllable rate Hz, phrase rate Hz, noise seed).
VOICES = {
    "host": ("highpass=f=110,lowpass=f=5000,equalizer=f=250:t=q:w=1:g=6", 4.1, 0.23, 11),
    "guest": ("highpass=f=300,lowpass=f=3200,equalizer=f=1000:t=q:w=1:g=4", 3.6, 0.29, 23),
    # A remote guest on the telephone: 300-3400 Hz, steep edges.
    "phone": ("highpass=f=300,highpass=f=300,lowpass=f=3400,lowpass=f=3400", 3.6, 0.29, 23),
    # A second guest (three-speaker sessions): mid-band, its own rhythm and noise.
    "guest2": ("highpass=f=160,lowpass=f=4200,equalizer=f=600:t=q:w=1:g=5", 3.9, 0.26, 37),
}


@dataclass(frozen=True)
class Passage:
    """One speaker's turn in a generated interview, in seconds."""

    voice: str
    start: float
    end: float


def run_ffmpeg(*args: str) -> subprocess.CompletedProcess:
    """Run ffmpeg quietly; raise with its stderr if it fails."""
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-y",
                           "-loglevel", "error", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed:\n{done.stderr}")
    return done


def ebur128(path: Path, *extra_filters: str) -> dict[str, float]:
    """Integrated loudness, true peak and LRA as ffmpeg's own meter reads ``path``.

    ``extra_filters`` go before the meter (e.g. ``atrim=10:20``).  The frame log goes to
    verbose level (hidden): ffmpeg 5.1 has no ``framelog=quiet``.
    """
    chain = ",".join([*extra_filters, "ebur128=peak=true:framelog=verbose"])
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-nostats",
                           "-i", str(path), "-af", chain, "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    summary = done.stderr[done.stderr.rindex("Summary:"):]

    def number(label: str) -> float:
        return float(re.search(label + r":\s*(-?[\d.]+|-?inf)", summary).group(1))

    return {"lufs": number(r"\bI"), "true_peak": number("Peak"), "lra": number("LRA")}


def rms_dbfs(path: Path) -> float:
    """The RMS level (dBFS) of ``path``'s first channel, by ffmpeg's astats."""
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-nostats",
                           "-i", str(path), "-af", "astats=measure_overall=RMS_level:"
                           "measure_perchannel=none", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    return float(re.findall(r"RMS level dB:\s*(-?[\d.]+|-?inf)", done.stderr)[-1])


def decode(path: Path, rate: int = 44100) -> np.ndarray:
    """``path`` decoded by ffmpeg to mono float samples at ``rate`` (channels averaged)."""
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-v", "error",
                           "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "f32le",
                           "pipe:1"], capture_output=True, check=True)
    return np.frombuffer(done.stdout, dtype="<f4").astype(float)


def _frame_series(path: Path, letter: str) -> list[tuple[float, float]]:
    """``(t, value)`` every 100 ms of one column (``M`` or ``S``) of ffmpeg's frame log."""
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-nostats",
                           "-i", str(path), "-af", "ebur128=framelog=info", "-f", "null",
                           "-"], capture_output=True, text=True, check=True)
    return [(float(t), float(v)) for t, v in
            re.findall(r"t:\s*([\d.]+)\s+TARGET.*?" + letter + r":\s*(-?[\d.]+|-?inf)",
                       done.stderr)]


def momentary_series(path: Path) -> list[tuple[float, float]]:
    """``(t, M)`` every 100 ms: ffmpeg's momentary (400 ms) loudness of ``path``."""
    return _frame_series(path, "M")


def short_term_series(path: Path) -> list[tuple[float, float]]:
    """``(t, S)`` every 100 ms: ffmpeg's short-term (3 s) loudness of ``path``."""
    return _frame_series(path, "S")


def _voice_track(path: Path, voice: str, passages: list[Passage], duration: float,
                 rate: int) -> None:
    """One voice speaking in its own passages and silent elsewhere (float WAV, mono)."""
    band, syllables, phrases, seed = VOICES[voice]
    mine = [p for p in passages if p.voice == voice]
    mask = "+".join(f"between(t,{p.start},{p.end})" for p in mine) or "0"
    # A reply of 3 s or less is one phrase ("oui, tout à fait"): never cut by the gate.
    replies = "+".join(f"between(t,{p.start},{p.end})" for p in mine
                       if p.end - p.start <= 3.0) or "0"
    # |sin| gives two bumps per period: syllables at `syllables` Hz; the phrase gate leaves
    # a pause of about a third of each phrase period.
    envelope = (f"pow(abs(sin(PI*{syllables / 2}*t)),1.5)"
                f"*max(gt(sin(2*PI*{phrases}*t+1),-0.5),{replies})*({mask})")
    run_ffmpeg("-f", "lavfi", "-i",
               f"anoisesrc=d={duration}:c=pink:r={rate}:a=0.5:seed={seed}",
               "-af", f"{band},aeval='val(0)*{envelope}'", "-c:a", "pcm_f32le", str(path))


def interview(path: Path, passages: list[Passage], levels: dict[str, float], *,
              rate: int = 48000, channels: int = 2, codec: tuple[str, ...] = ("-c:a",
                                                                              "pcm_s16le"),
              noise_dbfs: float = -72.0, noise_color: str = "white", dc: float = 0.0,
              hum: tuple[float, float] | None = None) -> Path:
    """Write an interview: each voice speaks its passages at ``levels[voice]`` LUFS.

    Levels are what ffmpeg's meter reads for that voice alone in the final channel layout
    (so "-20" for a stereo file means -20 LUFS stereo).  A room noise runs throughout
    (white at peak ``noise_dbfs``, or pink etc. at RMS ``noise_dbfs``); ``dc`` adds a
    constant offset and ``hum`` = (Hz, dBFS) a mains hum: the fundamental at that RMS
    level and its 2nd and 3rd harmonics 6 and 12 dB under it, as a cheap interface
    picks it up.
    """
    duration = max(p.end for p in passages)
    work = path.parent / f".{path.stem}-voices"
    work.mkdir(exist_ok=True)
    layout = "mono" if channels == 1 else "stereo"
    gains = {}
    for voice in sorted({p.voice for p in passages}):
        track = work / f"{voice}.wav"
        _voice_track(track, voice, passages, duration, rate)
        placed = work / f"{voice}-{layout}.wav"
        run_ffmpeg("-i", str(track), "-af", f"aformat=channel_layouts={layout}",
                   "-c:a", "pcm_f32le", str(placed))
        gains[voice] = levels[voice] - ebur128(placed)["lufs"]
    inputs, chains = [], []
    for index, voice in enumerate(sorted(gains)):
        inputs += ["-i", str(work / f"{voice}-{layout}.wav")]
        chains.append(f"[{index}:a]volume={gains[voice]:.3f}dB[v{index}]")
    # White noise: ``noise_dbfs`` is anoisesrc's amplitude (its peak), as it always was
    # here; any other colour: its RMS, measured below and corrected.
    noise_amp = 10 ** (noise_dbfs / 20)
    if noise_color != "white":
        probe_path = work / "noise-probe.wav"
        run_ffmpeg("-f", "lavfi", "-i", f"anoisesrc=d=10:c={noise_color}:r={rate}:a=0.1:seed=5",
                   "-c:a", "pcm_f32le", str(probe_path))
        noise_amp = 0.1 * 10 ** ((noise_dbfs - rms_dbfs(probe_path)) / 20)
    extra = ""
    if dc:
        extra += f"+{dc}"
    if hum is not None:
        freq, level = hum
        amp = 10 ** (level / 20) * 2 ** 0.5  # sine peak for that RMS
        extra += (f"+{amp}*sin(2*PI*{freq}*t)+{amp / 2}*sin(4*PI*{freq}*t)"
                  f"+{amp / 4}*sin(6*PI*{freq}*t)")
    bed = f",aeval='val(0){extra}'" if extra else ""
    chains.append(f"anoisesrc=d={duration}:c={noise_color}:r={rate}:a={noise_amp}:seed=5"
                  f"{bed},aformat=channel_layouts={layout}[noise]")
    mix = "".join(f"[v{i}]" for i in range(len(gains))) + "[noise]"
    chains.append(f"{mix}amix=inputs={len(gains) + 1}:normalize=0:duration=longest[out]")
    run_ffmpeg(*inputs, "-filter_complex", ";".join(chains), "-map", "[out]", *codec,
               str(path))
    return path


def alternating(duration: float, turn: float, first: str = "host") -> list[Passage]:
    """Host and guest taking turns of ``turn`` seconds for ``duration`` seconds."""
    passages, start, voice = [], 0.0, first
    while start < duration - 1e-6:
        end = min(duration, start + turn)
        passages.append(Passage(voice, start, end))
        start, voice = end, ("guest" if voice == "host" else "host")
    return passages


def cover(path: Path) -> Path:
    """A 1400 px square JPEG cover."""
    image = Image.linear_gradient("L").resize((1400, 1400)).convert("RGB")
    image.save(path, "JPEG")
    return path


def show_and_episode(folder: Path, audio: Path, *, settings: AudioSettings | None = None,
                     chapters: tuple[Chapter, ...] = ()) -> tuple[Show, Episode]:
    """A Show and an Episode around ``audio`` (the episode folder is ``audio``'s folder)."""
    image = folder / "cover.jpg"
    if not image.exists():
        cover(image)
    show = Show(
        config_path=folder / "podcast.yaml", title="Salons & Rencontres",
        description="Rencontres.", author="Studio Rencontres", email="studio@example.com",
        language="fr", link="https://podcast.example.com", image=image,
        categories=("Business/Marketing",), explicit=False, base_url="https://cdn.example.com",
        feed_url="https://cdn.example.com/feed.xml",
        guid="83592e4d-9d26-5dd7-bc60-9d742a8bfb85",
        hosts=(Person(name="Julien Morel"),), audio=settings or AudioSettings())
    episode = Episode(
        slug=audio.parent.name, folder=audio.parent, title="Le salon devient phygital",
        published=datetime(2026, 11, 24, 7, tzinfo=timezone(timedelta(hours=1))),
        audio=audio, notes="Une rencontre.", guid="urn:test:episode-1",
        guests=(Person(name="Sonia Mamin", role="guest"),), chapters=chapters)
    return show, episode


# --------------------------------------------------------------------------- multitrack


@dataclass(frozen=True)
class Recording:
    """A generated multitrack session: one file per speaker, and what went into them
    (mono float samples at ``rate``): each voice alone at its level, each track's noise."""

    paths: dict[str, Path]
    voices: dict[str, np.ndarray]
    noises: dict[str, np.ndarray]
    rate: int


def _write_float_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Mono float samples -> a 24-bit WAV, through ffmpeg."""
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-y", "-v", "error",
                           "-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
                           "-c:a", "pcm_s24le", str(path)],
                          input=samples.astype("<f4").tobytes(), capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode())
    return path


def multitrack(folder: Path, passages: list[Passage], levels: dict[str, float],
               noise_dbfs: dict[str, float], *, bleed_db: float = -25.0,
               delay: float = 0.003, late: dict[str, float] | None = None,
               rate: int = 44100, bleed_into: tuple[str, ...] | None = None) -> Recording:
    """Write one mono recording per voice (``<voice>.wav``): the voice speaking its
    passages at ``levels[voice]`` LUFS, a pink room noise at ``noise_dbfs[voice]`` dBFS
    RMS, and every other voice leaking in ``bleed_db`` dB down, ``delay`` s late (3 ms:
    two microphones in one room; 0.2 s: a remote guest on speakers).  ``late[voice]`` s
    are cut from the start of that voice's file (its recorder started late).
    ``bleed_into``: the voices whose tracks carry the others' bleed (default all; only
    the guest's, say, when the host wears headphones and the guest listens on speakers)."""
    duration = max(p.end for p in passages) + 1.0
    work = folder / ".voices"
    work.mkdir(parents=True, exist_ok=True)
    voices, noises = {}, {}
    for voice in sorted({p.voice for p in passages}):
        raw = work / f"{voice}.wav"
        _voice_track(raw, voice, passages, duration, rate)
        gain = levels[voice] - ebur128(raw)["lufs"]
        voices[voice] = decode(raw, rate) * 10 ** (gain / 20)
        noise = work / f"{voice}-noise.wav"
        seed = 100 + len(noises)
        run_ffmpeg("-f", "lavfi", "-i", f"anoisesrc=d={duration}:c=pink:r={rate}:a=0.1:"
                   f"seed={seed}", "-c:a", "pcm_f32le", str(noise))
        samples = decode(noise, rate)
        rms = float(np.sqrt(np.mean(samples ** 2)))
        noises[voice] = samples * 10 ** (noise_dbfs[voice] / 20) / rms
    size = min(v.size for v in [*voices.values(), *noises.values()])
    shift = round(delay * rate)
    paths = {}
    for voice in voices:
        track = voices[voice][:size] + noises[voice][:size]
        for other in voices:
            if other != voice and (bleed_into is None or voice in bleed_into):
                leak = np.concatenate([np.zeros(shift), voices[other][:size - shift]])
                track = track + 10 ** (bleed_db / 20) * leak
        cut = round((late or {}).get(voice, 0.0) * rate)
        paths[voice] = _write_float_wav(folder / f"{voice}.wav", track[cut:], rate)
    return Recording(paths=paths, voices={k: v[:size] for k, v in voices.items()},
                     noises={k: v[:size] for k, v in noises.items()}, rate=rate)
