"""Helpers for the feed, site and validate tests: a published copy of the demo show.

Everything is real: a 1400x1400 RGB JPEG made with Pillow, MP3s encoded by ffmpeg, chapters
JSON from the tags stage, and a ``public/`` folder laid out the way ``file://`` storage
keeps it (``base_url/KEY`` is ``public/KEY``), so ``validate`` can check the files.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from mutagen.mp3 import MP3
from PIL import Image, ImageDraw

from podcast.binaries import ffmpeg
from podcast.config import load_episodes, load_show
from podcast.feed import build_feed
from podcast.model import Catalog, Episode, Media, Show
from podcast.tags import chapters_json

#: The demo show's first two episodes are live at this moment; the third (30 Nov) is not.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
#: The third demo episode goes live at 2026-11-30T07:00+01:00.
THIRD_LIVE = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def make_image(path: Path, size: tuple[int, int] = (1400, 1400), mode: str = "RGB",
               fmt: str = "JPEG") -> Path:
    """A real artwork file: a coloured square with a shape on it."""
    image = Image.new("RGB", size, (31, 95, 139))
    ImageDraw.Draw(image).ellipse((100, 100, size[0] - 100, size[1] - 100), fill=(240, 180, 40))
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt)
    return path


def make_mp3(path: Path, seconds: float, frequency: int = 440) -> Path:
    """A real CBR MP3 encoded by ffmpeg (a sine tone, mono, 96 kbps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"sine=frequency={frequency}:duration={seconds}", "-ac", "1",
         "-b:a", "96k", str(path)],
        check=True,
    )
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Published:
    """A show whose media sits in ``public/`` as storage would keep it."""

    show: Show
    episodes: list[Episode]
    catalog: Catalog
    public: Path

    @property
    def feed_path(self) -> Path:
        return self.public / "feed.xml"

    def write_feed(self, now: datetime = NOW) -> Path:
        self.feed_path.write_bytes(build_feed(self.show, self.episodes, self.catalog, now=now))
        return self.feed_path


def channel(pub: Published) -> etree._Element:
    """The ``channel`` of the feed ``pub`` last wrote."""
    return etree.fromstring(pub.feed_path.read_bytes()).find("channel")


def item(pub: Published, slug: str) -> etree._Element:
    """The feed's ``item`` for the episode ``slug`` (found by its guid)."""
    guid = next(e.guid for e in pub.episodes if e.slug == slug)
    return channel(pub).xpath(f"item[guid='{guid}']")[0]


def publish_demo(config: Path, mp3_cache: Path) -> Published:
    """Lay out the demo show at ``config`` as if ``podcast publish`` had run.

    ``mp3_cache`` holds MP3s made once per test session (encoding is the slow part).
    """
    show = load_show(config)
    episodes = load_episodes(show)
    public = show.root / "public"
    art = make_image(public / "art" / "cover.jpg")
    art_key = f"art/cover-{sha(art)[:12]}.jpg"
    art.rename(public / art_key)

    media = {}
    for index, episode in enumerate(episodes):
        cached = mp3_cache / f"{episode.slug}.mp3"
        if not cached.exists():
            make_mp3(cached, 3 + index, frequency=300 + 100 * index)
        digest = sha(cached)
        key = f"media/{episode.slug}-{digest[:12]}.mp3"
        (public / "media").mkdir(parents=True, exist_ok=True)
        shutil.copy(cached, public / key)
        chapters_key = f"media/{episode.slug}-{digest[:12]}.chapters.json"
        (public / chapters_key).write_bytes(chapters_json(episode))
        transcript_key = transcript_type = None
        if episode.transcript is not None:
            transcript_key = f"media/{episode.slug}-{digest[:12]}.vtt"
            shutil.copy(episode.transcript, public / transcript_key)
            transcript_type = "text/vtt"
        media[episode.slug] = Media(
            slug=episode.slug, key=key, bytes=(public / key).stat().st_size, sha256=digest,
            duration=MP3(public / key).info.length, tag_size=0, bitrate=96000,
            input_hash=digest, chapters_key=chapters_key, transcript_key=transcript_key,
            transcript_type=transcript_type,
        )
    catalog = Catalog(media=media, image_key=art_key)
    return Published(show=show, episodes=episodes, catalog=catalog, public=public)
