"""Scaffolding: ``podcast init`` (a new show) and ``podcast new`` (a new episode folder).

Both refuse to overwrite anything, and both write files that pass validation as they are
(an episode only lacks its recording, which the producer drops in next).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .config import load_show
from .errors import ConfigError
from .files import atomic_write
from .model import Show
from .publish import ascii_slug

ARTWORK_SIZE = 1400  # Apple's minimum; square, RGB, JPEG
ARTWORK_NAME = "artwork.jpg"
SLUG_WORDS_MAX = 60  # characters of title in a folder name: enough to recognise it

#: Values ``init`` writes for the producer to replace, by key of podcast.yaml (``hosts[]``:
#: any host): ``validate``, ``doctor`` and ``share`` warn while one is left.
PLACEHOLDERS = {
    "description": "One line about what listeners get from the show, and how often.",
    "email": "you@example.com",
    "link": "https://example.com",
    "hosts[].name": "Your Name",
}
#: The JPEG comment of the placeholder cover, so ``validate`` can tell it from yours.
ARTWORK_MARK = b"podcast init placeholder cover"
#: The target ``init`` writes is due this long after the day of ``init``: a year of
#: episodes, so a new show's projection has time to reach it.
TARGET_DAYS = 365

SHOW_TEMPLATE = """\
# The show's settings. Every key is explained in the README ("The show: podcast.yaml").
# `podcast doctor` checks this file, ffmpeg and the storage; `podcast validate` the feed.

title: {title}
description: >-
  One line about what listeners get from the show, and how often.
author: {title}
email: you@example.com        # itunes:owner: Spotify sends its ownership code here
language: en                  # ISO 639, e.g. fr, en, en-US
link: https://example.com     # the show's web site
image: {image}        # square JPEG/PNG, 1400-3000 px, RGB
categories:                   # Apple's list, exact case: Top or Top/Sub
  - Business
explicit: false
type: episodic                # or serial (then every episode needs a number)

hosts:
  - name: Your Name

# Where listeners fetch the files: the public URL of the storage below.
base_url: http://127.0.0.1:8000
# file://FOLDER (relative to this file) or s3://BUCKET/PREFIX (boto3 credentials,
# AWS_ENDPOINT_URL for S3-compatible services).
storage: file://public

audio:
  loudness: -16               # LUFS (Apple); mono masters read -19 on a plain meter
  true_peak: -1.0             # dBTP
  channels: mono              # mono | stereo
  bitrate: 96k                # CBR
  sample_rate: 44100
  # intro: assets/intro.wav
  # outro: assets/outro.wav

targets:
  - name: First season
    metric: downloads         # downloads | listeners
    goal: 10000
    by: {target_date}
"""

EPISODE_TEMPLATE = """\
---
title: {title}
published: {published}   # ISO 8601 with offset; past: live at the next publish; future: scheduled
audio: interview.wav   # drop the recording here (any format ffmpeg reads) and fix the name
number: {number}
type: full             # full | trailer | bonus
explicit: false
guests:{guests}
chapters:
  - {{start: "0:00", title: "Introduction"}}
# transcript: transcript.vtt
---
Show notes in **Markdown**: who the guest is, what you talk about, links.
"""


def yaml_text(text: str) -> str:
    """A YAML scalar for any text (a JSON string is valid YAML and quotes everything)."""
    return json.dumps(text, ensure_ascii=False)


def artwork(title: str, size: int = ARTWORK_SIZE) -> bytes:
    """Placeholder cover art: a square RGB JPEG with the title on a gradient."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for y in range(size):  # a vertical gradient, deep blue to teal
        mix = y / (size - 1)
        draw.line([(0, y), (size, y)],
                  fill=(int(20 + 10 * mix), int(40 + 110 * mix), int(110 + 40 * mix)))
    words, lines = title.split(), list[str]()
    font = _font(size // 11)
    for word in words:  # wrap to the width, leaving a margin
        trial = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(trial, font=font) <= size * 0.84:
            lines[-1] = trial
        else:
            lines.append(word)
    draw.multiline_text((size / 2, size / 2), "\n".join(lines[:6]), font=font,
                        fill=(255, 255, 255), anchor="mm", align="center", spacing=size // 40)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, comment=ARTWORK_MARK)  # (validate looks for it)
    return out.getvalue()


def _font(pixels: int):
    """DejaVu Sans Bold from matplotlib (a dependency) covers accents; Pillow's default not."""
    import importlib.util

    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), pixels)
    return ImageFont.load_default(size=pixels)


def init_show(directory: Path, *, title: str) -> list[Path]:
    """Scaffold a show in ``directory``: podcast.yaml, artwork.jpg and episodes/.

    Refuses (ConfigError) if any of them exists; returns the paths created.
    """
    directory = Path(directory)
    title = title.strip()
    if not title:
        raise ConfigError("the show needs a title", field="--title",
                          fix='pass --title "My Show"')
    config, image, episodes = (directory / "podcast.yaml", directory / ARTWORK_NAME,
                               directory / "episodes")
    for path in (config, image, episodes):
        if path.exists():
            raise ConfigError(f"{path.name} already exists: a show is already here",
                              file=path, fix="choose an empty folder: podcast init NEW_DIR")
    directory.mkdir(parents=True, exist_ok=True)
    target_date = datetime.now(UTC).date() + timedelta(days=TARGET_DAYS)
    text = SHOW_TEMPLATE.format(title=yaml_text(title), image=ARTWORK_NAME,
                                target_date=target_date.isoformat())
    atomic_write(image, artwork(title))
    atomic_write(config, text.encode("utf-8"))
    episodes.mkdir()
    try:
        load_show(config)  # what we wrote must be a valid show
    except ConfigError:
        for path in (config, image):
            path.unlink(missing_ok=True)
        episodes.rmdir()
        raise
    return [config, image, episodes]


def default_publication(now: datetime) -> datetime:
    """``now`` in UTC to the minute: a new episode goes live at the next publish (a first
    show that publishes nothing looks broken; a date is one ``--published`` away)."""
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def next_number(show: Show) -> int:
    """One more than the highest ``NNN-`` prefix among the episode folders."""
    numbers = [int(match.group(1)) for child in (
        show.episodes_dir.iterdir() if show.episodes_dir.is_dir() else ())
        if child.is_dir() and (match := re.match(r"^(\d+)-", child.name))]
    return max(numbers, default=0) + 1


def episode_slug(number: int, title: str) -> str:
    """``003-ete-phygital``: the number and the ASCII-folded title, cut at a word."""
    words = ascii_slug(title)
    if len(words) > SLUG_WORDS_MAX:
        words = words[:SLUG_WORDS_MAX].rsplit("-", 1)[0]
    return f"{number:03d}-{words}" if words else f"{number:03d}-episode"


def new_episode(show: Show, title: str, guests: list[str], *,
                published: datetime | None = None) -> Path:
    """Create ``episodes/NNN-<title>/episode.md``; returns the episode.md path."""
    title = title.strip()
    if not title:
        raise ConfigError("the episode needs a title", field="TITLE",
                          fix='podcast new "Guest name: the topic"')
    if published is not None and published.tzinfo is None:
        raise ConfigError("the publication time has no time zone", field="--published",
                          fix="add an offset such as +01:00 or Z")
    number = next_number(show)
    folder = show.episodes_dir / episode_slug(number, title)
    if folder.exists():
        raise ConfigError(f"episode folder {folder.name} already exists", file=folder,
                          fix="choose another title, or edit the existing episode")
    when = published or default_publication(datetime.now(UTC))
    people = "".join(f"\n  - {{name: {yaml_text(name.strip())}, role: guest}}"
                     for name in guests if name.strip()) or " []"
    text = EPISODE_TEMPLATE.format(title=yaml_text(title), published=when.isoformat(),
                                   number=number, guests=people)
    folder.mkdir(parents=True)
    path = folder / "episode.md"
    atomic_write(path, text.encode("utf-8"))
    return path
