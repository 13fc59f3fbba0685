"""``audio.rendition``: an Opus file made from each master, published like it, in the feed.

A real publish of the tiny show (test_publish's) to a folder: the rendition is uploaded
content-addressed, recorded in the manifest, held back with a scheduled episode and
released with it, listed as ``podcast:alternateEnclosure`` whose SRI hash is the served
file's; adding it re-masters nothing, and a second publish (or one from a fresh checkout)
uploads nothing and writes the same feed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from lxml import etree
from test_publish import CHRISTMAS, NOW, master_tiny_show, run_publish, tiny_show

from podcast.feed import PODCAST_NS

pytestmark = pytest.mark.audio
NS = {"podcast": PODCAST_NS}


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> Path:
    return master_tiny_show(tmp_path_factory.mktemp("renditions"), NOW)


def with_rendition(config: Path, kind: str = "opus") -> None:
    text = config.read_text(encoding="utf-8")
    assert "  sample_rate: 44100\n" in text, "fixture drifted"
    config.write_text(text.replace("  sample_rate: 44100\n",
                                   f"  sample_rate: 44100\n  rendition: {kind}\n", 1),
                      encoding="utf-8")


def alternates(public: Path) -> dict[str, etree._Element]:
    """Each item's alternateEnclosure by the item's guid."""
    root = etree.fromstring((public / "feed.xml").read_bytes())
    return {item.findtext("guid"): item.find("podcast:alternateEnclosure", NS)
            for item in root.iter("item")}


def test_the_rendition_is_published_like_the_master(tmp_path: Path, masters: Path):
    config = tiny_show(tmp_path / "show", masters)
    with_rendition(config)
    public = tmp_path / "show" / "public"

    report, lines = run_publish(config)

    assert report.mastered == []  # the MP3 does not depend on the rendition
    manifest = json.loads((public / ".podcast" / "manifest.json").read_bytes())
    media = manifest["media"]
    for slug, entry in media.items():
        [rendition] = entry["renditions"]
        assert rendition["source"] == entry["sha256"]
        assert rendition["key"].startswith(f"media/{slug}-") and rendition["key"].endswith(
            ".opus")
    live = {slug for slug in media if not slug.startswith("003")}
    for slug in live:
        rendition = media[slug]["renditions"][0]
        data = (public / rendition["key"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rendition["sha256"]
        assert data[:4] == b"OggS" and b"OpusHead" in data[:64]
    # The scheduled episode's rendition is held back with its master.
    held = media["003-claire-dubois"]["renditions"][0]["key"]
    assert not (public / held).exists()
    assert any("encoding the Opus rendition" in line for line in lines)

    found = alternates(public)
    assert len(found) == 2 and all(element is not None for element in found.values())
    for element in found.values():
        url = element.find("podcast:source", NS).get("uri")
        data = (public / url.split("/", 3)[3]).read_bytes()
        assert element.find("podcast:integrity", NS).get("value") == (
            "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode())
        assert element.get("length") == str(len(data))

    feed = (public / "feed.xml").read_bytes()
    again, _ = run_publish(config)
    assert again.uploaded == [] and (public / "feed.xml").read_bytes() == feed

    # Another machine, no local state: the manifest's renditions are kept as they are.
    shutil.rmtree(tmp_path / "show" / ".podcast")
    fresh, _ = run_publish(config)
    assert fresh.uploaded == [] and fresh.mastered == []
    assert (public / "feed.xml").read_bytes() == feed

    # Its time comes: the rendition is released with the episode.
    run_publish(config, now=CHRISTMAS)
    assert (public / held).is_file()
    assert len(alternates(public)) == 3


def test_a_rendition_asked_for_later_is_made_from_the_stored_master(tmp_path: Path,
                                                                     masters: Path):
    config = tiny_show(tmp_path / "show", masters)
    public = tmp_path / "show" / "public"
    run_publish(config)
    assert set(alternates(public).values()) == {None}
    shutil.rmtree(tmp_path / "show" / ".podcast")  # not even a cached master
    with_rendition(config, "aac")

    report, _ = run_publish(config)

    assert report.mastered == []
    uploaded = sorted(key for key in report.uploaded if key.endswith(".m4a"))
    # The scheduled episode's, made from its held-back master, is held back too.
    assert sorted(key.split("/")[-1].split("-")[0] for key in uploaded) == [
        "001", "002", "003"]
    assert uploaded[0].startswith(".podcast/staged/media/003-")
    for element in alternates(public).values():
        assert (element.get("type"), element.get("codecs")) == ("audio/mp4", "mp4a.40.2")
