"""The domain: plain, immutable dataclasses that every stage passes along.

Data flows one way: config -> Show/Episode -> master (Media) -> upload -> feed;
logs -> Download -> reports.  Nothing in here does I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

#: Podcasting 2.0 namespace for ``podcast:guid`` (podcast-namespace docs/tags/guid.md).
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


def podcast_guid(feed_url: str) -> str:
    """``podcast:guid`` of a feed URL: UUIDv5 of the URL without scheme and trailing slashes."""
    bare = feed_url.split("://", 1)[-1].rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


@dataclass(frozen=True)
class Person:
    """A host or a guest (``podcast:person``)."""

    name: str
    role: str = "host"
    group: str = "cast"
    title: str | None = None  # e.g. "Directrice, One to One Monaco"
    href: str | None = None
    img: str | None = None  # a URL (the feed's podcast:person img)
    # ``img:`` naming a local file: the pages show it resized from the store, no other host
    photo: Path | None = None


# SPEC names the guest a Guest; it is a Person with role "guest".
Guest = Person


@dataclass(frozen=True)
class Chapter:
    """A chapter mark, ``start`` in seconds from the start of the recording."""

    start: float
    title: str
    url: str | None = None
    img: str | None = None


@dataclass(frozen=True)
class Funding:
    """``podcast:funding``: where listeners can support the show."""

    url: str
    text: str


@dataclass(frozen=True)
class Txt:
    """``podcast:txt``: free text for a directory, e.g. an ownership ``verify`` code."""

    value: str
    purpose: str | None = None


@dataclass(frozen=True)
class License:
    """``podcast:license``: a licence identifier (e.g. ``CC-BY-4.0``), with its text's URL."""

    identifier: str
    url: str | None = None


@dataclass(frozen=True)
class Location:
    """``podcast:location``: where the show is about (``subject``) or made (``creator``)."""

    name: str
    rel: str | None = None  # subject | creator
    geo: str | None = None  # RFC 5870 geo URI, e.g. geo:43.7384,7.4246
    osm: str | None = None  # OpenStreetMap type letter and id, e.g. R1124039
    country: str | None = None  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class RemoteFeed:
    """A show recommended in ``podcast:podroll`` (a ``podcast:remoteItem``)."""

    guid: str  # its podcast:guid
    url: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Soundbite:
    """``podcast:soundbite``: a highlight of the episode, in seconds of the recording."""

    start: float
    duration: float
    title: str | None = None


@dataclass(frozen=True)
class Schedule:
    """``schedule:`` in podcast.yaml, the release schedule ``podcast:updateFrequency`` states:
    every ``interval`` days, weeks, months or years (``every``), on ``days`` (RFC 5545
    weekday codes, ``MO``…), from ``start``; ``text`` as apps show it."""

    every: str  # daily | weekly | monthly | yearly
    text: str
    interval: int = 1
    days: tuple[str, ...] = ()
    start: date | None = None

    @property
    def rrule(self) -> str:
        """The RFC 5545 recurrence rule, e.g. ``FREQ=WEEKLY;INTERVAL=2;BYDAY=MO``."""
        parts = [f"FREQ={self.every.upper()}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.days:
            parts.append("BYDAY=" + ",".join(self.days))
        return ";".join(parts)


@dataclass(frozen=True)
class Target:
    """An audience goal from ``targets:`` in podcast.yaml."""

    name: str
    metric: str  # downloads | listeners | listens (downloads + non-Apple platform plays)
    goal: int
    by: date
    episodes: tuple[str, ...] = ()  # empty = every episode


@dataclass(frozen=True)
class AudioSettings:
    """How masters are produced (``audio:`` in podcast.yaml)."""

    loudness: float = -16.0  # LUFS, stereo-playback convention
    true_peak: float = -1.0  # dBTP
    channels: str = "mono"  # mono | stereo
    bitrate: str = "96k"  # CBR
    sample_rate: int = 44100
    intro: Path | None = None
    outro: Path | None = None
    highpass: float = 80.0  # Hz, the voice high-pass; 0 = off (DC is removed anyway)
    hum: str = "auto"  # mains hum notched: auto | 50 | 60 | off
    max_pause: float | None = None  # s: longer pauses are shortened to this; None = off
    denoise: str = "off"  # off | light | strong (afftdn, profile learned from a pause)
    # A second file made from the master (opus | aac), listed as podcast:alternateEnclosure;
    # not part of the master's input hash (the MP3 does not change with it).
    rendition: str | None = None

    @property
    def bitrate_bps(self) -> int:
        """The bitrate in bits per second (``96k`` -> 96000)."""
        text = self.bitrate.lower()
        return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)

    @property
    def meter_target(self) -> float:
        """The target as a plain BS.1770 meter (ffmpeg ``ebur128``) reads the file.

        A mono file is played on two speakers and sounds 3 LU louder than a
        single-channel meter reads ("dual mono"), so a -16 LUFS target is a
        -19 LUFS reading for a mono master.
        """
        return self.loudness - 3.0 if self.channels == "mono" else self.loudness


#: ``stats.library_bots``: ``drop`` follows OPAWG's categories (the default), ``count``
#: counts the libraries OPAWG marks as bots as listeners.
LIBRARY_BOT_POLICIES = ("drop", "count")


@dataclass(frozen=True)
class StatsSettings:
    """``stats:`` in podcast.yaml: counting choices that must stay the same every night."""

    #: Libraries OPAWG marks ``category: bot`` (bare ``okhttp``…): ``drop`` (OPAWG, OP3)
    #: or ``count``.
    library_bots: str = "drop"


@dataclass(frozen=True)
class TranscriptionSettings:
    """``transcription:`` in podcast.yaml: the speech recognition model (``podcast
    transcribe``, ``transcript: auto``): a CTranslate2 Whisper folder or a model name
    faster-whisper knows (None: not chosen), and where and how it runs."""

    model: str | None = None
    device: str = "cpu"
    compute_type: str = "int8"


@dataclass(frozen=True)
class Show:
    """The show, as validated from podcast.yaml."""

    config_path: Path
    title: str
    description: str
    author: str
    email: str
    language: str
    link: str
    image: Path
    categories: tuple[str, ...]
    explicit: bool
    base_url: str
    feed_url: str
    guid: str  # podcast:guid, frozen in podcast.yaml once published
    type: str = "episodic"
    copyright: str | None = None
    funding: tuple[Funding, ...] = ()
    locked: bool = False
    hosts: tuple[Person, ...] = ()
    storage: str = "file://public"
    audio: AudioSettings = field(default_factory=AudioSettings)
    targets: tuple[Target, ...] = ()
    # Feed lifecycle and discovery (README: "The show: podcast.yaml").
    new_feed_url: str | None = None  # itunes:new-feed-url: the feed has moved there
    block: bool = False  # itunes:block Yes: hidden from Apple Podcasts
    # ``block`` as a list: the platforms (podcast-namespace service slugs) asked not to list
    # the show, each a ``podcast:block id=…``; empty with ``block: true`` (blocked everywhere)
    blocked: tuple[str, ...] = ()
    schedule: Schedule | None = None  # podcast:updateFrequency
    complete: bool = False  # itunes:complete Yes: no more episodes will come
    txt: tuple[Txt, ...] = ()
    license: License | None = None
    locations: tuple[Location, ...] = ()
    podroll: tuple[RemoteFeed, ...] = ()
    websub: tuple[str, ...] = ()  # hub URLs pinged after each feed upload
    subscribe: dict[str, str] = field(default_factory=dict)  # app name -> URL, in order
    seasons: dict[int, str] = field(default_factory=dict)  # season number -> its name
    # Other base URLs and buckets the media is served under (a CDN domain, an old domain,
    # a prefix service, s3://BUCKET): their requests count like base_url's.
    aliases: tuple[str, ...] = ()
    stats: StatsSettings = field(default_factory=StatsSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)

    @property
    def root(self) -> Path:
        """The folder holding podcast.yaml; relative paths are resolved against it."""
        return self.config_path.parent

    @property
    def episodes_dir(self) -> Path:
        return self.root / "episodes"

    @property
    def state_dir(self) -> Path:
        """Local working state (master cache, stats database): ``.podcast/``."""
        return self.root / ".podcast"


#: ``role`` of a multitrack recording: a speaker's microphone, or a music bed.
TRACK_ROLES = ("host", "guest", "music")


@dataclass(frozen=True)
class Track:
    """One recording of a multitrack episode (``audio:`` as a list): one per speaker.

    ``offset`` (s) is where the track starts in the mix (negative: its first seconds are
    dropped); ``gain`` (dB) is added before anything else; ``pan`` (-1 left .. 1 right)
    places it in a stereo master.
    """

    file: Path
    role: str = "host"  # host | guest | music
    name: str | None = None
    offset: float = 0.0
    gain: float = 0.0
    pan: float = 0.0

    @property
    def is_speech(self) -> bool:
        """A speaker's track (levelled and gated), not a music bed (ducked)."""
        return self.role != "music"


@dataclass(frozen=True)
class Episode:
    """One episode folder, as validated from ``episodes/<slug>/episode.md``.

    A multitrack episode lists its recordings in ``tracks`` (one per speaker, and music
    beds); its ``audio`` is then the first speaker's track, whose timeline the chapters
    and transcript follow (all tracks share it)."""

    slug: str
    folder: Path
    title: str
    published: datetime  # timezone-aware; in the future = scheduled
    audio: Path
    notes: str  # Markdown
    guid: str
    type: str = "full"  # full | trailer | bonus
    season: int | None = None
    number: int | None = None
    explicit: bool = False
    guests: tuple[Person, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    transcript: Path | None = None
    more_transcripts: tuple[Path, ...] = ()  # ``transcript:`` as a list: the other formats
    # ``transcript: auto``: made by speech recognition (podcast.transcripts) at publish
    transcript_auto: bool = False
    image: Path | None = None
    summary: str | None = None  # one-line subtitle; defaults to the notes' first paragraph
    soundbites: tuple[Soundbite, ...] = ()
    locations: tuple[Location, ...] = ()  # podcast:location of this episode
    tracks: tuple[Track, ...] = ()  # multitrack: one recording per speaker (and music)

    @property
    def is_multitrack(self) -> bool:
        """Whether ``audio:`` lists separate recordings, mixed by the master."""
        return bool(self.tracks)

    @property
    def source(self) -> Path:
        """The episode file itself (for error messages)."""
        return self.folder / "episode.md"

    def is_live(self, now: datetime) -> bool:
        """Whether the episode belongs in a feed built at ``now``."""
        return self.published <= now


@dataclass(frozen=True)
class Timeline:
    """Recording time -> master time: ``offset`` (the intro) and ``cuts`` (recording
    seconds, ``[start, end)``, sorted)."""

    offset: float = 0.0
    cuts: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_dict(cls, data: dict | None) -> Timeline:
        """The timeline as ``asdict`` wrote it into JSON (None: no intro, no cuts)."""
        if not data:
            return cls()
        return cls(offset=float(data.get("offset", 0.0)),
                   cuts=tuple((float(start), float(end)) for start, end in data.get("cuts", ())))

    def __call__(self, seconds: float) -> float:
        removed = 0.0
        for start, end in self.cuts:
            if seconds >= end:
                removed += end - start
            elif seconds > start:
                removed += seconds - start  # inside the cut: snaps to it
        return seconds + self.offset - removed

    @property
    def removed(self) -> float:
        """Seconds cut in all."""
        return sum(end - start for start, end in self.cuts)

    def program_cuts(self) -> list[tuple[float, float]]:
        """The cuts in program time (intro included), as pass 2 applies them."""
        return [(start + self.offset, end + self.offset) for start, end in self.cuts]


@dataclass(frozen=True)
class Rendition:
    """A second encoding of a published master (``podcast:alternateEnclosure``)."""

    key: str  # storage key, content-addressed
    type: str  # MIME type, e.g. audio/ogg
    codecs: str  # RFC 6381, e.g. opus
    bytes: int
    sha256: str
    bitrate: int  # bits per second (target)
    source: str  # sha256 of the master it was made from


@dataclass(frozen=True)
class Media:
    """A published master and its companions, as recorded in the storage manifest."""

    slug: str
    key: str  # storage key of the MP3, content-addressed
    bytes: int
    sha256: str
    duration: float  # seconds
    tag_size: int  # ID3 tag bytes at the start of the file
    bitrate: int  # bits per second (CBR)
    input_hash: str  # hash of every input and setting the master was made from
    chapters_key: str | None = None
    transcript_key: str | None = None
    transcript_type: str | None = None
    # Further transcripts of the episode (a generated one's SRT and JSON): (key, type)
    more_transcripts: tuple[tuple[str, str], ...] = ()
    image_key: str | None = None
    # Where the recording's times land in the master (intro, cut pauses): chapter and
    # transcript times move by it, also when a later publish re-plans them without audio.
    timeline: Timeline = field(default_factory=Timeline)
    renditions: tuple[Rendition, ...] = ()  # ``audio.rendition``: Opus or AAC beside the MP3

    def __post_init__(self) -> None:
        # The manifest's JSON gives lists; keep the entry hashable and comparable.
        object.__setattr__(self, "more_transcripts",
                           tuple(tuple(pair) for pair in self.more_transcripts))
        object.__setattr__(self, "renditions", tuple(
            item if isinstance(item, Rendition) else Rendition(**item)
            for item in self.renditions))


@dataclass(frozen=True)
class Download:
    """One counted IAB download: an (episode, listener) pair on one UTC day."""

    day: date
    slug: str
    listener: str  # keyed hash of (IP /64, user agent); never the raw IP
    app: str
    device: str
    country: str | None = None
    bytes: int = 0
    source: str | None = None  # the log it was counted from: s3, cloudfront or combined
    via: str | None = None  # the share-link code it came through (podcast share), if any


@dataclass(frozen=True)
class Catalog:
    """What the store holds for the show, read from its private manifest
    (``.podcast/manifest.json`` in the store).

    ``media`` is the current master of each episode by slug; ``retired`` keeps earlier
    masters of re-mastered episodes so their downloads still count for the episode.
    ``staged`` lists the public keys whose objects are still held back in the store's
    private area (a scheduled episode's media): copied to their key by the first build at or
    after the episode's time.
    """

    media: dict[str, Media] = field(default_factory=dict)
    retired: tuple[Media, ...] = ()
    image_key: str | None = None  # the show artwork, content-addressed
    staged: tuple[str, ...] = ()  # sorted public keys not yet released

    def all_media(self) -> tuple[Media, ...]:
        """Current and retired masters (a manifest may never forget one)."""
        return tuple(self.media.values()) + self.retired

    def downloadable(self) -> tuple[Media, ...]:
        """Every file a download of an episode may be logged for: the masters and their
        renditions, a rendition given as its master's media with its own key, size and
        bitrate (and no ID3 tag), so that it counts for the episode."""
        masters = self.all_media()
        return masters + tuple(
            replace(master, key=item.key, bytes=item.bytes, sha256=item.sha256,
                    tag_size=0, bitrate=item.bitrate, renditions=())
            for master in masters for item in master.renditions)
