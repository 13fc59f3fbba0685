"""Storage stage: one small interface over a local folder (``file://``) and S3 (``s3://``).

Publishing needs only a handful of operations: put a file or some bytes under a key with an
explicit Content-Type and Cache-Control, read an object's size and sha256 back (to verify an
upload), read, list and delete.  Both backends keep the sha256 of every object they wrote, so
a verification never trusts an ETag (multipart ETags are not content hashes).

The manifest (the :class:`~podcast.model.Catalog`) lives in the store too, so a fresh CI
checkout without the masters can still rebuild the feed.  It is *state*, not something to
publish: it names scheduled episodes and their media, so it sits in the store's private area
``.podcast/`` (``podcast serve`` refuses dot-paths; on S3 the bucket policy in the README
denies them), beside the media of scheduled episodes held back until their time
(``.podcast/staged/<key>``).  A manifest at the old public key ``podcast-manifest.json`` is
read when the new one is missing, and removed once the new one is written.

Several publishers may write one store at once (two producers, a producer and the nightly
``feed --upload``): the manifest is only ever changed by :func:`update_catalog`, a
read-modify-write that re-reads and re-applies its change when someone else wrote first
(S3: a conditional PUT on the manifest's ETag; ``file://``: under an exclusive lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlparse

from .errors import StorageError
from .files import atomic_writer, sha256_file, sweep_stale_temps
from .model import Catalog, Media, Show, Timeline
from .text import redacted, safe_url

#: The store's private area: never linked, refused by ``podcast serve``, denied by the
#: bucket policy (README, "Distribute").
STATE_PREFIX = ".podcast/"
MANIFEST_KEY = ".podcast/manifest.json"
#: Where versions before the embargo kept the manifest: public, so it is moved away.
LEGACY_MANIFEST_KEY = "podcast-manifest.json"
#: Media of scheduled episodes wait here (same key below it) until their release.
STAGED_PREFIX = ".podcast/staged/"
#: ``file://`` only: the lock file publishers take around the manifest and feed writes.
LOCK_KEY = ".podcast/.publish.lock"  # a dotfile: a lock, not one of the store's objects
MANIFEST_VERSION = 1
#: Seconds a publish waits for another one's lock (``PODCAST_LOCK_TIMEOUT``).
LOCK_TIMEOUT = 300.0
#: Read-modify-write rounds of the manifest before giving up (each after a re-read).
MANIFEST_ATTEMPTS = 12

#: Content-addressed objects (audio, art, chapters, transcripts) never change under a key.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
#: The feed and pages change in place: apps and CDNs must come back soon.
SHORT_CACHE = "public, max-age=300"
#: State (manifest, held-back media) is never to be kept by a CDN or a browser.
PRIVATE_CACHE = "private, no-store"

#: Content types by extension (Apple's hosting requirements and the podcast-namespace docs).
CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".opus": "audio/ogg",  # Opus in Ogg (RFC 7845): audio.rendition
    ".m4a": "audio/mp4",
    ".xml": "application/rss+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".chapters.json": "application/json+chapters",
    ".json": "application/json",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

#: Keys are plain ASCII path segments: safe in URLs, S3, file systems and logs.
KEY_RE = re.compile(r"^[A-Za-z0-9._\-]+(?:/[A-Za-z0-9._\-]+)*$")

Progress = Callable[[int], None]


class MissingObject(StorageError):
    """The store works but holds no object under this key."""


class WriteConflict(StorageError):
    """A conditional write found the object changed (or created) since it was read."""


def content_type(key: str) -> str:
    """The Content-Type to store ``key`` with, from its extension."""
    name = key.lower()
    if name.endswith(".chapters.json"):
        return CONTENT_TYPES[".chapters.json"]
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def cache_control(key: str) -> str:
    """Long immutable cache for content-addressed media and art, none for state, short for
    the rest."""
    if is_state_key(key):
        return PRIVATE_CACHE
    return IMMUTABLE_CACHE if key.startswith(("media/", "art/")) else SHORT_CACHE


def is_state_key(key: str) -> bool:
    """Whether ``key`` is state that must never be served (the manifest, held-back media)."""
    return key.startswith(STATE_PREFIX) or key == LEGACY_MANIFEST_KEY


def staged_key(key: str) -> str:
    """Where the object of public ``key`` waits, privately, until its episode's release."""
    return STAGED_PREFIX + check_key(key)


def check_key(key: str) -> str:
    """``key`` if it is a safe ASCII object key, else StorageError (a bug, or a bad slug)."""
    if not KEY_RE.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise StorageError(f"{key!r} is not a valid object key",
                           fix="keys are ASCII letters, digits, '.', '_', '-' and '/' only")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object."""

    key: str
    size: int
    sha256: str | None  # None when another tool wrote the object without our metadata


class ReadableStore(Protocol):
    """The reads a feed check needs: a Store, or the store as a coming release sees it."""

    @property
    def url(self) -> str: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def get_bytes(self, key: str) -> bytes: ...


class Store(Protocol):
    """The operations publishing needs from an object store."""

    url: str

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str,
                 progress: Progress | None = None) -> ObjectInfo: ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str) -> ObjectInfo: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def copy(self, source: str, key: str, *, content_type: str,
             cache_control: str) -> ObjectInfo: ...

    def read_versioned(self, key: str) -> tuple[bytes, str] | None: ...

    def put_bytes_if(self, key: str, data: bytes, *, version: str | None, content_type: str,
                     cache_control: str) -> str: ...

    def exclusive(self) -> contextlib.AbstractContextManager[None]: ...


def _open_source(path: Path):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}", file=path,
                           fix="check the file exists and is readable") from None


# --- file:// ---------------------------------------------------------------------------


class FileStore:
    """Objects as files under a folder. Writes are atomic: temp file, then ``os.replace``.

    A local folder has no object metadata, so ``head`` hashes the file; Content-Type and
    Cache-Control are decided again from the key when the folder is served.
    """

    def __init__(self, folder: Path, url: str | None = None) -> None:
        self.folder = Path(folder)
        self.url = url or f"file://{self.folder}"

    def path(self, key: str) -> Path:
        """The file that holds ``key``."""
        return self.folder / check_key(key)

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> Path:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            sweep_stale_temps(target)
            with atomic_writer(target) as handle:
                fill(handle)
        except OSError as exc:
            raise StorageError(f"cannot write {target}: {exc.strerror}", file=target,
                               fix="check the folder is writable and the disk has space"
                               ) from None
        return target

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str,
                 progress: Progress | None = None) -> ObjectInfo:
        """Copy ``path`` to ``key`` atomically."""
        digest = hashlib.sha256()
        source = _open_source(path)

        def fill(out) -> None:
            while block := source.read(1 << 20):
                out.write(block)
                digest.update(block)
                if progress:
                    progress(len(block))

        with source:
            target = self._write(key, fill)
        return ObjectInfo(key, target.stat().st_size, digest.hexdigest())

    def put_bytes(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str) -> ObjectInfo:
        """Write ``data`` to ``key`` atomically."""
        self._write(key, lambda out: out.write(data))
        return ObjectInfo(key, len(data), hashlib.sha256(data).hexdigest())

    def head(self, key: str) -> ObjectInfo | None:
        """Size and sha256 of ``key``, or None if absent."""
        target = self.path(key)
        if not target.is_file():
            return None
        return ObjectInfo(key, target.stat().st_size, sha256_file(target))

    def get_bytes(self, key: str) -> bytes:
        """The bytes of ``key``; StorageError if absent."""
        target = self.path(key)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise MissingObject(f"no object {key!r} in {self.url}", file=target) from None

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self.path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix``, sorted; temp files of writes in flight skipped."""
        if not self.folder.is_dir():
            return []
        keys = []
        for path in self.folder.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.folder).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if already gone)."""
        self.path(key).unlink(missing_ok=True)

    def copy(self, source: str, key: str, *, content_type: str,
             cache_control: str) -> ObjectInfo:
        """Copy the object ``source`` to ``key`` atomically; MissingObject if it is absent."""
        if not self.path(source).is_file():
            raise MissingObject(f"no object {source!r} in {self.url}", file=self.path(source))
        return self.put_file(key, self.path(source), content_type=content_type,
                             cache_control=cache_control)

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The bytes of ``key`` and their version (their sha256), or None if absent."""
        try:
            data = self.get_bytes(key)
        except MissingObject:
            return None
        return data, hashlib.sha256(data).hexdigest()

    def put_bytes_if(self, key: str, data: bytes, *, version: str | None, content_type: str,
                     cache_control: str) -> str:
        """Write ``data`` if ``key`` is still at ``version`` (None: still absent); else
        WriteConflict.  Check and write are one step only under :meth:`exclusive`, which
        every manifest writer holds."""
        found = self.read_versioned(key)
        if (found[1] if found else None) != version:
            raise WriteConflict(f"{key} changed since it was read", file=self.path(key))
        self.put_bytes(key, data, content_type=content_type, cache_control=cache_control)
        return hashlib.sha256(data).hexdigest()

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold the folder's publish lock (``.podcast/.publish.lock``) for the block (see
        :func:`file_lock`)."""
        return file_lock(self.path(LOCK_KEY),
                         "another `podcast publish` or `podcast feed --upload`")


@contextlib.contextmanager
def file_lock(path: Path, holder: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block.

    Released by the kernel when the holder ends, even killed, so a crashed run never
    leaves a stale lock behind.  StorageError naming ``holder`` (who else takes this lock)
    after ``lock_timeout()``.
    """
    import fcntl

    timeout = lock_timeout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a")
    except OSError as exc:
        raise StorageError(f"cannot open the lock file {path}: {exc.strerror}", file=path,
                           fix="check the folder is writable") from None
    with handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StorageError(
                        f"{holder} has held the lock {path} for over {timeout:g} s",
                        file=path, fix="let it finish and run this again (the lock goes "
                                       "when that process ends; PODCAST_LOCK_TIMEOUT=SECONDS "
                                       "waits longer)") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_timeout() -> float:
    """Seconds to wait for another publisher's lock (``PODCAST_LOCK_TIMEOUT``, default 300)."""
    text = os.environ.get("PODCAST_LOCK_TIMEOUT")
    try:
        value = float(text) if text else LOCK_TIMEOUT
        if value < 0:
            raise ValueError
    except ValueError:
        raise StorageError("PODCAST_LOCK_TIMEOUT is not a number of seconds",
                           field="PODCAST_LOCK_TIMEOUT", fix="e.g. 600, or unset it") from None
    return value


# --- s3:// -----------------------------------------------------------------------------

#: Multipart above 16 MiB: a 60-minute mono master (~43 MB) goes up in 3 parts that are
#: retried one by one instead of as a whole.
MULTIPART_BYTES = 16 * 1024 * 1024
#: botocore "standard" retry mode: bounded exponential backoff with jitter, on throttling,
#: 5xx and connection errors; this many attempts in all, the first one included.
RETRY_ATTEMPTS = 6
#: Full-jitter backoff for the retries done here (botocore's own: base 1 s, cap 20 s).
BACKOFF_BASE, BACKOFF_CAP = 0.2, 5.0


class S3Store:
    """Objects in an S3 bucket under a prefix, through boto3.

    Credentials come from boto3's standard chain (env, profile, instance role) and
    ``AWS_ENDPOINT_URL`` points it at any S3-compatible service.  No ACL is sent: public
    access is the bucket policy's business, and many buckets refuse ACLs outright.
    """

    def __init__(self, bucket: str, prefix: str = "", *, url: str | None = None,
                 client=None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = safe_url(url or f"s3://{bucket}/{self.prefix}".rstrip("/"))  # for messages
        self.client = client or s3_client()

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        return storage_error(action, f"s3://{self.bucket}/{self._key(key)}", exc)

    def put_file(self, key: str, path: Path, *, content_type: str, cache_control: str,
                 progress: Progress | None = None) -> ObjectInfo:
        """Upload ``path`` (multipart when large) with its sha256 in the object metadata."""
        from boto3.s3.transfer import TransferConfig

        _open_source(path).close()
        digest = sha256_file(path)
        config = TransferConfig(multipart_threshold=MULTIPART_BYTES,
                                multipart_chunksize=MULTIPART_BYTES)
        extra = {"ContentType": content_type, "CacheControl": cache_control,
                 "Metadata": {"sha256": digest}}
        try:
            self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=extra,
                                    Config=config, Callback=progress)
        except s3_errors() as exc:
            raise self._fail("upload", key, exc) from exc
        return ObjectInfo(key, path.stat().st_size, digest)

    def put_bytes(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str) -> ObjectInfo:
        """Upload ``data`` in one request with its sha256 in the object metadata."""
        digest = hashlib.sha256(data).hexdigest()
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                   ContentType=content_type, CacheControl=cache_control,
                                   Metadata={"sha256": digest})
        except s3_errors() as exc:
            raise self._fail("upload", key, exc) from exc
        return ObjectInfo(key, len(data), digest)

    def head(self, key: str) -> ObjectInfo | None:
        """Size and stored sha256 of ``key``, or None if absent."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("read", key, exc) from exc
        except s3_errors() as exc:
            raise self._fail("read", key, exc) from exc
        return ObjectInfo(key, int(answer["ContentLength"]),
                          (answer.get("Metadata") or {}).get("sha256"))

    def get_bytes(self, key: str) -> bytes:
        """The bytes of ``key``; StorageError if absent (a cut-off body is fetched again)."""
        try:
            return read_object(self.client, self.bucket, self._key(key))
        except s3_errors() as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                raise MissingObject(f"no object {key!r} in {self.url}",
                                    file=f"s3://{self.bucket}/{self._key(key)}") from None
            raise self._fail("download", key, exc) from exc

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self.head(key) is not None

    def list(self, prefix: str = "") -> list[str]:
        """Every key under this store's prefix starting with ``prefix``, sorted."""
        full = (f"{self.prefix}/" if self.prefix else "") + prefix
        keys = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full)
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    keys.append(key[len(self.prefix) + 1:] if self.prefix else key)
        except s3_errors() as exc:
            raise self._fail("list", prefix or "", exc) from exc
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if already gone)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except s3_errors() as exc:
            raise self._fail("delete", key, exc) from exc

    def copy(self, source: str, key: str, *, content_type: str,
             cache_control: str) -> ObjectInfo:
        """Server-side copy of ``source`` to ``key`` with these headers (no bytes through
        this machine, so CI releases a scheduled episode without its master)."""
        info = self.head(source)
        if info is None:
            raise MissingObject(f"no object {source!r} in {self.url}",
                                file=f"s3://{self.bucket}/{self._key(source)}")
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=self._key(key),
                CopySource={"Bucket": self.bucket, "Key": self._key(source)},
                MetadataDirective="REPLACE", ContentType=content_type,
                CacheControl=cache_control, Metadata={"sha256": info.sha256 or ""})
        except s3_errors() as exc:
            raise self._fail("copy to", key, exc) from exc
        return ObjectInfo(key, info.size, info.sha256)

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The bytes of ``key`` and their ETag, or None if absent."""
        try:
            return read_object_versioned(self.client, self.bucket, self._key(key))
        except s3_errors() as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise self._fail("download", key, exc) from exc

    def put_bytes_if(self, key: str, data: bytes, *, version: str | None, content_type: str,
                     cache_control: str) -> str:
        """A conditional PUT: ``If-Match: version`` (``If-None-Match: *`` when None).

        WriteConflict when the object changed meanwhile (412, 409, or 404 for an If-Match on
        an object deleted meanwhile).  Returns the new ETag.
        """
        condition = {"IfNoneMatch": "*"} if version is None else {"IfMatch": version}
        try:
            answer = self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type,
                CacheControl=cache_control,
                Metadata={"sha256": hashlib.sha256(data).hexdigest()}, **condition)
        except s3_errors() as exc:
            if _error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict",
                                    "409", "NoSuchKey", "404"):
                raise WriteConflict(f"{key} changed since it was read",
                                    file=f"s3://{self.bucket}/{self._key(key)}") from None
            raise self._fail("upload", key, exc) from exc
        return str(answer.get("ETag", ""))

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """No lock on S3: the manifest is written with conditional PUTs instead."""
        return contextlib.nullcontext()


def _error_code(exc: Exception) -> str:
    """The S3 error code of a botocore ClientError (``NoSuchKey``, ``404``...), else ''."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def read_object(client, bucket: str, key: str) -> bytes:
    """The bytes of one S3 object, read whole (see :func:`read_object_versioned`)."""
    return read_object_versioned(client, bucket, key)[0]


def read_object_versioned(client, bucket: str, key: str) -> tuple[bytes, str]:
    """The bytes of one S3 object, read whole, and its ETag.

    botocore retries a request that fails, but not a body cut off after the headers
    arrived; that is retried here, with the same bounded exponential backoff.  Any other
    error, or a body still cut on the last attempt, is raised as botocore raised it.
    """
    from botocore.exceptions import (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
    from urllib3.exceptions import HTTPError as Urllib3Error

    broken_body = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError,
                   ConnectionClosedError, Urllib3Error)
    attempts = (client.meta.config.retries or {}).get("total_max_attempts") or RETRY_ATTEMPTS
    for attempt in range(attempts):
        try:
            answer = client.get_object(Bucket=bucket, Key=key)
            return answer["Body"].read(), str(answer.get("ETag", ""))
        except broken_body:
            if attempt + 1 == attempts:
                raise
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)))
    raise AssertionError("unreachable")


def s3_client():
    import boto3
    from botocore.config import Config

    # AWS_MAX_ATTEMPTS / AWS_RETRY_MODE still win, as everywhere else in the AWS tools; like
    # theirs, AWS_MAX_ATTEMPTS counts every attempt, the first one included.
    try:
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or RETRY_ATTEMPTS)
        if attempts < 1:
            raise ValueError
    except ValueError:
        raise StorageError("AWS_MAX_ATTEMPTS is not a whole number of attempts (1 or more)",
                           field="AWS_MAX_ATTEMPTS", fix="e.g. 5, or unset it") from None
    retries = {"total_max_attempts": attempts,
               "mode": os.environ.get("AWS_RETRY_MODE") or "standard"}
    # A server that goes silent costs one read timeout, then a retry (not a hung publish).
    try:
        read_timeout = float(os.environ.get("PODCAST_S3_READ_TIMEOUT") or 60)
    except ValueError:
        raise StorageError("PODCAST_S3_READ_TIMEOUT is not a number of seconds",
                           field="PODCAST_S3_READ_TIMEOUT", fix="e.g. 30, or unset it") from None
    config = Config(retries=retries, connect_timeout=10, read_timeout=read_timeout)
    if os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3"):
        # S3-compatible servers (MinIO, SeaweedFS, moto) rarely have wildcard DNS for
        # bucket.host names: address buckets in the path.
        config = config.merge(Config(s3={"addressing_style": "path"}))
    return boto3.client("s3", config=config)


def s3_errors() -> tuple[type[Exception], ...]:
    """What boto3 raises when an S3 call fails (imported late: boto3 is slow to import)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    return (Boto3Error, BotoCoreError, ClientError, HTTPError)


def storage_error(action: str, where: str, exc: Exception) -> StorageError:
    """A StorageError that says what failed and what usually fixes it (never a secret)."""
    error = _describe_error(action, where, exc)
    error.message = redacted(error.message)  # boto quotes the endpoint URL it failed on
    error.args = (str(error),)
    return error


def _describe_error(action: str, where: str, exc: Exception) -> StorageError:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        EndpointResolutionError,
        NoCredentialsError,
    )

    if isinstance(exc, NoCredentialsError):
        return StorageError(f"cannot {action} {where}: no AWS credentials found",
                            fix="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile)")
    if isinstance(exc, EndpointResolutionError):
        return StorageError(f"cannot {action} {where}: {exc}",
                            fix="set AWS_ENDPOINT_URL to a URL such as http://host:9000; "
                                "credentials go in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                                "not in the URL")
    if isinstance(exc, EndpointConnectionError):
        return StorageError(f"cannot {action} {where}: {exc}",
                            fix="check AWS_ENDPOINT_URL and that the server is running")
    code = ""
    cause = exc.__context__ if not isinstance(exc, ClientError) else exc
    if isinstance(cause, ClientError):
        code = cause.response.get("Error", {}).get("Code", "")
    fixes = {
        "NoSuchBucket": "create the bucket, or fix `storage:` in podcast.yaml",
        "AccessDenied": "give these credentials s3:PutObject/GetObject/ListBucket/DeleteObject",
        "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID",
        "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY",
    }
    return StorageError(f"cannot {action} {where}: {exc}",
                        fix=fixes.get(code, "check the storage URL, credentials and network"))


# --- opening a store and the manifest ----------------------------------------------------


def open_store(url: str, root: Path) -> Store:
    """The store for ``file://PATH`` (relative to ``root``) or ``s3://BUCKET/PREFIX``."""
    if url.startswith("file://"):
        text = url[len("file://"):]
        if not text:
            raise StorageError(f"{url!r} names no folder", field="storage",
                               fix="write file://public or file:///absolute/path")
        folder = Path(text)
        return FileStore(folder if folder.is_absolute() else Path(root) / folder, url)
    if url.startswith("s3://"):
        bucket, prefix = parse_s3_url(url, field="storage")
        return S3Store(bucket, prefix, url=url.rstrip("/"))
    raise StorageError(f"{safe_url(url)!r} is not a storage URL", field="storage",
                       fix="write file://FOLDER or s3://BUCKET/PREFIX")


def parse_s3_url(url: str, *, field: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://BUCKET/PREFIX``; StorageError for a URL without a
    bucket or with user info or a query (a secret there would be printed and sent)."""
    parsed = urlparse(url)
    if not parsed.netloc:
        raise StorageError(f"{safe_url(url)!r} names no bucket", field=field,
                           fix="write s3://BUCKET or s3://BUCKET/PREFIX")
    if "@" in parsed.netloc or parsed.query or parsed.fragment:
        raise StorageError(f"{safe_url(url)!r} carries user info or a query", field=field,
                           fix="write s3://BUCKET/PREFIX; credentials go in "
                               "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile")
    return parsed.netloc, parsed.path.lstrip("/")


def catalog_to_json(catalog: Catalog) -> bytes:
    """The manifest bytes: stable (sorted keys, fixed layout) so unchanged means identical.

    ``staged`` is written only while something is held back, so a show with nothing
    scheduled keeps the manifest layout of earlier versions.
    """
    document: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "image_key": catalog.image_key,
        "media": {slug: asdict(media) for slug, media in sorted(catalog.media.items())},
        "retired": [asdict(media) for media in catalog.retired],
    }
    if catalog.staged:
        document["staged"] = sorted(set(catalog.staged))
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


def _media(item: dict) -> Media:
    """A manifest entry.  One written before timelines were recorded reads as no intro and
    no cuts; its master is made again at the next publish (``publish.MASTER_VERSION``)."""
    return Media(**{**item, "timeline": Timeline.from_dict(item.get("timeline"))})


def catalog_from_json(data: bytes, where: str = MANIFEST_KEY) -> Catalog:
    """Parse manifest bytes; StorageError naming the object if they are not a manifest."""
    try:
        document = json.loads(data)
        if document.get("version") != MANIFEST_VERSION:
            raise ValueError(f"unknown manifest version {document.get('version')!r}")
        media = {slug: _media(item) for slug, item in document.get("media", {}).items()}
        retired = tuple(_media(item) for item in document.get("retired", []))
        staged = document.get("staged", [])
        if not isinstance(staged, list) or not all(isinstance(k, str) for k in staged):
            raise ValueError("'staged' is not a list of keys")
    except (ValueError, TypeError, AttributeError) as exc:
        raise StorageError(f"the manifest is damaged: {exc}", file=where,
                           fix="restore it from a backup, or delete it and run "
                               "`podcast publish` to re-create it") from None
    return Catalog(media=media, retired=retired, image_key=document.get("image_key"),
                   staged=tuple(sorted(set(staged))))


@dataclass(frozen=True)
class Manifest:
    """The manifest as read: its catalog, its bytes and version (None: there is none yet),
    and whether it came from the old public key."""

    catalog: Catalog
    data: bytes | None = None
    version: str | None = None
    legacy: bool = False


def read_manifest(store: Store) -> Manifest:
    """The manifest in ``store``: the private one, else the one at the old public key (a
    store published before the move), else an empty catalog before the first publish.

    Read with a GET, not a HEAD: S3 answers a HEAD in a missing bucket with a bare 404, but
    a GET says NoSuchBucket, so a wrong bucket fails here, before anything is mastered.
    """
    for key, legacy in ((MANIFEST_KEY, False), (LEGACY_MANIFEST_KEY, True)):
        found = store.read_versioned(key)
        if found is not None:
            data, version = found
            return Manifest(catalog_from_json(data, f"{store.url}/{key}"), data,
                            None if legacy else version, legacy)
    return Manifest(Catalog())


def read_catalog(store: Store) -> Catalog:
    """The catalog in ``store`` (see :func:`read_manifest`); read only, changes nothing."""
    return read_manifest(store).catalog


def write_catalog(store: Store, catalog: Catalog) -> bool:
    """Store the catalog as the manifest, whatever is there; True if the bytes changed.

    For setting a store up (tests, a restore).  Publishing goes through
    :func:`update_catalog`, which never loses another publisher's change.
    """
    data = catalog_to_json(catalog)
    found = store.read_versioned(MANIFEST_KEY)
    if found is not None and found[0] == data:
        return False
    store.put_bytes(MANIFEST_KEY, data, content_type="application/json",
                    cache_control=PRIVATE_CACHE)
    return True


@dataclass(frozen=True)
class Committed:
    """The manifest after :func:`update_catalog`: its catalog and version, and whether this
    call wrote it."""

    catalog: Catalog
    version: str | None
    written: bool


def update_catalog(store: Store, change: Callable[[Catalog], Catalog]) -> Committed:
    """Apply ``change`` to the stored catalog and store the result, safe against other
    publishers writing at the same time.

    ``change`` must be idempotent (applying it twice = once): it is applied to the latest
    manifest, and applied again after a re-read whenever another publisher wrote first.
    The write is conditional on the version read (S3: ``If-Match`` the ETag, or
    ``If-None-Match: *`` to create; ``file://``: checked under the caller's
    :meth:`~FileStore.exclusive` lock).  Read back afterwards: on a server that ignored the
    condition and let a later write replace ours, our change is applied again.  A manifest
    still at the old public key is moved to the private one and the old one deleted.
    Whatever the order of writers, no key a manifest ever listed is dropped.
    """
    for attempt in range(MANIFEST_ATTEMPTS):
        current = read_manifest(store)
        catalog = change(current.catalog)
        _check_nothing_dropped(current.catalog, catalog, store)
        data = catalog_to_json(catalog)
        if (current.data == data and not current.legacy) or (
                current.data is None and catalog == Catalog()):
            _drop_legacy_manifest(store)
            return Committed(catalog, current.version, written=False)
        try:
            store.put_bytes_if(MANIFEST_KEY, data, version=current.version,
                               content_type="application/json", cache_control=PRIVATE_CACHE)
        except WriteConflict:
            _pause(attempt)
            continue
        back = read_manifest(store)
        if back.data != data and change(back.catalog) != back.catalog:
            _pause(attempt)  # replaced by a writer that had not seen ours: apply it again
            continue
        _drop_legacy_manifest(store)
        return Committed(back.catalog, back.version, written=True)
    raise StorageError(f"the manifest in {store.url} kept changing while this run wrote it "
                       f"({MANIFEST_ATTEMPTS} attempts)", file=f"{store.url}/{MANIFEST_KEY}",
                       fix="run the command again once the other publishes have finished")


def manifest_version(store: Store) -> str | None:
    """The stored manifest's current version (None when there is none)."""
    found = store.read_versioned(MANIFEST_KEY)
    return found[1] if found else None


def _check_nothing_dropped(before: Catalog, after: Catalog, store: Store) -> None:
    """A manifest change may add and retire masters, never forget one (downloads of every
    key ever listed must still map to their episode)."""
    lost = {m.key for m in before.all_media()} - {m.key for m in after.all_media()}
    if lost:
        raise StorageError(f"refusing to write a manifest that forgets {sorted(lost)}",
                           file=f"{store.url}/{MANIFEST_KEY}",
                           fix="this is a bug in podcast: nothing was written; report it")


def _drop_legacy_manifest(store: Store) -> None:
    """Delete the manifest at the old public key once the private one holds it."""
    if store.head(LEGACY_MANIFEST_KEY) is not None:
        store.delete(LEGACY_MANIFEST_KEY)


def _pause(attempt: int) -> None:
    """Full-jitter backoff between manifest rounds, so two writers stop colliding."""
    time.sleep(random.uniform(0, min(BACKOFF_CAP, 0.05 * 2 ** attempt)))


def load_catalog(show: Show, storage_url: str | None = None) -> Catalog:
    """What has been published for ``show``: the manifest in its (or the given) store."""
    return read_catalog(open_store(storage_url or show.storage, show.root))
