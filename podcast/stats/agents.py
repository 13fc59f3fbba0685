"""User agent -> app, device, bot (OPAWG order: bots, apps, libraries, browsers).

The first rule that matches wins:

1. our bot rules: empty agents, Spotify's cache fetcher (``Spotify/1.0`` exactly),
   Overcast's feed sync (``Overcast/1.0 Podcast Sync``), Apple Watch duplicates (the
   watch downloads what the phone already counted: ``atc/… watchOS…`` and
   ``(null)/(null) watchOS…``) and agents that call themselves bot, crawler or spider;
2. podcast apps, then the media libraries and players apps are built on (so that
   ``Pocket Casts``, ``Overcast/3`` or ``okhttp``, which the generic crawler list catches
   on ``+http://`` or ``okhttp``, still count);
3. the crawler patterns of the ``crawler-user-agents`` package (curl, python-requests...);
4. browsers; else ``Other``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Agent:
    """What a user agent is: the app, the device, and whether it is a bot."""

    app: str
    device: str
    bot: bool = False


_OWN_BOTS = [
    (re.compile(r"^Spotify/1\.0$"), "Spotify (cache)"),
    (re.compile(r"^Overcast/1\.0 Podcast Sync"), "Overcast (sync)"),
    (re.compile(r"^atc/.*watchOS", re.I), "Apple Watch (duplicate)"),
    (re.compile(r"^\(null\)/\(null\) watchOS", re.I), "Apple Watch (duplicate)"),
    (re.compile(r"bot\b|crawler|spider|\bslurp\b|feedfetcher|podcastindex|podverse-crawler",
                re.I), "Bot"),
]

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


def device(agent: str) -> str:
    """The kind of device an agent runs on, or ``Unknown``."""
    for pattern, name in _DEVICE_RULES:
        if pattern.search(agent):
            return name
    return "Unknown"


def classify(agent: str | None) -> Agent:
    """The app, device and bot verdict for one user agent string."""
    agent = (agent or "").strip()
    if agent in ("", "-"):
        return Agent("(empty)", "Unknown", bot=True)
    kind = device(agent)
    for pattern, name in _OWN_BOTS:
        if pattern.search(agent):
            return Agent(name, kind, bot=True)
    for rules in (_APP_RULES, _LIBRARY_RULES):
        for pattern, name in rules:
            if pattern.search(agent):
                return Agent(name, kind)
    if _crawler_pattern().search(agent):
        return Agent("Bot", kind, bot=True)
    for pattern, name in _BROWSER_RULES:
        if pattern.search(agent):
            return Agent(name, kind)
    return Agent("Other", kind)
