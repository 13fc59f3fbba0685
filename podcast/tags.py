"""Tags stage: ID3v2.3 tags, cover art and chapters in the master MP3; Podcasting 2.0 chapters.

ID3v2.3 (not 2.4) with UTF-16 text, because some apps mishandle v2.4 chapters and UTF-16 is
the only v2.3 encoding that keeps French accents and emoji intact.  The tag is built in
memory first (cover decoded, chapters checked); only then is the file rewritten, through a
temporary file in the same folder and ``os.replace``, so a bad cover or chapter never leaves
a half-tagged MP3 behind.

The tag size matters beyond the tags themselves: the IAB download threshold is "tag size plus
one minute of audio", so :func:`tag_size` reads it back from the file header, padding included.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

from mutagen.id3 import (
    APIC,
    CHAP,
    COMM,
    CTOC,
    ID3,
    PCST,
    TALB,
    TCON,
    TDAT,
    TDES,
    TGID,
    TIME,
    TIT2,
    TIT3,
    TLAN,
    TPE1,
    TPE2,
    TPOS,
    TRCK,
    TYER,
    WOAR,
    WXXX,
    CTOCFlags,
    Frame,
    ID3NoHeaderError,
    PictureType,
)
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import AudioError, ConfigError
from .model import Episode, Show
from .notes import markdown_html
from .text import clock

#: ID3 text encoding 1 = UTF-16 with BOM: the only Unicode encoding ID3v2.3 knows.
UTF16 = 1
#: Apple's largest useful artwork is 3000 px, but players show the embedded cover small;
#: 1400 px (Apple's minimum for the feed) keeps the tag, and so every download, small.
COVER_MAX_PX = 1400
COVER_QUALITY = 85
#: The embedded cover is in every download: a noisy photo at 1400 px can weigh more than a
#: minute of speech, so quality (then size) steps down until it fits.
COVER_MAX_BYTES = 200 * 1024
#: (side in px, JPEG quality) tried in order until the cover fits COVER_MAX_BYTES.
COVER_STEPS = ((COVER_MAX_PX, COVER_QUALITY), (COVER_MAX_PX, 70), (COVER_MAX_PX, 55),
               (1000, 55), (700, 55), (500, 50), (300, 50))
#: Show notes in COMM/TDES are for players' "details" panes; Apple cuts descriptions at 4000.
NOTES_MAX_CHARS = 4000
#: Markdown read per character of notes text kept: links, markup and raw HTML make the
#: source longer than its text, seldom 4 times longer.
NOTES_SOURCE_PER_CHAR = 4
#: No padding: we never edit a tag in place (we rewrite the file), and padding would only
#: add bytes to every download.
PADDING = 0
CHAPTERS_JSON_VERSION = "1.2"
TOC_ID = "toc"

# ISO 639-1 (podcast.yaml) -> ISO 639-2/B (what ID3 COMM/TLAN want) for common languages.
_LANG3 = {
    "fr": "fre", "en": "eng", "de": "ger", "es": "spa", "it": "ita", "pt": "por",
    "nl": "dut", "ca": "cat", "pl": "pol", "sv": "swe", "da": "dan", "no": "nor",
    "fi": "fin", "ja": "jpn", "zh": "chi", "ar": "ara", "ru": "rus",
}
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


# --------------------------------------------------------------------------- public API


def write_tags(
    path: Path, show: Show, episode: Episode, *, duration: float, chapter_offset: float = 0.0,
    timeline: Callable[[float], float] | None = None,
) -> int:
    """Replace every tag of the MP3 at ``path`` with the episode's ID3v2.3 tag.

    ``duration`` is the length of the MP3 in seconds (it closes the last chapter);
    ``chapter_offset`` shifts the episode's chapters, e.g. by the length of an intro that was
    put in front of the interview; ``timeline``, when given, maps a recording time to the
    master's instead (intro and cut pauses, see :mod:`podcast.audio.timeline`).  Returns
    the size in bytes of the ID3 tag now at the start of the file (header and padding
    included).  Raises ConfigError for a chapter that starts after the end of the audio or
    an unreadable cover; the file is then left untouched.
    """
    path = Path(path)
    cover = cover_jpeg(*_cover_source(show, episode))
    tags = build_tags(show, episode, duration=duration, chapter_offset=chapter_offset,
                      cover=cover, timeline=timeline)
    _replace_tag(path, render_tag(tags))
    return tag_size(path)


def check_cover(show: Show, episode: Episode) -> None:
    """Raise the ConfigError :func:`write_tags` would raise for the episode's cover art.

    Cheap (one image decode): call it before a long encode so a broken cover fails first.
    """
    cover_jpeg(*_cover_source(show, episode))


def chapters_json(episode: Episode, *, offset: float = 0.0,
                  timeline: Callable[[float], float] | None = None) -> bytes:
    """The episode's chapters as a Podcasting 2.0 JSON chapters file (version 1.2), UTF-8.

    ``offset`` (seconds) is added to every start, or ``timeline`` maps it, as in
    :func:`write_tags`.  Output is stable: the same episode always gives the same bytes.
    """
    move = timeline or (lambda seconds: seconds + offset)
    chapters = []
    for chapter in sorted(episode.chapters, key=lambda c: c.start):
        item: dict[str, object] = {
            "startTime": _seconds(move(chapter.start)),
            "title": chapter.title,
        }
        if chapter.img:
            item["img"] = chapter.img
        if chapter.url:
            item["url"] = chapter.url
        chapters.append(item)
    document = {"version": CHAPTERS_JSON_VERSION, "chapters": chapters}
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def tag_size(path: Path) -> int:
    """Bytes of ID3v2 tag(s) at the start of the file (headers, padding, footers); 0 if none.

    Consecutive tags (some tools prepend a second one) are all counted: the result is where
    the audio starts.
    """
    with open(path, "rb") as handle:
        return _leading_tags_size(handle)


def read_tags(path: Path) -> dict:
    """What the MP3's ID3 tag says, in plain Python types (for tests and ``validate``).

    Keys: ``version`` (e.g. ``(2, 3, 0)``), ``title``, ``artists``, ``album``, ``chapters``
    (``[(start_s, end_s, title)]`` in table-of-contents order), ``has_cover``, ``size``.
    """
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        return {"version": None, "title": None, "artists": [], "album": None, "chapters": [],
                "has_cover": False, "size": 0}
    chaps = {frame.element_id: frame for frame in tags.getall("CHAP")}
    tocs = [toc for toc in tags.getall("CTOC") if toc.flags & CTOCFlags.TOP_LEVEL]
    order = list(tocs[0].child_element_ids) if tocs else sorted(
        chaps, key=lambda key: chaps[key].start_time)
    chapters = []
    for element_id in order:
        chap = chaps[element_id]
        title = chap.sub_frames.get("TIT2")
        chapters.append((chap.start_time / 1000, chap.end_time / 1000,
                         str(title.text[0]) if title else ""))
    artists: list[str] = []
    for value in tags["TPE1"].text if "TPE1" in tags else []:
        # ID3v2.3 has one text slot; several artists are joined with "/".
        artists.extend(value.split("/") if tags.version < (2, 4, 0) else [value])
    return {
        "version": tags.version,
        "title": str(tags["TIT2"].text[0]) if "TIT2" in tags else None,
        "artists": artists,
        "album": str(tags["TALB"].text[0]) if "TALB" in tags else None,
        "chapters": chapters,
        "has_cover": any(pic.type == PictureType.COVER_FRONT for pic in tags.getall("APIC")),
        "size": tag_size(path),
    }


# --------------------------------------------------------------------------- pure parts


def build_tags(
    show: Show, episode: Episode, *, duration: float, chapter_offset: float = 0.0,
    cover: bytes | None = None, timeline: Callable[[float], float] | None = None,
) -> ID3:
    """The ID3 frames for the episode, ready for :func:`render_tag` (no I/O).

    ``cover`` is the JPEG to embed as the front cover (see :func:`cover_jpeg`).
    """
    tags = ID3()
    lang = _LANG3.get(show.language.split("-")[0].lower(), "und")
    notes = notes_text(episode.notes)
    people = [person.name for person in (*show.hosts, *episode.guests)] or [show.author]

    tags.add(TIT2(encoding=UTF16, text=[_clean(episode.title)]))
    tags.add(TPE1(encoding=UTF16, text=[_clean(name) for name in people]))
    tags.add(TPE2(encoding=UTF16, text=[_clean(show.author)]))
    tags.add(TALB(encoding=UTF16, text=[_clean(show.title)]))
    tags.add(TCON(encoding=UTF16, text=["Podcast"]))
    tags.add(TLAN(encoding=UTF16, text=[lang]))
    if episode.number is not None:
        tags.add(TRCK(encoding=UTF16, text=[str(episode.number)]))
    if episode.season is not None:
        tags.add(TPOS(encoding=UTF16, text=[str(episode.season)]))
    if episode.summary:
        tags.add(TIT3(encoding=UTF16, text=[_clean(episode.summary)]))
    if notes:
        tags.add(COMM(encoding=UTF16, lang=lang, desc="", text=[notes]))
        tags.add(TDES(encoding=UTF16, text=[notes]))

    # ID3v2.3 dates: year, then DDMM and HHMM, in the time zone the producer wrote.
    published = episode.published
    tags.add(TYER(encoding=UTF16, text=[f"{published.year:04d}"]))
    tags.add(TDAT(encoding=UTF16, text=[f"{published.day:02d}{published.month:02d}"]))
    tags.add(TIME(encoding=UTF16, text=[f"{published.hour:02d}{published.minute:02d}"]))

    # Podcast frames (iTunes): the podcast flag and the episode's guid.  No WFED (the feed
    # URL): no layout of it reads back in all of mutagen, eyeD3 and music-metadata.
    tags.add(PCST(value=1))
    tags.add(TGID(encoding=UTF16, text=[_clean(episode.guid)]))

    tags.add(WOAR(url=_ascii_url(show.link)))
    for person in (*show.hosts, *episode.guests):
        if person.href:
            tags.add(WXXX(encoding=UTF16, desc=_clean(person.name), url=_ascii_url(person.href)))

    if cover is not None:
        # An ASCII description needs no UTF-16; Latin-1 is the form every reader knows.
        tags.add(APIC(encoding=0, mime="image/jpeg", type=PictureType.COVER_FRONT,
                      desc="cover", data=cover))

    for frame in chapter_frames(episode, duration=duration, offset=chapter_offset,
                                timeline=timeline):
        tags.add(frame)
    tags.update_to_v23()
    return tags


def chapter_frames(episode: Episode, *, duration: float, offset: float = 0.0,
                   timeline: Callable[[float], float] | None = None) -> list:
    """One CHAP frame per chapter and the top-level ordered CTOC listing them (no chapters:
    no frames).  A chapter at or after the end of the audio is a ConfigError."""
    chapters = sorted(episode.chapters, key=lambda c: c.start)
    if not chapters:
        return []
    end_ms = round(duration * 1000)
    move = timeline or (lambda seconds: seconds + offset)
    starts = [round(move(chapter.start) * 1000) for chapter in chapters]
    for index, (chapter, start_ms) in enumerate(zip(chapters, starts, strict=True)):
        if start_ms >= end_ms:
            shifted = f" (+{offset:g} s intro)" if offset else ""
            raise ConfigError(
                f"chapter {chapter.title!r} starts at "
                f"{clock(chapter.start, fraction=True)}{shifted}, "
                f"but the audio lasts only {clock(duration, fraction=True)}",
                file=episode.source, field=f"chapters[{index}].start",
                fix="give the chapter a start time inside the recording, or remove it")
    frames: list = []
    ids = [f"chp{index}" for index in range(len(chapters))]
    for index, chapter in enumerate(chapters):
        sub_frames: list[Frame] = [TIT2(encoding=UTF16, text=[_clean(chapter.title)])]
        if chapter.url:
            sub_frames.append(WXXX(encoding=UTF16, desc="", url=_ascii_url(chapter.url)))
        stop = starts[index + 1] if index + 1 < len(chapters) else end_ms
        frames.append(CHAP(element_id=ids[index], start_time=starts[index], end_time=stop,
                           sub_frames=sub_frames))
    frames.append(CTOC(element_id=TOC_ID, flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                       child_element_ids=ids, sub_frames=[]))
    return frames


def render_tag(tags: ID3) -> bytes:
    """The bytes of an ID3v2.3 tag (header, frames, fixed padding), built in memory.

    CHAP frames come out in table-of-contents order: mutagen sorts frames by size, and
    ffmpeg (and some apps) list chapters in the order the frames appear, ignoring CTOC.
    """
    buffer = io.BytesIO()
    tags.save(buffer, v1=0, v2_version=3, v23_sep="/", padding=lambda info: PADDING)
    toc = [frame for frame in tags.getall("CTOC") if frame.flags & CTOCFlags.TOP_LEVEL]
    order = list(toc[0].child_element_ids) if toc else []
    return _order_chapter_frames(buffer.getvalue(), order)


def _order_chapter_frames(tag: bytes, order: list[str]) -> bytes:
    """Put the CHAP frames of a rendered ID3v2.3 tag in ``order`` (by element id).

    Every other frame keeps its place; the CHAP frames swap among the slots they occupy.
    In v2.3 a frame is a 10-byte header (id, 32-bit big-endian size, flags) and its body.
    """
    end = _id3_header_size(tag[:10]) or len(tag)
    frames: list[bytes] = []
    position = 10
    while position + 10 <= end and tag[position:position + 1] != b"\x00":
        size = int.from_bytes(tag[position + 4:position + 8], "big")
        frames.append(tag[position:position + 10 + size])
        position += 10 + size
    rank = {element_id.encode("latin-1"): index for index, element_id in enumerate(order)}

    def chap_rank(frame: bytes) -> int:
        return rank.get(frame[10:].split(b"\x00", 1)[0], len(rank))

    slots = [index for index, frame in enumerate(frames) if frame[:4] == b"CHAP"]
    for slot, frame in zip(slots, sorted((frames[i] for i in slots), key=chap_rank),
                           strict=True):
        frames[slot] = frame
    return tag[:10] + b"".join(frames) + tag[position:]


def notes_text(markdown_text: str, limit: int = NOTES_MAX_CHARS) -> str:
    """Plain text of Markdown show notes: paragraphs kept, list items as "- ", links as
    "text (url)", cut at a word boundary with "…" beyond ``limit`` characters.

    The notes are read by the feed's parser (CommonMark), on at most
    ``NOTES_SOURCE_PER_CHAR * limit`` characters of them: the text of a longer source would
    be cut anyway, and a bounded source keeps tagging fast whatever the notes' size.
    """
    source = markdown_text or ""
    bound = NOTES_SOURCE_PER_CHAR * limit
    source_cut = len(source) > bound
    if source_cut:  # end at a blank line if one is near, so no paragraph is read half
        paragraph = source.rfind("\n\n", bound // 2, bound)
        source = source[:paragraph if paragraph > 0 else bound]
    extractor = _TextExtractor()
    extractor.feed(markdown_html(source))
    extractor.close()
    text = _clean(extractor.text())
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) <= limit and not source_cut:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > len(cut) // 2:  # (the last word may be a piece of a longer one)
        cut = cut[:space]
    return cut.rstrip() + "…"


# --------------------------------------------------------------------------- I/O edges


def cover_jpeg(path: Path, config_file: Path) -> bytes:
    """The artwork at ``path`` as an RGB baseline JPEG no larger than COVER_MAX_PX and,
    unless even the smallest step is larger, COVER_MAX_BYTES.

    ``config_file`` is the file whose ``image:`` names the artwork, for the error message.
    Made once per file version in a process (``publish`` tags every episode with the
    show's cover: decoding and re-encoding it cost 0.08 CPU-s each time).
    """
    try:
        stat = path.stat()
    except OSError:
        raise _cover_error(path, config_file, "the file does not exist") from None
    return _cover_jpeg(path.resolve(), stat.st_mtime_ns, stat.st_size, config_file)


@functools.lru_cache(maxsize=8)
def _cover_jpeg(path: Path, _mtime_ns: int, _size: int, config_file: Path) -> bytes:
    try:
        with Image.open(path) as image:
            image.draft("RGB", (COVER_MAX_PX, COVER_MAX_PX))  # JPEG: decode at reduced scale
            image.load()
            picture = ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise _cover_error(path, config_file, "the file does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _cover_error(path, config_file, f"it is not a readable image ({exc})") from None
    if picture.mode in ("P", "PA") or "transparency" in picture.info:
        picture = picture.convert("RGBA")
    if picture.mode in ("RGBA", "LA"):
        # Players draw embedded art on anything; flatten transparency onto white.
        background = Image.new("RGB", picture.size, "white")
        background.paste(picture, mask=picture.getchannel("A"))
        picture = background
    return _bounded_jpeg(picture.convert("RGB"))


def _bounded_jpeg(picture: Image.Image) -> bytes:
    """The first of COVER_STEPS that fits COVER_MAX_BYTES (else the last, the smallest)."""
    data = b""
    picture.thumbnail((COVER_MAX_PX, COVER_MAX_PX), Image.Resampling.LANCZOS)
    for side, quality in COVER_STEPS:
        scaled = picture.copy()
        scaled.thumbnail((side, side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        scaled.save(out, "JPEG", quality=quality, optimize=True, progressive=False)
        data = out.getvalue()
        if len(data) <= COVER_MAX_BYTES:
            break
    return data


def _cover_source(show: Show, episode: Episode) -> tuple[Path, Path]:
    if episode.image is not None:
        return episode.image, episode.source
    return show.image, show.config_path


def _cover_error(path: Path, config_file: Path, reason: str) -> ConfigError:
    return ConfigError(
        f"cannot use {path.name!r} as cover art: {reason}",
        file=path, field=None,
        fix=f"replace it with a square JPEG or PNG (1400-3000 px), or point 'image:' in "
            f"{config_file} at one")


def _replace_tag(path: Path, tag: bytes) -> None:
    """Write ``tag`` + the file's audio (old ID3v2/ID3v1 tags dropped) via a temp file."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise AudioError(f"cannot open the MP3 to tag it: {exc.strerror}", file=path,
                         fix="check that the master was produced and is readable") from None
    with handle:
        start = _leading_tags_size(handle)
        end = os.fstat(handle.fileno()).st_size
        if end - start >= 128:
            handle.seek(end - 128)
            if handle.read(3) == b"TAG":  # ID3v1: a fixed 128-byte block at the very end
                end -= 128
        handle.seek(start)
        sync = handle.read(2)
        if len(sync) < 2 or sync[0] != 0xFF or sync[1] & 0xE0 != 0xE0:
            raise AudioError("no MPEG audio frame after the ID3 tag: this is not an MP3",
                             file=path, fix="tag the MP3 produced by `podcast master`")
        handle.seek(start)
        try:
            fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=path.parent)
        except OSError as exc:
            raise AudioError(f"cannot write next to the MP3: {exc.strerror}", file=path,
                             fix=f"make {path.parent} writable and check the free space") from None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(tag)
                _copy_range(handle, out, end - start)
            shutil.copymode(path, temp_name)
            os.replace(temp_name, path)
        except OSError as exc:
            Path(temp_name).unlink(missing_ok=True)
            raise AudioError(f"cannot write the tagged MP3: {exc.strerror}", file=path,
                             fix=f"check the free space and permissions in {path.parent}") from None
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise


def _copy_range(source, target, count: int, chunk: int = 1 << 20) -> None:
    while count > 0:
        block = source.read(min(chunk, count))
        if not block:
            break
        target.write(block)
        count -= len(block)


def _leading_tags_size(handle) -> int:
    """Bytes taken by the ID3v2 tags at the start of an open binary file."""
    total = 0
    while True:
        handle.seek(total)
        header = handle.read(10)
        size = _id3_header_size(header)
        if size is None:
            return total
        total += size


def _id3_header_size(header: bytes) -> int | None:
    """Whole size of the ID3v2 tag whose 10-byte header this is, or None if it is not one."""
    if len(header) < 10 or header[:3] != b"ID3":
        return None
    major, revision, flags = header[3], header[4], header[5]
    if major not in (2, 3, 4) or revision == 0xFF or any(b & 0x80 for b in header[6:10]):
        return None
    body = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
    footer = 10 if major == 4 and flags & 0x10 else 0
    return 10 + body + footer


# --------------------------------------------------------------------------- small helpers


class _TextExtractor(HTMLParser):
    """HTML (from Markdown) to plain text, keeping paragraphs, list items and link targets."""

    _BLOCKS = {"p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
               "table", "tr", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._links: list[tuple[str | None, int]] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in self._BLOCKS:
            self._parts.append("\n\n")
        elif tag == "li":
            self._parts.append("\n- ")
        elif tag == "br":
            self._parts.append("\n")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self._parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self._parts.append("\n\n")
        elif tag == "a" and self._links:
            href, first = self._links.pop()
            label = "".join(self._parts[first:]).strip()
            if href and href != label and not href.startswith("#"):
                self._parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._hidden:  # raw HTML in the notes: a script's code is not show notes
            self._parts.append(data.replace("\n", " "))

    def text(self) -> str:
        return "".join(self._parts)


def _clean(text: str) -> str:
    # A NUL would split an ID3 text frame into several values, and a lone surrogate (which
    # YAML escapes can produce) has no UTF-16 form: replace it rather than crash.
    text = text.replace("\x00", "")
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _ascii_url(url: str) -> str:
    # ID3 URL frames are Latin-1; percent-encode anything beyond ASCII (an IRI) instead.
    return quote(_clean(url), safe=_URL_SAFE)


def _seconds(value: float) -> int | float:
    """Seconds for JSON: whole numbers as integers, else milliseconds precision."""
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


__all__ = ["write_tags", "check_cover", "chapters_json", "tag_size", "read_tags",
           "build_tags",
           "chapter_frames", "render_tag", "notes_text", "cover_jpeg"]
