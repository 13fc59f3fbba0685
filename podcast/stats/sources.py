"""The log files an ingest reads: local files and folders, and S3 objects (listed, then
downloaded by many fetchers at once, since S3 writes many small log objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podcast.errors import PodcastError

#: S3 objects downloaded at once (many small log objects: the network's wait dominates).
FETCHERS = 16


@dataclass(frozen=True)
class Source:
    """One log file to read: a local path, or an S3 object (bucket, key)."""

    name: str  # what the user sees and what the database remembers
    size: int
    stamp: str  # local: mtime in ns; S3: ETag — same name, size and stamp = unchanged
    path: Path | None = None
    s3: tuple[str, str] | None = None


def expand_sources(sources: list[str]) -> list[Source]:
    """Every log file named by ``sources``: files, folders (recursively) and s3:// URLs."""
    found: list[Source] = []
    for text in sources:
        if text.startswith("s3://"):
            found.extend(s3_sources(text))
            continue
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            files = [path]
        else:
            raise PodcastError("no such log file or folder", file=text,
                               fix="give files, folders or s3://BUCKET/PREFIX")
        for item in files:
            stat = item.stat()
            found.append(Source(str(item.resolve()), stat.st_size, str(stat.st_mtime_ns),
                                path=item))
    return found


def s3_sources(url: str) -> list[Source]:
    """Every object under ``s3://BUCKET/PREFIX``, as a source."""
    from podcast.storage import parse_s3_url, s3_client, s3_errors, storage_error

    bucket, prefix = parse_s3_url(url, field="log source")

    try:
        pages = s3_client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix)
        return [Source(f"s3://{bucket}/{item['Key']}", item["Size"],
                       item.get("ETag", "").strip('"'), s3=(bucket, item["Key"]))
                for page in pages for item in page.get("Contents", [])]
    except s3_errors() as exc:
        raise storage_error("list logs in", url, exc) from exc


def read_bytes(source: Source, client=None) -> bytes:
    """The bytes of an S3 object (a log cut off in mid-body is fetched again: botocore
    retries only failed requests)."""
    from podcast.storage import read_object, s3_client, s3_errors, storage_error

    assert source.s3 is not None  # called for S3 sources only
    bucket, key = source.s3
    try:
        return read_object(client or s3_client(), bucket, key)
    except s3_errors() as exc:
        raise storage_error("read log", source.name, exc) from exc


def fetch_client():
    """The S3 client of the storage settings, with a connection for each fetcher (boto3
    clients are thread-safe; botocore's default pool holds 10 connections)."""
    from botocore.config import Config

    from podcast.storage import s3_client

    client = s3_client()
    meta = getattr(client, "meta", None)
    if meta is None:
        return client
    import boto3

    return boto3.client("s3", config=meta.config.merge(
        Config(max_pool_connections=FETCHERS)))
