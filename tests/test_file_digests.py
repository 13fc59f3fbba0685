"""A recording's sha256 is kept with its stat, so an unchanged file is not read again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from podcast import files
from podcast.files import FileDigests


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files actually read and hashed."""
    seen: list[Path] = []
    real = files.sha256_file

    def counting(path: Path, chunk: int = 1 << 20) -> str:
        seen.append(path)
        return real(path, chunk)

    monkeypatch.setattr(files, "sha256_file", counting)
    return seen


def test_an_unchanged_file_is_hashed_once_across_runs(tmp_path: Path, reads: list[Path]):
    recording = tmp_path / "interview.wav"
    recording.write_bytes(b"RIFF" + bytes(5000))
    kept = tmp_path / ".podcast" / "digests.json"
    first = FileDigests(kept, settle=0)
    assert first.sha256(recording) == hashlib.sha256(recording.read_bytes()).hexdigest()
    first.save()
    again = FileDigests(kept, settle=0)
    assert again.sha256(recording) == first.sha256(recording)
    assert reads == [recording]


def test_a_change_of_the_same_size_is_seen(tmp_path: Path, reads: list[Path]):
    recording = tmp_path / "interview.wav"
    recording.write_bytes(b"a" * 100)
    digests = FileDigests(tmp_path / "digests.json", settle=0)
    before = digests.sha256(recording)
    stat = recording.stat()
    recording.write_bytes(b"b" * 100)
    # Even with the old modification time put back: the change time moved.
    os.utime(recording, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert digests.sha256(recording) == hashlib.sha256(b"b" * 100).hexdigest() != before
    assert len(reads) == 2


def test_a_file_replaced_by_another_is_read(tmp_path: Path, reads: list[Path]):
    recording = tmp_path / "interview.wav"
    recording.write_bytes(b"a" * 100)
    digests = FileDigests(tmp_path / "digests.json", settle=0)
    digests.sha256(recording)
    other = tmp_path / "new.wav"
    other.write_bytes(b"c" * 100)
    other.replace(recording)
    assert digests.sha256(recording) == hashlib.sha256(b"c" * 100).hexdigest()


def test_a_file_written_just_now_is_not_trusted_next_time(tmp_path: Path, reads: list[Path]):
    # A file system keeping times to the second could hide a second write in that second.
    recording = tmp_path / "interview.wav"
    recording.write_bytes(b"a" * 100)
    kept = tmp_path / "digests.json"
    digests = FileDigests(kept)  # the default: 2 s
    digests.sha256(recording)
    digests.save()
    FileDigests(kept).sha256(recording)
    assert len(reads) == 2
    assert not kept.exists()  # nothing was worth keeping


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"/x": 3}', ""])
def test_a_damaged_digests_file_means_hashing_again(tmp_path: Path, content: str):
    kept = tmp_path / "digests.json"
    kept.write_text(content)
    recording = tmp_path / "a.wav"
    recording.write_bytes(b"x")
    if content.startswith('{"/x"'):
        kept.write_text(f'{{"{recording.resolve()}": 3}}')
    assert FileDigests(kept, settle=0).sha256(recording) == hashlib.sha256(b"x").hexdigest()


def test_files_gone_are_dropped_and_an_unwritable_folder_is_no_error(tmp_path: Path):
    kept = tmp_path / "state" / "digests.json"
    gone, stays = tmp_path / "gone.wav", tmp_path / "stays.wav"
    gone.write_bytes(b"1")
    stays.write_bytes(b"2")
    digests = FileDigests(kept, settle=0)
    digests.sha256(gone)
    digests.sha256(stays)
    gone.unlink()
    digests.save()
    assert str(gone.resolve()) not in kept.read_text()
    assert str(stays.resolve()) in kept.read_text()
    blocked = tmp_path / "file"
    blocked.write_text("")
    cannot = FileDigests(blocked / "digests.json", settle=0)  # under a file: not writable
    cannot.sha256(stays)
    cannot.save()
