"""Regenerate the demo show's raw interviews (committed under episodes/*/).

Each interview alternates a host (close mic, about -20 LUFS) and a guest recorded
much quieter (a "remote call": about 12-16 LU below the host, band-limited, with room
noise), which is exactly what the speaker leveller in `podcast master` has to fix.

The multitrack episode (004) is a remote interview recorded one track per speaker: the
host's track (FLAC, 16 kHz, a quiet room) and the guest's (MP3, 44.1 kHz, 10 dB quieter,
a noisier room), and the guest listens on speakers, so the host's voice leaks into the
guest's track 25 dB down and 150 ms late: what `podcast master` levels, gates and mixes.

Needs espeak-ng (Debian package ``espeak-ng``); the committed files make it optional.
Run from the repository root:  python scripts/make_demo_audio.py [SLUG ...]
(no slug: every episode; espeak-ng versions differ, so regenerate only what you change).
"""

from __future__ import annotations

import subprocess
import sys
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

#: Multitrack episodes: one file per speaker; the guest's speech ``guest_gain`` dB under
#: the host's, each track's room noise (dBFS), and the host's voice leaking into the
#: guest's track ``bleed_db`` dB down and ``bleed_ms`` late (the guest on speakers).
TRACKS = {
    "004-lea-fontaine": dict(
        files={"host": "host.flac", "guest": "guest.mp3"},
        guest_gain=-10.0,
        noise={"host": -70.0, "guest": -56.0},
        bleed_db=-25.0,
        bleed_ms=150,
        lines=[
            ("host", "Bienvenue dans ce quatrième épisode, enregistré à distance, une piste "
                     "par personne. Mon invitée est Léa Fontaine, qui dirige un salon du "
                     "livre à Lyon."),
            ("guest", "Bonjour Julien, merci de m'avoir invitée."),
            ("host", "Léa, qu'est-ce qui fait venir le public aujourd'hui ?"),
            ("guest", "Les rencontres. Les visiteurs veulent parler aux auteurs, pas "
                      "seulement acheter des livres."),
            ("host", "Même pour un salon aussi grand que le vôtre ?"),
            ("guest", "Tout à fait."),
            ("host", "Et le numérique, dans tout ça ?"),
            ("guest", "Il prépare la visite : le programme, le plan, les billets. Mais la "
                      "rencontre, elle, a lieu sur place."),
            ("host", "Merci Léa, et à bientôt."),
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


def room_noise(duration_ms: int, dbfs: float) -> AudioSegment:
    """White room noise of ``duration_ms`` at ``dbfs``, mono 44.1 kHz."""
    noise = WhiteNoise().to_audio_segment(duration=duration_ms, volume=dbfs)
    return noise.set_frame_rate(44100).set_channels(1)


def build_tracks(slug: str, spec: dict) -> list[Path]:
    """Record one multitrack interview: the lines on one timeline, each speaker's on its
    own track, the host's leaking into the guest's, each track with its own room."""
    AudioSegment.converter = ffmpeg()
    with tempfile.TemporaryDirectory() as tmp:
        placed, position = [], 500
        for index, (who, text) in enumerate(spec["lines"]):
            line = speak(text, VOICES[who], Path(tmp), index)
            gain = 0.0 if who == "host" else spec["guest_gain"]
            line = line.apply_gain(-20.0 - line.dBFS + 3 + gain)
            placed.append((who, position, line))
            position += len(line) + 700
        length = position + 500
        tracks = {who: AudioSegment.silent(duration=length, frame_rate=44100)
                  for who in spec["files"]}
        for who, start, line in placed:
            tracks[who] = tracks[who].overlay(line, position=start)
            if who == "host":
                # Heard through the guest's laptop speakers: thin, late, 25 dB down.
                leak = line.high_pass_filter(250).low_pass_filter(5000)
                tracks["guest"] = tracks["guest"].overlay(
                    leak.apply_gain(spec["bleed_db"]), position=start + spec["bleed_ms"])
        out = []
        for who, name in spec["files"].items():
            track = tracks[who].overlay(room_noise(length, spec["noise"][who]))
            path = ROOT / "episodes" / slug / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".flac":
                track.export(path, format="flac", parameters=["-ar", "16000"])
            else:
                track.export(path, format="mp3", parameters=["-b:a", "64k"])
            out.append(path)
        return out


if __name__ == "__main__":
    wanted = set(sys.argv[1:]) or set(EPISODES) | set(TRACKS)
    unknown = wanted - set(EPISODES) - set(TRACKS)
    if unknown:
        sys.exit(f"unknown episode(s): {', '.join(sorted(unknown))}; "
                 f"known: {', '.join([*EPISODES, *TRACKS])}")
    paths = [build(slug, spec) for slug, spec in EPISODES.items() if slug in wanted]
    for slug, spec in TRACKS.items():
        if slug in wanted:
            paths += build_tracks(slug, spec)
    for path in paths:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")
