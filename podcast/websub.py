"""WebSub: tell the show's hubs the feed changed, so apps fetch a new episode at once.

The feed names each hub (``<atom:link rel="hub">``); after each feed upload the publisher
POSTs ``hub.mode=publish&hub.url=<feed URL>`` to them (the "publish" ping hubs such as
pubsubhubbub.appspot.com and the Podcast Index accept; W3C WebSub leaves the publisher's
ping to the hub).  A hub that is down or refuses is a warning, never a failure: the feed is
already uploaded, and apps still poll it.

The POST goes through :mod:`podcast.outbound`: within its deadline, to a public address
only (unless the show's own base_url is local), and without following redirects, so a 3xx
is a failed ping.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

from . import outbound
from .model import Show
from .text import redacted, safe_url

USER_AGENT = "podcast-websub/1.0"


def ping_hubs(show: Show, echo: Callable[[str], None]) -> list[str]:
    """Ping every hub in ``show.websub`` about ``show.feed_url``; the warnings, also echoed."""
    warnings = []
    allow_local = outbound.is_local_url(show.base_url) if show.websub else False
    for hub in show.websub:
        problem = ping(hub, show.feed_url, allow_local=allow_local)
        if problem is None:
            echo(f"pinged WebSub hub {safe_url(hub)}")
        else:
            warnings.append(f"warning: WebSub hub {safe_url(hub)}: {redacted(problem)}; apps "
                            "will see the new feed when they next poll it")
            echo(warnings[-1])
    return warnings


def ping(hub: str, feed_url: str, *, allow_local: bool = False) -> str | None:
    """POST a WebSub publish ping for ``feed_url`` to ``hub``; why it failed, or None.

    ``allow_local``: the hub may be on a loopback or private address (a local show).
    """
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode()
    try:
        answer = outbound.request(
            hub, "POST", body=body, limit=64 * 1024, redirects=0, allow_local=allow_local,
            user_agent=USER_AGENT,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    except OSError as exc:
        return f"could not be reached ({exc})"
    if 200 <= answer.status < 300:
        return None
    said = f"answered HTTP {answer.status} {answer.reason}".rstrip()
    if answer.status in outbound.REDIRECTS:
        target = answer.headers.get("location", "")
        return (f"{said} (to {safe_url(urllib.parse.urljoin(hub, target))}): the ping is "
                "not sent again there, WebSub pings follow no redirect; put the hub's final "
                "URL in podcast.yaml")
    return said
