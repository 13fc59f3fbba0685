"""Publish stage: master what changed, upload it, then write the manifest, pages and feed.

The order is the safety net: every media object (MP3, chapters, transcript, art) is uploaded
and verified (size and sha256 read back from the store) before the manifest, and the feed
is written last.  A failure anywhere before that leaves the previous feed in place, and it
only ever names objects that exist.  Objects are content-addressed (``media/<slug>-<sha>``)
so a CDN never serves an old master under a new feed, and nothing public is ever deleted:
old masters keep counting downloads (``Catalog.retired``).

Embargo: the objects of an episode not yet live are uploaded to the store's private area
(``.podcast/staged/<key>``), never to their public key; the first build at or after the
episode's time (``publish`` or the nightly ``feed --upload``, which has no masters) copies
them to their key inside the store, verifies them, and only then lists the episode.  Each
release is checked before it happens: ``publish`` builds and validates the feed and pages
as they will be at every scheduled episode's time (reading its objects from the local files
and the private area) and refuses, uploading nothing, when one would fail; a release copies
and un-holds objects only once the feed that lists them passed its checks, so a refused
release leaves them held and the manifest unchanged, and the next build tries again.

Overlapping runs: mastering and media uploads run side by side, but the manifest is changed
by re-applying this run's change to the latest manifest (``storage.update_catalog``), and
the pages and feed are built again until the manifest they were built from is still the
stored one, so the last feed written names every run's masters.  ``file://`` also holds an
exclusive lock around that part.

Re-running is cheap and idempotent: an episode is re-mastered only when its *input hash*
(audio, intro/outro, audio settings and everything that goes into its tags) changed, masters
are cached in ``.podcast/masters/``, an object already in the store with the same size and
sha256 is not sent again, and the feed and pages are re-put only when their bytes changed.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import random
import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from . import binaries
from .config import freeze_guid, load_episodes
from .errors import ConfigError, PodcastError, StorageError
from .files import FileDigests, atomic_write, atomic_writer, sha256_file
from .model import Catalog, Episode, Media, Person, Rendition, Show, Timeline
from .progress import Progress
from .storage import (
    MANIFEST_ATTEMPTS,
    MANIFEST_KEY,
    PRIVATE_CACHE,
    Committed,
    MissingObject,
    ObjectInfo,
    ReadableStore,
    Store,
    cache_control,
    content_type,
    manifest_version,
    open_store,
    read_catalog,
    read_manifest,
    staged_key,
    update_catalog,
)

if TYPE_CHECKING:  # the audio package is imported only when something is mastered
    from concurrent.futures import Future

    from .audio.results import MasterResult

Echo = Callable[[str], None]

#: Bump when the mastering chain changes in a way that should re-master every episode.
MASTER_VERSION = 3
FEED_KEY = "feed.xml"
#: The podcast:transcript types by file extension (podcast-namespace docs/tags/transcript).
TRANSCRIPT_TYPES = {".vtt": "text/vtt", ".srt": "application/x-subrip",
                    ".json": "application/json", ".html": "text/html", ".txt": "text/plain"}


@dataclass(frozen=True)
class Planned:
    """One object to have in the store: from a file or from bytes."""

    key: str
    size: int | None  # None in a dry run for a master not made yet
    sha256: str | None
    path: Path | None = None
    data: bytes | None = None
    staged: bool = False  # held back in the private area until its episode's time

    @property
    def store_key(self) -> str:
        """Where the object goes now: its public key, or its place in the private area."""
        return staged_key(self.key) if self.staged else self.key

    def describe(self) -> str:
        size = f"{self.size:,} bytes" if self.size is not None else "size after mastering"
        held = ", held back until its release" if self.staged else ""
        return f"{self.key} ({size}{held})"


@dataclass(frozen=True)
class CatalogChange:
    """What one publish changes in the manifest: re-applied to the latest one on write."""

    media: dict[str, Media]  # new entries by slug
    staged: frozenset[str] = frozenset()  # public keys this run put in the private area
    image_key: str | None = None

    def apply(self, catalog: Catalog) -> Catalog:
        """``catalog`` with this change: each replaced master kept as retired, the cover
        and held-back keys recorded.  Idempotent, and it never forgets a key."""
        media = dict(catalog.media)
        retired = list(catalog.retired)
        for slug, entry in self.media.items():
            previous = media.get(slug)
            media[slug] = entry
            if previous is not None and previous.key != entry.key and previous not in retired:
                retired.append(previous)  # its downloads still count
        # A master that is current again (an edit undone) is no longer retired.
        current_keys = {entry.key for entry in media.values()}
        retired = [entry for entry in retired if entry.key not in current_keys]
        return Catalog(media=media, retired=tuple(retired),
                       image_key=self.image_key or catalog.image_key,
                       staged=tuple(sorted(set(catalog.staged) | self.staged)))


@dataclass
class PublishReport:
    """What a publish did (or, in a dry run, would do)."""

    dry_run: bool = False
    # Called as masters and uploads advance (the CLI draws bars); not part of the report.
    progress: Progress | None = field(default=None, repr=False, compare=False)
    mastered: list[str] = field(default_factory=list)  # slugs
    uploaded: list[str] = field(default_factory=list)  # media/art keys put
    bytes_uploaded: int = 0
    written: list[str] = field(default_factory=list)  # manifest, pages, feed re-put
    catalog: Catalog = field(default_factory=Catalog)
    guid_frozen: bool = False


# --- keys and hashes (pure) ------------------------------------------------------------


def ascii_slug(text: str) -> str:
    """Lowercase ASCII letters, digits and hyphens: ``"Été phygital"`` -> ``"ete-phygital"``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def media_key(slug: str, sha256: str) -> str:
    """Storage key of a master: content-addressed so a new master gets a new URL."""
    return f"media/{slug}-{sha256[:12]}.mp3"


def art_key(path: Path, sha256: str, stem: str | None = None) -> str:
    """Storage key of artwork: ``art/<stem>-<sha12>.jpg|png`` (Apple: rename when it changes)."""
    suffix = ".png" if path.suffix.lower() == ".png" else ".jpg"
    return f"art/{ascii_slug(stem or path.stem) or 'cover'}-{sha256[:12]}{suffix}"


def _tag_person(person: Person) -> dict:
    """A host's or guest's fields in the input hash.  A local photo (``photo``) is the
    pages' only, not the tag's: left out, so hashes made before it existed stay the same."""
    return {key: value for key, value in asdict(person).items() if key != "photo"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digests(show: Show) -> FileDigests:
    """The show's kept file digests (``.podcast/digests.json``): a recording hashed once
    is not read again while it stays unchanged."""
    return FileDigests(show.state_dir / "digests.json")


def episode_input_hash(show: Show, episode: Episode,
                       digests: FileDigests | None = None) -> str:
    """Hash of everything the episode's master is made from.

    Audio bytes, intro/outro bytes, the audio settings, and all the metadata written into
    the ID3 tag (episode and show), including the cover's bytes.  Paths are left out so a
    checkout in another folder (CI) hashes the same.  The files' hashes come from
    ``digests`` (kept by the caller), or from the show's, saved before returning.
    """
    if digests is None:
        digests = file_digests(show)
        try:
            return episode_input_hash(show, episode, digests)
        finally:
            digests.save()
    audio = show.audio

    def file_hash(path: Path | None) -> str | None:
        return digests.sha256(path) if path is not None else None

    document = {
        "master_version": MASTER_VERSION,
        "audio": file_hash(episode.audio),
        "intro": file_hash(audio.intro),
        "outro": file_hash(audio.outro),
        # A multitrack episode: every track's bytes and settings (absent for one file, so
        # its hash is unchanged).
        **({"tracks": [{**asdict(track), "file": file_hash(track.file)}
                       for track in episode.tracks]} if episode.tracks else {}),
        # Every audio setting (a new one is covered without a change here); the intro and
        # outro by their bytes above, not their paths.
        "settings": {key: value for key, value in asdict(audio).items()
                     if key not in ("intro", "outro", "rendition")},
        # The fields podcast.tags writes into the ID3 tag, and no others: a new show
        # description must not re-master (and re-publish under new URLs) every episode.
        "episode": {
            "title": episode.title, "published": episode.published.isoformat(),
            "guid": episode.guid, "season": episode.season, "number": episode.number,
            "notes": episode.notes, "summary": episode.summary,
            "guests": [_tag_person(g) for g in episode.guests],
            "chapters": [asdict(c) for c in episode.chapters],
            "image": file_hash(episode.image),
        },
        "show": {
            "title": show.title, "author": show.author, "language": show.language,
            "link": show.link,
            "hosts": [_tag_person(h) for h in show.hosts], "image": file_hash(show.image),
        },
    }
    return _sha(json.dumps(document, sort_keys=True, ensure_ascii=True).encode())


def publishable(episodes: list[Episode], catalog: Catalog) -> list[Episode]:
    """The episodes that have a master in the store (the feed may only name those)."""
    return [episode for episode in episodes if episode.slug in catalog.media]


def select_episodes(show: Show, episodes: list[Episode], slugs: list[str]) -> list[Episode]:
    """The episodes named by ``slugs`` (all of them when empty)."""
    if not slugs:
        return episodes
    by_slug = {episode.slug: episode for episode in episodes}
    unknown = [slug for slug in slugs if slug not in by_slug]
    if unknown:
        raise ConfigError(f"no episode {unknown[0]!r}", file=show.episodes_dir,
                          fix="known episodes: " + (", ".join(by_slug) or "none yet"))
    return [by_slug[slug] for slug in dict.fromkeys(slugs)]


# --- mastering, with a cache -------------------------------------------------------------


@dataclass(frozen=True)
class Master:
    """A finished master in the local cache."""

    path: Path
    bytes: int
    sha256: str
    duration: float
    tag_size: int
    timeline: Timeline = field(default_factory=Timeline)


def cached_master(show: Show, episode: Episode, input_hash: str) -> Master | None:
    """The cached master for this input hash, if a complete one is there."""
    path, sidecar = _cache_paths(show, episode, input_hash)
    if not (path.is_file() and sidecar.is_file()):
        return None
    try:
        figures = json.loads(sidecar.read_text(encoding="utf-8"))
        master = Master(path=path, **{**figures,
                                      "timeline": Timeline.from_dict(figures["timeline"])})
    except (ValueError, TypeError, KeyError):  # damaged, or from before timelines
        return None
    if path.stat().st_size != master.bytes:
        return None
    return master


def make_master(show: Show, episode: Episode, input_hash: str, *,
                progress: Progress | None) -> Master:
    """Master the episode into the cache (``.podcast/masters/<slug>-<hash>.mp3``)."""
    from .audio import master as run_master

    path, _ = _cache_paths(show, episode, input_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = run_master(show, episode, path, overwrite=True, progress=progress)
    return _remember_master(show, episode, input_hash, result)


def keep_master(show: Show, episode: Episode, input_hash: str, made: Path,
                result: MasterResult) -> Master:
    """Copy the MP3 ``podcast master`` made at ``made`` into the cache, so that a publish
    of the same inputs (``input_hash``, taken before mastering) uploads it as it is
    instead of mastering again."""
    path, _ = _cache_paths(show, episode, input_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    if made.resolve() != path.resolve():
        # A copy, not a link: the user may edit or replace their file later.
        with made.open("rb") as source, atomic_writer(path) as out:
            shutil.copyfileobj(source, out)
    return _remember_master(show, episode, input_hash, result)


def _remember_master(show: Show, episode: Episode, input_hash: str,
                     result: MasterResult) -> Master:
    """Write the cached master's figures beside it and drop masters of earlier inputs."""
    path, sidecar = _cache_paths(show, episode, input_hash)
    out = result.output
    master = Master(path=path, bytes=int(out.bytes), sha256=sha256_file(path),
                    duration=float(out.duration), tag_size=int(out.tag_size),
                    timeline=result.timeline)
    figures = {k: v for k, v in asdict(master).items() if k != "path"}
    atomic_write(sidecar, json.dumps(figures, indent=2).encode())
    # Masters of earlier inputs are no longer needed locally (they stay in the store).
    pattern = re.compile(rf"^{re.escape(episode.slug)}-([0-9a-f]{{16}})\.(mp3|json|media\.json)$")
    for old in path.parent.iterdir():
        match = pattern.match(old.name)
        if match and match.group(1) != input_hash[:16]:
            old.unlink(missing_ok=True)
    return master


def _cache_paths(show: Show, episode: Episode, input_hash: str) -> tuple[Path, Path]:
    stem = f"{episode.slug}-{input_hash[:16]}"
    folder = show.state_dir / "masters"
    # ``<stem>.json`` is the mastering report audio.master writes; ours is ``.media.json``.
    return folder / f"{stem}.mp3", folder / f"{stem}.media.json"


# --- uploading -----------------------------------------------------------------------------


def _file_object(key: str, path: Path) -> Planned:
    return Planned(key=key, size=path.stat().st_size, sha256=sha256_file(path), path=path)


def _bytes_object(key: str, data: bytes) -> Planned:
    return Planned(key=key, size=len(data), sha256=_sha(data), data=data)


class NotVerified(StorageError):
    """An object read back after its upload is not what was sent."""


def _is_stored(store: Store, item: Planned) -> bool:
    head = store.head(item.store_key)
    return head is not None and head.size == item.size and head.sha256 == item.sha256


def upload(store: Store, item: Planned, *, progress: Progress | None = None) -> None:
    """Put one object, then read its size and sha256 back; StorageError if they differ.

    ``progress`` is called with the object's key and the bytes sent so far."""
    key = item.store_key
    kind = content_type(item.key)
    cache = PRIVATE_CACHE if item.staged else cache_control(item.key)
    if item.path is not None:
        store.put_file(key, item.path, content_type=kind, cache_control=cache,
                       progress=_bytes_sent(item, progress) if progress else None)
    else:
        assert item.data is not None  # a planned object is a file or bytes
        store.put_bytes(key, item.data, content_type=kind, cache_control=cache)
    head = store.head(key)
    if head is None or head.size != item.size or head.sha256 != item.sha256:
        got = "nothing" if head is None else f"{head.size} bytes, sha256 {head.sha256}"
        raise NotVerified(
            f"upload of {key} did not verify: sent {item.size} bytes, sha256 "
            f"{item.sha256}; the store has {got}", file=f"{store.url}/{key}",
            fix="run `podcast publish` again; if it persists, check the storage service")


def _bytes_sent(item: Planned, progress: Progress) -> Callable[[int], None]:
    """The storage's callback (bytes just sent) as ``progress`` calls: bytes sent so far."""
    sent, total = [0], item.size
    assert total is not None  # known once mastered (unknown only in a dry run)
    progress(item.key, 0, total)

    def advance(count: int) -> None:
        sent[0] += count
        progress(item.key, sent[0], total)

    return advance


def put_if_changed(store: Store, key: str, data: bytes) -> bool:
    """Put ``data`` under ``key`` unless the store already holds these exact bytes."""
    item = _bytes_object(key, data)
    if _is_stored(store, item):
        return False
    upload(store, item)
    return True


# --- feed and pages ------------------------------------------------------------------------


def build_outputs(show: Show, episodes: list[Episode], catalog: Catalog, now: datetime,
                  *, pages: bool = True, store: ReadableStore | None = None
                  ) -> tuple[bytes, dict[str, bytes]]:
    """The feed and the HTML pages (none without ``pages``) for the episodes that have
    media in the catalog; ``store`` gives the pages the generated transcripts' lines."""
    from .feed import build_feed
    from .site import render_site

    live = publishable(episodes, catalog)
    if not pages:
        return build_feed(show, live, catalog, now=now), {}
    generated = stored_transcripts(store, live, catalog, now) if store is not None else {}
    return (build_feed(show, live, catalog, now=now),
            render_site(show, live, catalog, now=now, generated=generated))


def stored_transcripts(store: ReadableStore, episodes: list[Episode], catalog: Catalog,
                       now: datetime) -> dict[str, str]:
    """The stored text of each live ``transcript: auto`` episode's transcript, by slug: a
    fresh checkout (the nightly feed build) has no transcript cache, the store has them."""
    texts = {}
    for episode in episodes:
        key = catalog.media[episode.slug].transcript_key
        if episode.transcript_auto and key and episode.is_live(now):
            try:
                texts[episode.slug] = store.get_bytes(key).decode("utf-8", "replace")
            except MissingObject:  # the page then links the file without its lines
                continue
    return texts


def write_outputs(store: Store, feed: bytes, pages: dict[str, bytes]) -> list[str]:
    """Put the pages, then the feed last; only what changed. Returns the keys written.

    A feed that ``validate`` finds errors in is refused first (PodcastError): nothing is
    written and the previous feed stays in place.
    """
    from .validate import check_before_upload

    check_before_upload(feed, store)
    written = [key for key, data in sorted(pages.items()) if put_if_changed(store, key, data)]
    if put_if_changed(store, FEED_KEY, feed):
        written.append(FEED_KEY)
    return written


# --- the embargo: releasing held-back objects ----------------------------------------------


def due_for_release(catalog: Catalog, episodes: list[Episode], now: datetime) -> set[str]:
    """Held-back keys of the episodes live at ``now``: their current master and companions."""
    due: set[str] = set()
    for episode in publishable(episodes, catalog):
        if episode.is_live(now):
            due |= _keys(catalog.media[episode.slug]) & set(catalog.staged)
    return due


def _keys(entry: Media) -> set[str]:
    """The keys of an episode's master and companions."""
    return {key for key in (entry.key, entry.chapters_key, entry.transcript_key,
                            entry.image_key) if key} | {key for key, _ in entry.more_transcripts} \
        | {rendition.key for rendition in entry.renditions}


def release(store: Store, keys: set[str], echo: Echo) -> None:
    """Copy each held-back object to its public key inside the store and verify it.

    Idempotent and safe beside another run releasing the same keys: an object already at
    its key with the staged copy's size and sha256 (or whose staged copy another run has
    released and removed) is left as it is.
    """
    for key in sorted(keys):
        source = staged_key(key)
        held, public = store.head(source), store.head(key)
        if public is not None and (held is None or (public.size, public.sha256) ==
                                   (held.size, held.sha256)):
            continue
        if held is None:
            raise StorageError(
                f"{key} is due for release but its held-back copy {source} is missing",
                file=f"{store.url}/{source}",
                fix="run `podcast publish` for its episode: it uploads the object again")
        try:
            store.copy(source, key, content_type=content_type(key),
                       cache_control=cache_control(key))
        except MissingObject:  # released and removed by another run meanwhile
            if store.head(key) is None:
                raise
            continue
        upload_check = store.head(key)
        if upload_check is None or (upload_check.size, upload_check.sha256) != (
                held.size, held.sha256):
            raise StorageError(f"the release copy of {key} did not verify",
                               file=f"{store.url}/{key}",
                               fix="run the command again; if it persists, check the storage")
        echo(f"released {key}")


def _without_staged(keys: set[str]) -> Callable[[Catalog], Catalog]:
    """The manifest change that records ``keys`` as released (no longer held back)."""
    def change(catalog: Catalog) -> Catalog:
        return replace(catalog, staged=tuple(sorted(set(catalog.staged) - keys)))
    return change


def settle(store: Store, show: Show, episodes: list[Episode], committed: Committed,
           now: datetime, echo: Echo) -> tuple[Catalog, bytes, list[str]]:
    """Release what is due, then write the pages and the feed (last) from the stored
    manifest; again while another run changed the manifest meanwhile.

    Returns the catalog the final feed was built from, the feed and the keys written.
    The manifest a run checks after its feed write is the newest: any run that changes it
    later writes its own feed after that, so the last feed written names every run's
    masters.  Held-back copies are removed once their public copies are listed.
    """
    written: list[str] = []
    released: set[str] = set()
    for _ in range(MANIFEST_ATTEMPTS):
        due = due_for_release(committed.catalog, episodes, now)
        if due:
            # The feed that lists them must pass first: refused, they stay held back and
            # the manifest unchanged, and the next build tries again.
            check_release(store, show, episodes, committed.catalog, now, due)
            release(store, due, echo)
            released |= due
            committed = update_catalog(store, _without_staged(due))
            written.append(MANIFEST_KEY)
        feed, pages = build_outputs(show, episodes, committed.catalog, now, store=store)
        try:
            written += write_outputs(store, feed, pages)
        except NotVerified:
            # S3 has no lock: another run's page or feed (built from another manifest)
            # landed between our PUT and its read-back.  Build again from the latest.
            _pause_briefly()
            latest = read_manifest(store)
            committed = Committed(latest.catalog, latest.version, written=False)
            continue
        if manifest_version(store) == committed.version:
            _remove_staged_copies(store, released, echo)
            if FEED_KEY in written:  # the hubs tell apps the feed changed (failures warn)
                from .websub import ping_hubs

                ping_hubs(show, echo)
            return committed.catalog, feed, list(dict.fromkeys(written))
        latest = read_manifest(store)  # another run wrote meanwhile: build from theirs
        committed = Committed(latest.catalog, latest.version, written=False)
    raise StorageError(f"the manifest in {store.url} kept changing while the feed was "
                       "written", fix="run the command again once the other publishes end")


def _pause_briefly() -> None:
    """A short random pause, so two runs rewriting the same page stop colliding."""
    time.sleep(random.uniform(0.05, 0.5))


def _remove_staged_copies(store: Store, keys: set[str], echo: Echo) -> None:
    """Delete the private copies of released objects (their public copies are verified)."""
    for key in sorted(keys):
        try:
            store.delete(staged_key(key))
        except StorageError as exc:  # only space is lost: the release itself is done
            echo(f"warning: could not remove the held-back copy of {key}: {exc}")


# --- checking a release before it happens -------------------------------------------------


@dataclass(frozen=True)
class ReleaseView:
    """The store as the feed of a coming release will find it, for its checks (read only):
    objects this run will upload from their local files, held-back objects from their
    private copies, everything else from the store."""

    store: Store
    planned: dict[str, Planned] = field(default_factory=dict)  # by public key
    held: frozenset[str] = frozenset()  # public keys still in the private area

    @property
    def url(self) -> str:
        return self.store.url

    def head(self, key: str) -> ObjectInfo | None:
        """Size and sha256 of ``key`` as the release will have it, or None."""
        item = self.planned.get(key)
        if item is not None and item.size is not None:
            return ObjectInfo(key, item.size, item.sha256)
        return self.store.head(staged_key(key) if key in self.held else key)

    def get_bytes(self, key: str) -> bytes:
        """The bytes of ``key`` as the release will have them; MissingObject if none."""
        item = self.planned.get(key)
        if item is not None and item.data is not None:
            return item.data
        if item is not None and item.path is not None:
            return item.path.read_bytes()
        return self.store.get_bytes(staged_key(key) if key in self.held else key)


def release_times(episodes: list[Episode], catalog: Catalog,
                  now: datetime) -> dict[datetime, list[Episode]]:
    """The scheduled episodes with media in ``catalog``, by release time, soonest first."""
    times: dict[datetime, list[Episode]] = {}
    for episode in sorted(publishable(episodes, catalog), key=lambda e: e.published):
        if not episode.is_live(now):
            times.setdefault(episode.published, []).append(episode)
    return times


def check_releases(store: Store, show: Show, episodes: list[Episode], catalog: Catalog,
                   planned: list[Planned], now: datetime) -> None:
    """Before anything is uploaded: the feed and pages as they are ``now`` and as they will
    be at each scheduled release pass the checks a live feed gets; PodcastError naming
    the episode and its date otherwise.  ``catalog`` is the manifest after this run."""
    view = ReleaseView(store, {item.key: item for item in planned}, frozenset(catalog.staged))
    _check_at(view, show, episodes, catalog, now, _releasing(episodes, catalog, now))
    for moment, due in release_times(episodes, catalog, now).items():
        _check_at(view, show, episodes, catalog, moment, due)


def check_release(store: Store, show: Show, episodes: list[Episode], catalog: Catalog,
                  now: datetime, due: set[str]) -> None:
    """Before held-back ``due`` keys are released at ``now``: the feed listing them passes
    the checks, their objects read from the private area; PodcastError otherwise."""
    view = ReleaseView(store, held=frozenset(catalog.staged))
    _check_at(view, show, episodes, _without_staged(due)(catalog), now,
              _releasing(episodes, catalog, now))


def _releasing(episodes: list[Episode], catalog: Catalog, now: datetime) -> list[Episode]:
    """The episodes a build at ``now`` releases: live, with objects still held back."""
    return [e for e in publishable(episodes, catalog)
            if e.is_live(now) and _keys(catalog.media[e.slug]) & set(catalog.staged)]


def _check_at(view: ReleaseView, show: Show, episodes: list[Episode], catalog: Catalog,
              moment: datetime, releasing: list[Episode]) -> None:
    """Build the feed at ``moment`` and check it; with ``releasing`` (the episodes that go
    live then) the pages too (a template error shows then), and a failure names those
    episodes and their date."""
    from .validate import check_before_upload, validate_feed

    if not releasing:  # the feed as it is now: settle builds the pages again anyway
        feed, _ = build_outputs(show, episodes, catalog, moment, pages=False)
        check_before_upload(feed, view)
        return
    try:
        feed, _ = build_outputs(show, episodes, catalog, moment, store=view)
    except PodcastError as exc:
        problems = [str(exc)]
    else:
        problems = [str(f) for f in validate_feed(feed, view) if f.level == "error"]
    if problems:
        names = ", ".join(f"{e.slug} (scheduled for {e.published.isoformat()})"
                          for e in releasing)
        raise PodcastError(
            f"{'episode' if len(releasing) == 1 else 'episodes'} {names}: the feed that "
            f"releases it has {len(problems)} error(s), so it stays held back and nothing "
            "was uploaded or released:\n    " + "\n    ".join(problems),
            file=releasing[0].source if len(releasing) == 1 else None,
            fix="correct what each error names (the episode's art, its tags…), then run "
                "`podcast publish` again")


# --- the commands ----------------------------------------------------------------------------


def publish(show: Show, slugs: list[str], *, dry_run: bool, storage_url: str | None,
            now: datetime, echo: Echo = print,
            progress: Progress | None = None, jobs: int | None = None) -> PublishReport:
    """Master what changed, upload it, then write the manifest, pages and feed (last).

    ``slugs`` empty means every episode.  Scheduled episodes (published after ``now``) are
    mastered and uploaded too, but into the store's private area: the feed, the pages and
    their public keys get them at the first build at or after their time.  Before anything
    is uploaded, the feed is checked as it is now and as it will be at each release
    (:func:`check_releases`): a scheduled episode that would be refused fails the run now.
    """
    store = open_store(storage_url or show.storage, show.root)
    episodes = load_episodes(show)
    selected = select_episodes(show, episodes, slugs)
    if any(episode.transcript_auto for episode in selected):
        from .transcripts import preflight

        preflight(show)  # a missing extra or a wrong model fails before any mastering
    report = PublishReport(dry_run=dry_run, progress=progress or None)
    plan, change, stored = _plan_show(store, show, selected, report, echo, now, jobs)
    # Nothing goes up, public or held back, before the feed passes now and at each release.
    check_releases(store, show, episodes, change.apply(stored), plan, now)
    _upload_plan(store, plan, report, echo)
    if dry_run:
        report.catalog = change.apply(stored)
        for key in sorted(due_for_release(report.catalog, episodes, now)):
            echo(f"would release {key}")
        echo(f"would then write {MANIFEST_KEY}, the pages and {FEED_KEY} (if changed)")
        return report
    # Only now, with every object verified in the store: manifest, pages, feed last.
    _write_index(store, show, episodes, change, now, report, echo)
    # Every scaffolded show starts on 127.0.0.1:8000: freezing that would give them all the
    # same podcast:guid, so the guid is frozen on the first publish to a public URL.
    if not is_local_url(show.feed_url) and freeze_guid(show):
        report.guid_frozen = True
        echo(f"wrote guid: {show.guid} into {show.config_path.name} (keep it)")
    return report


def _plan_show(store: Store, show: Show, selected: list[Episode], report: PublishReport,
               echo: Echo, now: datetime, jobs: int | None = None
               ) -> tuple[list[Planned], CatalogChange, Catalog]:
    """Master the selected episodes (what changed, ``jobs`` at a time): the objects they
    need, the manifest change that names them, and the catalog read before."""
    catalog = read_catalog(store)
    cover = _file_object(art_key(show.image, sha256_file(show.image)), show.image)
    plan: list[Planned] = [cover]
    entries: dict[str, Media] = {}
    masters = _master_changed(store, show, selected, catalog, report, echo, jobs)
    for episode in selected:
        current = catalog.media.get(episode.slug)
        entry, items = _plan_episode(store, show, episode, current, report, echo,
                                     masters[episode.slug])
        live = episode.is_live(now)
        plan.extend(placed for item in items
                    if (placed := _place(store, item, live, catalog)) is not None)
        if entry is not None:  # None in a dry run: not mastered yet
            entries[episode.slug] = entry
    staged = frozenset(item.key for item in plan if item.staged and item.sha256 is not None)
    return plan, CatalogChange(entries, staged, cover.key), catalog


def _place(store: Store, item: Planned, live: bool, catalog: Catalog) -> Planned | None:
    """Where one object of an episode goes: its public key when the episode is live, the
    private area while it is scheduled (unless already public); None when a held-back copy
    waits and the release will copy it inside the store."""
    if item.sha256 is None:  # dry run: a master not made yet
        return replace(item, staged=not live)
    if _is_stored(store, item):
        return item
    if not live:
        return replace(item, staged=True)
    if item.key in catalog.staged and _is_stored(store, replace(item, staged=True)):
        return None
    return item


def _upload_plan(store: Store, plan: list[Planned], report: PublishReport,
                 echo: Echo) -> None:
    """Upload (and verify) each planned object the store does not hold with the same bytes."""
    todo = [item for item in dict((i.key, i) for i in plan).values()
            if item.sha256 is None or not _is_stored(store, item)]
    if not todo:
        echo("nothing to upload")
    for item in todo:
        if report.dry_run:
            echo(f"would upload {item.describe()}")
            continue
        upload(store, item, progress=report.progress)
        report.uploaded.append(item.store_key)
        assert item.size is not None  # unknown only in a dry run (not mastered yet)
        report.bytes_uploaded += item.size
        echo(f"uploaded {item.describe()}")


def _write_index(store: Store, show: Show, episodes: list[Episode], change: CatalogChange,
                 now: datetime, report: PublishReport, echo: Echo) -> None:
    """The manifest (this run's change on the latest one), releases that are due, the
    pages and, last, the feed, each only if it changed."""
    with store.exclusive():
        committed = update_catalog(store, change.apply)
        if committed.written:
            report.written.append(MANIFEST_KEY)
        catalog, _, written = settle(store, show, episodes, committed, now, echo)
    report.catalog = catalog
    report.written = list(dict.fromkeys(report.written + written))
    listed = publishable(episodes, catalog)
    live = [e.slug for e in listed if e.is_live(now)]
    scheduled = [e.slug for e in listed if not e.is_live(now)]
    echo(f"feed: {len(live)} episode(s) live" + (
        f", {len(scheduled)} scheduled ({', '.join(scheduled)})" if scheduled else "") + (
        f"; wrote {', '.join(report.written)}" if report.written else "; unchanged"))
    for episode in listed:
        if not episode.is_live(now):
            echo(scheduled_notice(show, episode, now))


def scheduled_notice(show: Show, episode: Episode, now: datetime) -> str:
    """What a publish says of an episode not live yet: when it goes live, how long from
    ``now``, and how to release it now."""
    when = episode.published.astimezone(UTC)
    file = episode.source.relative_to(show.root).as_posix()
    example = now.astimezone(UTC).replace(second=0, microsecond=0)
    return (f"{episode.slug} goes live {when:%Y-%m-%d %H:%M} UTC "
            f"(in {wait_in_words(when - now)}), at the first `podcast publish` or "
            "`podcast feed --upload` after that time; to release it now, set "
            f"`published: {example:%Y-%m-%dT%H:%M}:00+00:00` in {file} and run "
            "`podcast publish`")


def wait_in_words(delta: timedelta) -> str:
    """A wait in words, to the minute: ``2 days 3 h``, ``5 h 12 min``, ``under a minute``."""
    minutes = int(delta.total_seconds() // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {mins} min" if mins else "")
    return f"{mins} min" if mins else "under a minute"


def is_local_url(url: str) -> bool:
    """Whether ``url`` points at this machine (a local test, not the show's public home)."""
    from urllib.parse import urlparse

    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


# --- mastering side by side ------------------------------------------------------------------


@dataclass(frozen=True)
class Mastering:
    """What a publish found for one episode's master before it plans the episode's objects."""

    input_hash: str
    unchanged: bool = False  # stored with these very inputs: nothing to master or upload
    master: Master | None = None  # cached or just made; None when unchanged or in a dry run


def cores() -> int:
    """The processors this process may run on (its affinity, where the system has one)."""
    count = getattr(os, "process_cpu_count", None)  # Python 3.13
    if count is not None:
        return count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity on this system (macOS)
        return os.cpu_count() or 1


def _unchanged(store: Store, current: Media | None, input_hash: str) -> bool:
    """Whether the stored master was made from these inputs and is safely in the store
    (public, or held back)."""
    if current is None or current.input_hash != input_hash:
        return False
    stored = Planned(current.key, current.bytes, current.sha256)
    return _is_stored(store, stored) or _is_stored(store, replace(stored, staged=True))


def _master_changed(store: Store, show: Show, selected: list[Episode], catalog: Catalog,
                    report: PublishReport, echo: Echo, jobs: int | None
                    ) -> dict[str, Mastering]:
    """Each selected episode's master, by slug: unchanged, in the cache, or made now (not
    in a dry run), up to ``jobs`` side by side (:func:`make_masters`)."""
    found: dict[str, Mastering] = {}
    todo: list[tuple[Episode, str]] = []
    digests = file_digests(show)
    for episode in selected:
        input_hash = episode_input_hash(show, episode, digests)
        if _unchanged(store, catalog.media.get(episode.slug), input_hash):
            found[episode.slug] = Mastering(input_hash, unchanged=True)
            continue
        master = cached_master(show, episode, input_hash)
        found[episode.slug] = Mastering(input_hash, master=master)
        if master is None and not report.dry_run:
            todo.append((episode, input_hash))
    if not report.dry_run:  # a dry run writes nothing, not even what it learned
        digests.save()
    for episode, _ in todo:  # in episode order, whichever master ends first
        echo(f"mastering {episode.slug}...")
    made = make_masters(show, todo, jobs=jobs, progress=report.progress)
    for (episode, input_hash), master in zip(todo, made, strict=True):
        found[episode.slug] = Mastering(input_hash, master=master)
        report.mastered.append(episode.slug)
    return found


def make_masters(show: Show, todo: list[tuple[Episode, str]], *, jobs: int | None = None,
                 progress: Progress | None = None) -> list[Master]:
    """:func:`make_master` of each (episode, input hash), in order, ``jobs`` at a time
    (default: one per processor, no more than the episodes).

    Threads suffice: a master's work is in its ffmpeg processes and numpy, which release
    the GIL.  When one fails, those after it (in order) not begun are not begun, those
    begun end, and the error of the first failed episode in order is raised: the one a
    run one at a time raises.  Interrupted (Ctrl-C, SIGTERM), every master's ffmpeg is
    ended at once.
    """
    workers = max(1, min(jobs or cores(), len(todo)))
    if workers == 1:  # one at a time: each master's own steps on the progress callback
        return [make_master(show, episode, input_hash, progress=progress)
                for episode, input_hash in todo]
    from concurrent.futures import ThreadPoolExecutor

    together = _MastersDone(progress, len(todo)) if progress is not None else None

    def one(episode: Episode, input_hash: str) -> Master:
        master = make_master(show, episode, input_hash, progress=None)
        if together is not None:
            together.advance()
        return master

    with ThreadPoolExecutor(workers, thread_name_prefix="master") as pool, binaries.job():
        # Each thread runs in a copy of this context: its ffmpeg belong to this job.  The
        # longest begin first, so that a long one does not begin last and run on alone.
        futures: dict[int, Future[Master]] = {}
        for index in sorted(range(len(todo)), key=lambda i: _listening_time(todo[i][0]),
                            reverse=True):
            episode, input_hash = todo[index]
            futures[index] = pool.submit(contextvars.copy_context().run, one, episode,
                                         input_hash)
        in_order = [futures[index] for index in range(len(todo))]
        try:
            _wait_in_order(in_order)
        finally:  # interrupted: what has not begun never will
            for future in in_order:
                future.cancel()
    for future in in_order:
        error = None if future.cancelled() else future.exception()
        if error is not None:
            raise error
    return [future.result() for future in in_order]


def _wait_in_order(futures: list[Future[Master]]) -> None:
    """Wait for the masters (in episode order); when one fails, those after it that have
    not begun never begin, those before it still run: one of them may fail first."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    pending = set(futures)
    while pending:
        _done, pending = wait(pending, return_when=FIRST_EXCEPTION)
        failed = [index for index, future in enumerate(futures) if future.done()
                  and not future.cancelled() and future.exception() is not None]
        if failed:
            for future in futures[min(failed) + 1:]:
                future.cancel()


def _listening_time(episode: Episode) -> float:
    """Seconds of recording a master of the episode decodes (every track of a multitrack
    one), read from the files' headers: the order masters are begun in."""
    from mutagen import File as read_audio_file  # (header only: no decoding)
    from mutagen import MutagenError

    total = 0.0
    for path in [track.file for track in episode.tracks] or [episode.audio]:
        try:
            total += float(read_audio_file(path).info.length)
        except (MutagenError, OSError, AttributeError):
            continue  # unreadable here: the master itself says what is wrong
    return total


class _MastersDone:
    """Masters made side by side, reported as one step: how many of them are done."""

    def __init__(self, progress: Progress, count: int) -> None:
        self.progress, self.count, self.done = progress, count, 0
        self.label = f"mastering {count} episodes side by side"
        self.lock = threading.Lock()  # the callback draws: one thread at a time
        progress(self.label, 0, count)

    def advance(self) -> None:
        with self.lock:
            self.done += 1
            self.progress(self.label, self.done, self.count)


def _plan_episode(store: Store, show: Show, episode: Episode, current: Media | None,
                  report: PublishReport, echo: Echo, mastering: Mastering
                  ) -> tuple[Media | None, list[Planned]]:
    """The catalog entry and the objects one episode needs, with its master as
    :func:`_master_changed` found or made it.

    ``current`` is its entry in the stored catalog.  The entry is None in a dry run when
    the master is not made yet.  Chapters and transcript follow the master's timeline.
    """
    input_hash, master = mastering.input_hash, mastering.master
    if mastering.unchanged:
        assert current is not None  # unchanged means stored with these inputs
        entry, items = current, []  # unchanged and safely stored (or held back): no master
    else:
        if master is None and report.dry_run:
            echo(f"would master {episode.slug} ({'changed' if current else 'new'})")
            planned = _companions(show, episode, _expected_timeline(show, episode),
                                  dry_run=True)
            items = [*planned.pop("more_transcripts"), *planned.values(),
                     Planned(f"media/{episode.slug}-<after mastering>.mp3", None, None)]
            return None, [item for item in items if item is not None]
        assert master is not None  # found or made, outside a dry run
        item = Planned(media_key(episode.slug, master.sha256), master.bytes, master.sha256,
                       path=master.path)
        items = [item]
        entry = Media(slug=episode.slug, key=item.key, bytes=master.bytes,
                      sha256=master.sha256, duration=master.duration,
                      tag_size=master.tag_size, bitrate=show.audio.bitrate_bps,
                      input_hash=input_hash, timeline=master.timeline)
    if episode.transcript_auto:
        echo(f"transcribing {episode.slug} (transcript: auto)...")
    companions = _companions(show, episode, entry.timeline, dry_run=report.dry_run,
                             progress=report.progress)
    more = companions.pop("more_transcripts", None) or []
    items += [item for item in [*companions.values(), *more] if item is not None]
    chapters, transcript, image = (companions["chapters"], companions["transcript"],
                                   companions["image"])
    entry = replace(
        entry,
        chapters_key=chapters.key if chapters else None,
        transcript_key=transcript.key if transcript else None,
        transcript_type=(TRANSCRIPT_TYPES[Path(transcript.key).suffix]
                         if transcript else None),
        more_transcripts=tuple((item.key, TRANSCRIPT_TYPES[Path(item.key).suffix])
                               for item in more),
        image_key=image.key if image else None)
    entry, renditions = _renditions(store, show, episode, entry, master, report, echo)
    return entry, items + renditions


def _renditions(store: Store, show: Show, episode: Episode, entry: Media,
                master: Master | None, report: PublishReport, echo: Echo
                ) -> tuple[Media, list[Planned]]:
    """``audio.rendition``: the Opus or AAC file made from the master, content-addressed
    and placed like it.  Kept as it is when the entry already has one made from this
    master; made from the cached master, or else from the stored one."""
    kind = show.audio.rendition
    if kind is None:
        return replace(entry, renditions=()), []
    from .audio.renditions import KINDS, encode_rendition

    spec = KINDS[kind]
    kept = tuple(r for r in entry.renditions
                 if r.type == spec.type and r.source == entry.sha256)
    if kept:
        return replace(entry, renditions=kept), []
    if report.dry_run:
        echo(f"would encode the {spec.title} rendition of {episode.slug}")
        return entry, [Planned(f"media/{episode.slug}-<after encoding>{spec.suffix}",
                               None, None)]
    echo(f"encoding the {spec.title} rendition of {episode.slug}...")
    source = _master_file(store, show, episode, entry, master)
    made = encode_rendition(source, kind)
    if source.parent.name == "renditions":  # a copy read back from the store: done with it
        source.unlink(missing_ok=True)
    # Renditions of earlier masters are no longer needed locally (they stay in the store).
    pattern = re.compile(rf"^{re.escape(episode.slug)}-[0-9a-f]{{16}}{re.escape(spec.suffix)}$")
    for old in made.path.parent.iterdir():
        if pattern.match(old.name) and old != made.path:
            old.unlink(missing_ok=True)
    key = f"media/{episode.slug}-{made.sha256[:12]}{spec.suffix}"
    rendition = Rendition(key=key, type=spec.type, codecs=spec.codecs,
                          bytes=made.bytes, sha256=made.sha256, bitrate=spec.bitrate,
                          source=entry.sha256)
    return replace(entry, renditions=(rendition,)), [
        Planned(key, made.bytes, made.sha256, path=made.path)]


def _master_file(store: Store, show: Show, episode: Episode, entry: Media,
                 master: Master | None) -> Path:
    """The master MP3 of ``entry`` on disk: just made, cached, or read back from the store
    (published from another machine) into ``.podcast/renditions/``."""
    if master is not None and master.sha256 == entry.sha256:
        return master.path
    cached = cached_master(show, episode, entry.input_hash)
    if cached is not None and cached.sha256 == entry.sha256:
        return cached.path
    path = show.state_dir / "renditions" / f"{episode.slug}-{entry.sha256[:16]}.mp3"
    if not (path.is_file() and sha256_file(path) == entry.sha256):
        try:
            data = store.get_bytes(entry.key)
        except MissingObject:  # a scheduled episode's master, still held back
            data = store.get_bytes(staged_key(entry.key))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    return path


def _expected_timeline(show: Show, episode: Episode) -> Timeline:
    """A dry run's estimate of the timeline the master will have (the intro's length and,
    with ``audio.max_pause``, the cuts of the interview's analysis), without mastering."""
    if not (episode.chapters or episode.transcript or episode.more_transcripts
            or episode.transcript_auto):
        return Timeline()
    from .audio import episode_timeline

    return episode_timeline(show, episode)


def _companions(show: Show, episode: Episode, timeline: Timeline, *, dry_run: bool = False,
                progress: Progress | None = None) -> dict:
    """Chapters JSON, transcript and episode art of an episode, content-addressed; chapter
    and transcript times moved onto the master's ``timeline`` (intro, cut pauses).  With
    ``transcript: auto``, the generated WebVTT is the transcript and its SRT and JSON are
    ``more_transcripts`` (already on the master's timeline)."""
    chapters = transcript = image = None
    more: list[Planned] = []
    if episode.transcript_auto:
        transcript, more = _generated_transcripts(show, episode, timeline, dry_run,
                                                  progress)
    if episode.chapters:
        from .tags import chapters_json

        data = chapters_json(episode, timeline=timeline)
        chapters = _bytes_object(f"media/{episode.slug}-{_sha(data)[:12]}.chapters.json", data)
    if episode.transcript is not None:
        transcript = _transcript_object(episode.slug, episode.transcript, timeline)
    more += [_transcript_object(episode.slug, path, timeline)
             for path in episode.more_transcripts]
    if episode.image is not None:
        digest = sha256_file(episode.image)
        image = Planned(art_key(episode.image, digest, stem=episode.slug),
                        episode.image.stat().st_size, digest, path=episode.image)
    return {"chapters": chapters, "transcript": transcript, "image": image,
            "more_transcripts": more}


def _transcript_object(slug: str, path: Path, timeline: Timeline) -> Planned:
    """One hand-made transcript, content-addressed: HTML sanitised, timed text moved onto
    the master's ``timeline``, anything else as it is."""
    suffix = path.suffix.lower()
    if suffix == ".html":
        from .text import safe_transcript_html

        # Served as text/html from the show's own origin: only what the sanitiser keeps.
        data = safe_transcript_html(path.read_bytes())
        return _bytes_object(f"media/{slug}-{_sha(data)[:12]}.html", data)
    if timeline != Timeline():
        from .audio.timeline import retime_transcript

        data = retime_transcript(path.read_bytes(), suffix, timeline)
        return _bytes_object(f"media/{slug}-{_sha(data)[:12]}{suffix}", data)
    digest = sha256_file(path)
    return Planned(f"media/{slug}-{digest[:12]}{suffix}", path.stat().st_size, digest,
                   path=path)


def _generated_transcripts(show: Show, episode: Episode, timeline: Timeline, dry_run: bool,
                           progress: Progress | None = None) -> tuple[Planned, list[Planned]]:
    """``transcript: auto``: the WebVTT, SRT and JSON speech recognition made (or its
    cache holds), content-addressed.  A dry run never recognises: it reads the cache, or
    plans the files that recognition will make."""
    from .transcripts import FORMATS, cached_transcript
    from .transcripts import transcribe as run_transcribe

    files = cached_transcript(show, episode) if dry_run else \
        run_transcribe(show, episode, timeline=timeline, progress=progress).files
    if files is None:
        planned = [Planned(f"media/{episode.slug}-<after transcribing>{suffix}", None, None)
                   for suffix in FORMATS]
    else:
        planned = [_bytes_object(f"media/{episode.slug}-{_sha(data)[:12]}{suffix}", data)
                   for suffix, data in ((suffix, files[suffix].read_bytes())
                                        for suffix in FORMATS)]
    return planned[0], planned[1:]


def rebuild(show: Show, *, now: datetime, output: Path | None, upload: bool,
            storage_url: str | None, echo: Echo = print) -> bytes:
    """``podcast feed``: the feed (and pages) from the episodes and the stored manifest.

    Needs no masters, so a fresh CI checkout can run it: scheduled episodes go live when
    ``now`` passes them (with ``upload``, their held-back objects are released first).
    ``output`` gets the feed (atomically); ``upload`` puts the feed and pages into the
    store, only when their bytes changed, and moves a manifest still at the old public
    key.  With neither, the feed is printed.  Returns the feed bytes.
    """
    store = open_store(storage_url or show.storage, show.root)
    episodes = load_episodes(show)
    if upload:
        with store.exclusive():
            committed = update_catalog(store, lambda catalog: catalog)
            catalog, feed, written = settle(store, show, episodes, committed, now, echo)
            if committed.written:
                written.insert(0, MANIFEST_KEY)
    else:
        catalog = read_catalog(store)
        feed, _ = build_outputs(show, episodes, catalog, now, pages=False)
    for episode in episodes:
        if episode.slug not in catalog.media:
            echo(f"skipped {episode.slug}: not published yet (run `podcast publish`)")
    if output is not None:
        atomic_write(Path(output), feed)
        echo(f"wrote {output} ({len(feed):,} bytes)")
    if upload:
        echo(f"uploaded {', '.join(written)}" if written else "feed and pages unchanged")
    if output is None and not upload:
        echo(feed.decode("utf-8"))
    return feed
