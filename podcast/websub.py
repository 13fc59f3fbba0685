"""WebSub: tell the show's hubs the feed changed, so apps fetch a new episode at once.

The feed names each hub (``<atom:link rel="hub">``); after each feed upload the publisher
POSTs ``hub.mode=publish&hub.url=<feed URL>`` to them (the "publish" ping hubs such as
pubsubhubbub.appspot.com and the Podcast Index accept; W3C WebSub leaves the publisher's
ping to the hub).  A hub that is down or refuses is a warning, never a failure: the feed is
already uploaded, and apps still poll it.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from .model import Show
from .text import redacted, safe_url

TIMEOUT = 10  # seconds per hub
USER_AGENT = "podcast-websub/1.0"


def ping_hubs(show: Show, echo: Callable[[str], None]) -> list[str]:
    """Ping every hub in ``show.websub`` about ``show.feed_url``; the warnings, also echoed."""
    warnings = []
    for hub in show.websub:
        problem = ping(hub, show.feed_url)
        if problem is None:
            echo(f"pinged WebSub hub {safe_url(hub)}")
        else:
            warnings.append(f"warning: WebSub hub {safe_url(hub)}: {redacted(problem)}; apps "
                            "will see the new feed when they next poll it")
            echo(warnings[-1])
    return warnings


def ping(hub: str, feed_url: str) -> str | None:
    """POST a WebSub publish ping for ``feed_url`` to ``hub``; why it failed, or None."""
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode()
    request = urllib.request.Request(hub, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read(64 * 1024)
            return None  # urlopen raises for anything but 2xx after redirects
    except urllib.error.HTTPError as exc:
        return f"answered HTTP {exc.code} {exc.reason}"
    except http.client.InvalidURL:  # its message quotes the "port": maybe a password
        return "could not be reached (its host:port is not valid)"
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        return f"could not be reached ({reason})"
