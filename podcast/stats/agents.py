"""User agent -> app, device, bot (OPAWG order: bots, apps, libraries, browsers).

The first rule that matches wins:

1. our bot rules: empty agents, Spotify's cache fetcher (``Spotify/1.0`` exactly),
   Overcast's feed sync (``Overcast/1.0 Podcast Sync``), Apple Watch duplicates (the
   watch downloads what the phone already counted: an agent containing ``atc/`` then
   ``watchOS``, or ``(null)/(null) watchOS``, IAB's rule) and agents that call themselves
   a bot, crawler or spider — matched as OPAWG and ``crawler-user-agents`` match:
   case-sensitive, at a word's end, so ``Googlebot/2.1`` is a bot and a phone named
   ``CUBOT KINGKONG 7`` is not;
2. podcast apps, then the media libraries and players apps are built on (so that
   ``Pocket Casts`` or ``Overcast/3``, which the generic crawler list catches on
   ``+http://``, still count; a bare library OPAWG marks as a bot, such as ``okhttp``, is
   then one under the show's policy: see "Library bots" below);
3. the crawler patterns of the ``crawler-user-agents`` package (curl, python-requests...);
4. browsers; else ``Other``.

``podcast stats ingest --agents PATH`` adds the OPAWG user-agents-v2 lists (bots, apps,
libraries, browsers, devices): each is checked just before our own list of its kind, so
OPAWG's names win where both know an agent, and our Apple Watch and cache-bot rules stay.

**Library bots.**  OPAWG's ``libraries.json`` marks some libraries ``"category": "bot"``:
HTTP libraries seen mostly on servers when no app names itself (bare ``okhttp``, ffmpeg's
``Lavf``, ``Go-http-client``…); OP3 drops them.  :func:`classify` says so
(``Agent.library_bot``) without deciding; :func:`with_policy` applies the show's
``stats.library_bots`` policy: ``drop`` (the default, OPAWG's and OP3's) makes them bots,
named ``<library> (library)`` (:data:`LIBRARY_BOT_SUFFIX`), ``count`` counts them as the
library they are.  An app built on such a library names itself first (``CastBox/8.2
… okhttp/4.9``) and is matched as that app, so only the bare library is concerned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from podcast.errors import PodcastError


@dataclass(frozen=True)
class Agent:
    """What a user agent is: the app, the device, and whether it is a bot."""

    app: str
    device: str
    bot: bool = False
    #: A library OPAWG marks ``category: bot`` (the policy decides; not part of equality,
    #: the verdict being ``bot``).
    library_bot: bool = field(default=False, compare=False)


#: How a bot names itself: a word ending in bot, crawler or spider, written the way the
#: lists write them (``Googlebot``, ``AhrefsBot``, ``Baiduspider``): case-sensitive, so an
#: upper-case model name such as ``CUBOT`` in a listener's agent is not taken for one...
_BOT_ENDING = r"(?:bot|Bot|crawler|Crawler|spider|Spider)\b"
#: ... or a crawler's or feed fetcher's own name.
_BOT_NAMES = r"\bSlurp\b|(?i:feedfetcher|podcastindex|podverse-crawler)"

_OWN_BOTS = [
    (re.compile(r"^Spotify/1\.0$"), "Spotify (cache)"),
    (re.compile(r"^Overcast/1\.0 Podcast Sync"), "Overcast (sync)"),
    # IAB's Apple Watch guidance names strings an agent *contains*, not how it starts.
    (re.compile(r"atc/.*watchOS|\(null\)/\(null\) watchOS"), "Apple Watch (duplicate)"),
    # Self-declared robots (:data:`_BOT_ENDING`, :data:`_BOT_NAMES`), anywhere.
    (re.compile(f"{_BOT_ENDING}|{_BOT_NAMES}"), "Bot"),
]

#: CloudFront writes an agent URL-encoded, and some agents come out encoded twice
#: (``Overcast/1.0%2520Podcast%2520Sync``); a few rounds decode every such agent.
DECODE_ROUNDS = 3

# Podcast apps first (OPAWG user-agents-v2 names), most specific patterns first.
_APPS = [
    (r"^Podcasts/|^Balados/|^Podcasti/|^Podcast/|^Podcasty/|^Apple Podcasts|"
     r"^AirPodcasts/|iTunes/|^itunesstored", "Apple Podcasts"),
    (r"^Spotify/|Spotify-Lite", "Spotify"),
    (r"^Overcast/", "Overcast"),
    (r"Pocket ?Casts|Pocket%20Casts", "Pocket Casts"),
    (r"^Castro", "Castro"),
    (r"PodcastAddict", "Podcast Addict"),
    (r"AntennaPod", "AntennaPod"),
    (r"CastBox|fm\.castbox", "CastBox"),
    (r"AmazonMusic|Amazon Music", "Amazon Music"),
    (r"^Echo/|AlexaMediaPlayer|Alexa", "Alexa"),
    (r"Deezer", "Deezer"),
    (r"Podbean", "Podbean"),
    (r"Stitcher", "Stitcher"),
    (r"iHeartRadio", "iHeartRadio"),
    (r"Podcast Republic|PodcastRepublic", "Podcast Republic"),
    (r"Player FM|PlayerFM", "Player FM"),
    (r"Podcast Guru", "Podcast Guru"),
    (r"Fountain", "Fountain"),
    (r"Podverse", "Podverse"),
    (r"Downcast", "Downcast"),
    (r"Google-Podcast|GoogleChirp|GSA/", "Google Podcasts"),
    (r"YouTube", "YouTube"),
    (r"Audible", "Audible"),
    (r"Sonos", "Sonos"),
]
#: OPAWG ``libraries.json`` marks these ``"category": "bot"`` (see the module's docstring).
_BOT_CATEGORY_LIBRARIES = frozenset({"okhttp", "FFmpeg"})
_LIBRARIES = [
    (r"^AppleCoreMedia/", "AppleCoreMedia"),
    (r"^okhttp/", "okhttp"),
    (r"stagefright", "Android stagefright"),
    (r"ExoPlayer|ExoPlayerLib", "ExoPlayer"),
    (r"^Lavf/", "FFmpeg"),
    (r"VLC|LibVLC", "VLC"),
    (r"^NSPlayer|Windows-Media-Player", "Windows Media Player"),
    (r"CFNetwork", "CFNetwork"),
]
_BROWSERS = [
    (r"Edg/|Edge/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/", "Firefox"),
    (r"Chrome/|CriOS/", "Chrome"),
    (r"Safari/", "Safari"),
]
_DEVICES = [
    (r"watchOS|Watch\d", "Watch"),
    (r"iPad", "iPad"),
    (r"iPhone|iOS|CPU OS", "iPhone"),
    (r"Android", "Android"),
    (r"Echo/|Alexa|Sonos|HomePod|audioOS", "Smart speaker"),
    (r"Macintosh|Mac OS X|macOS", "Mac"),
    (r"Windows", "Windows"),
    (r"CrOS", "Chromebook"),
    (r"Linux", "Linux"),
    # Apple's own apps name only the Darwin kernel, the same on iPhone, iPad and Mac.
    (r"Darwin/", "Apple (iPhone, iPad or Mac)"),
]


def _compiled(rules: list[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(pattern), name) for pattern, name in rules]


_APP_RULES = _compiled(_APPS)
_LIBRARY_RULES = _compiled(_LIBRARIES)
_BROWSER_RULES = _compiled(_BROWSERS)
_DEVICE_RULES = _compiled(_DEVICES)


@lru_cache(maxsize=1)
def _crawler_pattern() -> re.Pattern[str]:
    # Loaded on first use: importing the package parses a 1,500-pattern JSON file.
    from crawleruseragents import CRAWLER_USER_AGENTS_DATA

    return re.compile("|".join(item["pattern"] for item in CRAWLER_USER_AGENTS_DATA))


Rule = tuple[re.Pattern[str], str]

#: The OPAWG lists, in the order agents are matched against them.
OPAWG_KINDS = ("bots", "apps", "libraries", "browsers", "devices")


@dataclass(frozen=True)
class ExtraRules:
    """User-supplied OPAWG lists, each checked before our own list of the same kind."""

    bots: tuple[Rule, ...] = ()
    apps: tuple[Rule, ...] = ()
    libraries: tuple[Rule, ...] = ()
    browsers: tuple[Rule, ...] = ()
    devices: tuple[Rule, ...] = ()
    #: Names of the libraries the lists mark ``"category": "bot"``.
    library_bots: frozenset[str] = frozenset()


NO_EXTRA_RULES = ExtraRules()


def load_opawg(paths: list[Path]) -> ExtraRules:
    """OPAWG user-agents-v2 lists from files named after their kind (``bots.json``,
    ``apps.runtime.json``...) or folders holding them (the repository's ``src/`` or
    ``build/``).  Any file or pattern we cannot use is a PodcastError naming it."""
    found: dict[str, list[Rule]] = {kind: [] for kind in OPAWG_KINDS}
    bot_libraries: set[str] = set()
    for path in paths:
        if path.is_dir():
            files = _opawg_files(path)
            if not files:
                raise PodcastError("no OPAWG list in this folder", file=path,
                                   field="--agents", fix="give the user-agents-v2 "
                                   "repository's src/ or build/ folder, or its JSON files")
        else:
            files = [path]
        for file in files:
            kind = file.name.split(".")[0]
            if kind not in OPAWG_KINDS:
                raise PodcastError("not an OPAWG list name", file=file, field="--agents",
                                   fix="name it after its kind: " + ", ".join(
                                       f"{k}.json" for k in OPAWG_KINDS))
            rules, bots = _opawg_entries(file)
            found[kind].extend(rules)
            if kind == "libraries":
                bot_libraries |= bots
    return ExtraRules(**{kind: tuple(rules) for kind, rules in found.items()},
                      library_bots=frozenset(bot_libraries))


def _opawg_files(folder: Path) -> list[Path]:
    """The lists in an OPAWG folder: per kind, the build's runtime file or the source file."""
    files = []
    for kind in OPAWG_KINDS:
        for name in (f"{kind}.runtime.json", f"{kind}.json"):
            if (folder / name).is_file():
                files.append(folder / name)
                break
    return files


def _opawg_entries(file: Path) -> tuple[list[Rule], set[str]]:
    """The rules of one OPAWG list, and the names of its entries of category ``bot``."""
    try:
        entries = json.loads(file.read_text(encoding="utf-8"))["entries"]
        if not isinstance(entries, list):
            raise TypeError("entries is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PodcastError(f"cannot read this OPAWG list: {exc}", file=file, field="--agents",
                           fix='give a user-agents-v2 JSON file: {"entries": [{"name": ..., '
                               '"pattern": ...}]}') from None
    rules, bots = [], set()
    for number, entry in enumerate(entries, 1):
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and isinstance(entry.get("pattern"), str)):
            raise PodcastError(f"entry {number} has no name and pattern", file=file,
                               field="--agents", fix="each entry needs a name and a pattern")
        try:
            rules.append((re.compile(entry["pattern"]), entry["name"]))
        except re.error as exc:
            raise PodcastError(f"entry {number} ({entry['name']}): the pattern is not a "
                               f"regular expression Python reads: {exc}", file=file,
                               field="--agents",
                               fix="correct the pattern or remove the entry") from None
        if entry.get("category") == "bot":
            bots.add(entry["name"])
    return rules, bots


def decode(agent: str, rounds: int = DECODE_ROUNDS) -> str:
    """A URL-encoded agent (CloudFront's) decoded until it stops changing, at most
    ``rounds`` times (so a hostile ``%252525…`` cannot make us loop).

    ``unquote`` leaves ``+`` alone: CloudFront writes a ``+`` the app sent as it is.
    """
    for _ in range(rounds):
        decoded = unquote(agent, errors="replace")
        if decoded == agent:
            break
        agent = decoded
    return agent


def _first(agent: str, *lists) -> str | None:
    for rules in lists:
        for pattern, name in rules:
            if pattern.search(agent):
                return name
    return None


def device(agent: str, extra: ExtraRules = NO_EXTRA_RULES) -> str:
    """The kind of device an agent runs on, or ``Unknown``."""
    return _first(agent, extra.devices, _DEVICE_RULES) or "Unknown"


#: What a report shows for apps, libraries and browsers whose list name means little to
#: people who are no engineers (the list name stays the key in JSON and CSV).
FRIENDLY_NAMES = {
    "AppleCoreMedia": "Apple media player (AppleCoreMedia)",
    "CFNetwork": "an Apple app (CFNetwork)",
    "okhttp": "an Android app (okhttp)",
    "Android stagefright": "Android's built-in player",
    "ExoPlayer": "an Android app (ExoPlayer)",
    "FFmpeg": "an FFmpeg-based player",
    "VLC": "VLC media player",
    "Windows Media Player": "Windows Media Player",
    "Chrome": "Chrome (web browser)",
    "Safari": "Safari (web browser)",
    "Firefox": "Firefox (web browser)",
    "Edge": "Edge (web browser)",
    "Opera": "Opera (web browser)",
    "Other": "other (agent not recognised)",
}


def friendly_name(app: str) -> str:
    """What people read for an app name: :data:`FRIENDLY_NAMES`, else the name itself."""
    return FRIENDLY_NAMES.get(app, app)


#: The name a bot gives itself in its agent: the whole word ending in bot, crawler or
#: spider (``Googlebot``, not ``bot``), or a feed fetcher's name.
_BOT_TOKEN = re.compile(rf"[A-Za-z][\w.-]*?{_BOT_ENDING}|{_BOT_NAMES}")


def bot_name(agent: str | None, found: Agent) -> str:
    """The name a report shows for a bot ``classify`` found: the list's name where it has
    one (``Spotify (cache)``, an OPAWG name), else the word the agent calls itself
    (``Googlebot``) or the crawler list's match (``curl``), else ``Bot``."""
    if found.app == "(empty)":
        return "(no user agent)"
    if found.app != "Bot":
        return found.app
    text = (agent or "").strip()
    match = _BOT_TOKEN.search(text) or _crawler_pattern().search(text)
    return match.group(0) if match and match.group(0) else "Bot"


def classify(agent: str | None, extra: ExtraRules = NO_EXTRA_RULES) -> Agent:
    """The app, device and bot verdict for one user agent string."""
    agent = (agent or "").strip()
    if agent in ("", "-"):
        return Agent("(empty)", "Unknown", bot=True)
    kind = device(agent, extra)
    if name := _first(agent, extra.bots, _OWN_BOTS):
        return Agent(name, kind, bot=True)
    if name := _first(agent, extra.apps, _APP_RULES):
        return Agent(name, kind)
    if name := _first(agent, extra.libraries, _LIBRARY_RULES):
        return Agent(name, kind, library_bot=name in extra.library_bots
                     or name in _BOT_CATEGORY_LIBRARIES)
    if _crawler_pattern().search(agent):
        return Agent("Bot", kind, bot=True)
    return Agent(_first(agent, extra.browsers, _BROWSER_RULES) or "Other", kind)


#: Appended to a library's name when it is dropped as a bot (``okhttp (library)``).
LIBRARY_BOT_SUFFIX = " (library)"


def with_policy(found: Agent, library_bots: str = "drop") -> Agent:
    """``found`` under the show's library-bot policy: with ``drop``, a library OPAWG marks
    as a bot is one, named ``<library> (library)``; with ``count`` it stays as it is."""
    if found.library_bot and not found.bot and library_bots == "drop":
        return Agent(found.app + LIBRARY_BOT_SUFFIX, found.device, bot=True,
                     library_bot=True)
    return found


def is_library_bot(name: str) -> bool:
    """A bot name :func:`with_policy` gave (a library OPAWG marks as a bot)."""
    return name.endswith(LIBRARY_BOT_SUFFIX)
