"""Regenerate the demo show's raw interviews (committed under episodes/*/).

Each interview alternates a host (close mic, about -20 LUFS) and a guest recorded
much quieter (a "remote call": about 12-16 LU below the host, band-limited, with room
noise), which is exactly what the speaker leveller in `podcast master` has to fix.

Needs espeak-ng (Debian package ``espeak-ng``); the committed files make it optional.
Run from the repository root:  python scripts/make_demo_audio.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import WhiteNoise

from podcast.binaries import ffmpeg

ROOT = Path(__file__).resolve().parent.parent

EPISODES = {
    "001-sonia-mamin": dict(
        file="interview.mp3",
        guest_gain=-14.0,
        lines=[
            ("host", "Bonjour et bienvenue dans Salons et Rencontres. Aujourd'hui, je reçois "
                     "Sonia Mamin, directrice de One to One Monaco."),
            ("guest", "Bonjour, merci de m'accueillir. C'est un plaisir d'être ici."),
            ("host", "Sonia, l'année a été difficile pour les salons. Reports, annulations, "
                     "comment avez-vous vécu cette période ?"),
            ("guest", "Nous avons dû tout repenser. Le salon est devenu phygital : une partie "
                      "sur place, une partie en ligne, et les rendez-vous d'affaires "
                      "continuent."),
            ("host", "Et vos exposants, ils ont suivi ?"),
            ("guest", "Oui, la plupart. Ils ont compris que le contact humain reste essentiel, "
                      "mais que le numérique élargit l'audience."),
            ("host", "Merci Sonia. À très bientôt."),
        ],
    ),
    "002-marc-olivier": dict(
        file="interview.m4a",
        guest_gain=-16.0,
        lines=[
            ("host", "Bienvenue dans ce deuxième épisode. Mon invité est Marc Olivier, "
                     "organisateur de congrès médicaux."),
            ("guest", "Bonjour à tous, et merci pour l'invitation."),
            ("host", "Marc, qu'est-ce qui a changé dans l'organisation d'un congrès ?"),
            ("guest", "Tout commence plus tôt. Les participants réservent plus tard, alors il "
                      "faut des contrats plus souples avec les hôtels et les lieux."),
            ("host", "Un conseil pour nos auditeurs ?"),
            ("guest", "Écoutez vos participants, et mesurez tout ce que vous faites."),
        ],
    ),
    "003-claire-dubois": dict(
        file="interview.flac",
        guest_gain=-12.0,
        lines=[
            ("host", "Dans cet épisode, Claire Dubois nous parle des salons éco-responsables."),
            ("guest", "Merci. Un salon peut réduire ses déchets de moitié en une édition."),
            ("host", "Comment faire concrètement ?"),
            ("guest", "Des stands réutilisables, moins d'impressions, et des traiteurs locaux."),
        ],
    ),
}

VOICES = {"host": "fr+m3", "guest": "fr+f2"}


def speak(text: str, voice: str, folder: Path, index: int) -> AudioSegment:
    """Synthesize one line with espeak-ng."""
    wav = folder / f"line{index}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True)
    return AudioSegment.from_wav(wav).set_frame_rate(44100)


def build(slug: str, spec: dict) -> Path:
    """Assemble one interview at deliberately different speaker levels."""
    AudioSegment.converter = ffmpeg()
    with tempfile.TemporaryDirectory() as tmp:
        program = AudioSegment.silent(duration=500, frame_rate=44100)
        for index, (who, text) in enumerate(spec["lines"]):
            line = speak(text, VOICES[who], Path(tmp), index)
            if who == "host":
                line = line.apply_gain(-20.0 - line.dBFS + 3)
            else:
                # A remote guest: quieter, telephone-ish band, some room noise.
                line = line.low_pass_filter(3400).high_pass_filter(300)
                line = line.apply_gain(-20.0 - line.dBFS + 3 + spec["guest_gain"])
                noise = WhiteNoise().to_audio_segment(duration=len(line), volume=-62)
                line = line.overlay(noise.set_frame_rate(44100).set_channels(1))
            program += line + AudioSegment.silent(duration=700, frame_rate=44100)
        out = ROOT / "episodes" / slug / spec["file"]
        out.parent.mkdir(parents=True, exist_ok=True)
        codec = {".mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
                 ".m4a": ["-c:a", "aac", "-b:a", "64k"],
                 ".flac": ["-c:a", "flac", "-ar", "16000"]}[out.suffix]
        program.export(out, format=out.suffix[1:].replace("m4a", "ipod"),
                       parameters=codec[2:] if out.suffix != ".flac" else ["-ar", "16000"])
        return out


if __name__ == "__main__":
    for slug, spec in EPISODES.items():
        path = build(slug, spec)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")
