"""A second rendition of a finished master: Opus or AAC for ``podcast:alternateEnclosure``.

Made from the master MP3 (already levelled, limited and cut) by one ffmpeg run, so it plays
the same programme: same loudness, same chapter and transcript times.  The encoders and the
muxers run bit-exact (no random Ogg serial number, no creation time): the same master
always gives the same bytes, and so the same content-addressed key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..binaries import ffmpeg, run
from ..errors import AudioError


@dataclass(frozen=True)
class Kind:
    """How a rendition is made (ffmpeg ``codec``, ``muxer``) and described in the feed."""

    suffix: str
    type: str  # MIME type
    codecs: str  # RFC 6381
    codec: str
    muxer: str
    bitrate: int  # bits per second
    title: str


#: ``audio.rendition`` in podcast.yaml -> its kind.  Opus in Ogg is ``audio/ogg``
#: (RFC 7845); AAC-LC in MP4 is ``audio/mp4`` (RFC 4337).  Bitrates: clear speech at half
#: (Opus) or two thirds (AAC) of the MP3's 96 kbps.
KINDS = {
    "opus": Kind(".opus", "audio/ogg", "opus", "libopus", "ogg", 48000, "Opus"),
    "aac": Kind(".m4a", "audio/mp4", "mp4a.40.2", "aac", "mp4", 64000, "AAC"),
}


@dataclass(frozen=True)
class RenditionFile:
    """An encoded rendition on disk."""

    path: Path
    kind: str  # a key of KINDS
    bytes: int
    sha256: str


def rendition_path(master: Path, kind: str) -> Path:
    """Where the rendition of ``master`` is cached: beside it, named after it."""
    return master.with_suffix(KINDS[kind].suffix)


def encode_rendition(master: Path, kind: str, out: Path | None = None) -> RenditionFile:
    """Encode ``master`` as ``kind`` (opus, aac) into ``out`` (default: beside the master),
    reusing a file already there.  AudioError if ffmpeg fails."""
    spec = KINDS[kind]
    out = out or rendition_path(master, kind)
    if not out.is_file() or out.stat().st_mtime < master.stat().st_mtime:
        _encode(master, out, spec)
    data = out.read_bytes()
    return RenditionFile(path=out, kind=kind, bytes=len(data),
                         sha256=hashlib.sha256(data).hexdigest())


def _encode(master: Path, out: Path, spec: Kind) -> None:
    temp = out.with_name(f".{out.name}.part")
    command = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y",
               "-i", str(master), "-map", "0:a", "-map_metadata", "-1",
               "-fflags", "+bitexact", "-flags:a", "+bitexact",
               "-c:a", spec.codec, "-b:a", str(spec.bitrate), "-f", spec.muxer]
    if spec.muxer == "mp4":
        command += ["-movflags", "+faststart"]  # the index first: apps play while loading
    done = run([*command, str(temp)], capture_output=True, timeout=3600)
    if done.returncode != 0 or not temp.is_file():
        temp.unlink(missing_ok=True)
        message = done.stderr.decode("utf-8", "replace").strip()[-500:]
        raise AudioError(f"could not encode the {spec.title} rendition: {message}",
                         file=master, fix="check that ffmpeg has the encoder "
                         f"({spec.codec}), or remove `audio.rendition`")
    temp.replace(out)
