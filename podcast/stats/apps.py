"""Apps and devices grouped by platform, for ``--by app`` and ``--by device``.

A user-agent list names what made a request, which is not what a marketer asks: Apple's
listeners come as "Apple Podcasts" *and* "AppleCoreMedia" (the Apple Podcasts app streams
through Apple's media player, so its requests carry that player's name) and, with each
apart, Apple's share hides behind two smaller rows.  Devices overlap the same way: Apple's
own apps name only the Darwin kernel ("Apple (iPhone, iPad or Mac)") beside apps that say
"iPhone".  So each app and device belongs to a *platform* (:data:`APP_PLATFORMS`,
:data:`DEVICE_PLATFORMS`; anything else is its own platform) and reports show platforms
with their parts.

A listener is one (address, user agent) in a UTC month, and the app and device follow from
the agent: each listener has exactly one app and one device, so a platform's listeners are
the sum of its parts' (no listener is counted twice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from podcast.stats.agents import friendly_name

APPLE = "Apple"
ANDROID = "Android"
WEB = "Web browsers"
#: The platform of an app (the user-agent list's name); absent: the app is its own.
APP_PLATFORMS = {
    "Apple Podcasts": APPLE,
    "AppleCoreMedia": APPLE,
    "CFNetwork": APPLE,
    "okhttp": ANDROID,
    "ExoPlayer": ANDROID,
    "Android stagefright": ANDROID,
    "Amazon Music": "Amazon",
    "Alexa": "Amazon",
    "Google Podcasts": "Google",
    "YouTube": "Google",
    "Chrome": WEB,
    "Safari": WEB,
    "Firefox": WEB,
    "Edge": WEB,
    "Opera": WEB,
}
#: "Apple (iPhone, iPad or Mac)" is what Apple's own apps say: an Apple device, not which.
APPLE_UNTOLD = "Apple (iPhone, iPad or Mac)"
DEVICE_PLATFORMS = {"iPhone": APPLE, "iPad": APPLE, "Mac": APPLE, "Watch": APPLE,
                    APPLE_UNTOLD: APPLE}
#: How a device part reads under its platform.
DEVICE_LABELS = {APPLE_UNTOLD: "iPhone, iPad or Mac (the app does not say)",
                 "Watch": "Apple Watch"}


def platform_of(dimension: str, name: str) -> str:
    """The platform an app or a device belongs to (itself when it has none)."""
    table = APP_PLATFORMS if dimension == "app" else DEVICE_PLATFORMS
    return table.get(name, name)


def part_label(dimension: str, name: str) -> str:
    """An app or device as people read it (the list's name stays the key in JSON/CSV)."""
    if dimension == "app":
        return friendly_name(name)
    return DEVICE_LABELS.get(name, name)


def with_platforms(dimension: str, rows: Sequence[dict]) -> list[dict]:
    """App or device rows with a ``platform`` column after the key, ordered platform by
    platform (the biggest first), each platform's parts biggest first: the flat rows of
    JSON and CSV, which a spreadsheet can pivot by platform."""
    tagged = [{dimension: row[dimension], "platform": platform_of(dimension, row[dimension]),
               **{k: v for k, v in row.items() if k != dimension}} for row in rows]
    totals: dict[str, int] = defaultdict(int)
    for row in tagged:
        totals[row["platform"]] += row["downloads"]
    return sorted(tagged, key=lambda r: (-totals[r["platform"]], r["platform"],
                                         -r["downloads"], r[dimension]))


def platform_groups(dimension: str, rows: Sequence[dict]) -> list[dict]:
    """Rows of :func:`with_platforms` gathered per platform, for tables and the page.

    Each group: ``platform``, ``downloads`` and ``listeners_by_month`` (the sums of its
    parts: see the module's note), ``share`` (percent of all the rows' downloads) and
    ``parts``, the rows with a ``label``.  A
    platform that is one part of the same name has no parts to show (``parts`` empty).
    """
    groups: dict[str, dict] = {}
    for row in rows:
        platform = row.get("platform") or platform_of(dimension, row[dimension])
        group = groups.setdefault(platform, {"platform": platform, "downloads": 0,
                                             "listeners_by_month": defaultdict(int),
                                             "share": 0.0, "parts": []})
        group["downloads"] += row["downloads"]
        for month, n in row.get("listeners_by_month", {}).items():
            group["listeners_by_month"][month] += n
        group["parts"].append(row | {"label": part_label(dimension, row[dimension])})
    total = sum(row["downloads"] for row in rows)  # the rows cover every download
    result = []
    for group in groups.values():
        group["listeners_by_month"] = dict(group["listeners_by_month"])
        group["share"] = round(100 * group["downloads"] / total, 1) if total else 0.0
        parts = group["parts"]
        if len(parts) == 1 and parts[0][dimension] == group["platform"]:
            group["parts"] = []
        result.append(group)
    return result
