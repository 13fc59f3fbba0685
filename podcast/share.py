"""Share links (``podcast share``): one link to an episode's page per ambassador.

A show's guests and community share its episodes; to see whose sharing brought listeners,
each gets a link of their own, the episode page with a ``via`` code:
``{base_url}/episodes/<slug>.html?via=<code>``.  The page's player passes the code on with
its audio request; ``podcast stats ingest`` records it (with the page visit), and ``podcast
stats report --by via`` gives, per code, page visits, downloads started from the page and
listeners new that month.  Nothing is stored in the listener's browser: the code lives in
the link only, and the feed's enclosures never carry one.

A code is lowercase ASCII letters, digits and hyphens, 1 to 40 characters, starting with a
letter or digit (:data:`VIA_CODE`); a guest's is derived from their name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from podcast.errors import PodcastError
from podcast.model import Episode, Show

#: What a ``via`` code may be (the stats read exactly these: ``podcast.stats.logs``).
VIA_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
MAX_CODE = 40


@dataclass(frozen=True)
class ShareLink:
    """One link to share: who shares it, its code, and the URL."""

    who: str  # the guest's name, or the channel named with --via
    code: str
    url: str


def code_from_name(name: str) -> str:
    """A via code from a person's name: ``Sonia Mamin`` -> ``sonia-mamin``, accents
    dropped (``Hélène Çelik`` -> ``helene-celik``); "" when nothing Latin is left."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    code = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return code[:MAX_CODE].rstrip("-")


def check_code(code: str, option: str = "--via") -> str:
    """``code`` if it is a valid via code, else a PodcastError that says how to write it."""
    if VIA_CODE.fullmatch(code):
        return code
    suggestion = code_from_name(code)
    hint = f", e.g. {suggestion}" if suggestion and suggestion != code else ""
    raise PodcastError(f"{code!r} is not a share-link code", field=option,
                       fix="use 1 to 40 lowercase letters, digits and hyphens, starting "
                           f"with a letter or digit{hint}")


def page_url(show: Show, episode: Episode, code: str) -> str:
    """The episode page's URL carrying ``code``."""
    return (f"{show.base_url.rstrip('/')}/episodes/{quote(episode.slug)}.html"
            f"?via={quote(check_code(code))}")


def share_links(show: Show, episode: Episode, channels: Sequence[str] = ()) -> list[ShareLink]:
    """A link per channel named (``--via``), or else one per guest of the episode.

    Two guests whose names give the same code get ``-2``, ``-3``… so each link is theirs.
    """
    if channels:
        return [ShareLink(code, code, page_url(show, episode, check_code(code)))
                for code in dict.fromkeys(channels)]
    if not episode.guests:
        raise PodcastError("the episode has no guests to make links for",
                           file=episode.source, field="guests",
                           fix="name a channel instead: podcast share "
                               f"{episode.slug} --via newsletter")
    links, used = [], set()
    for guest in episode.guests:
        base = code_from_name(guest.name)
        if not base:
            raise PodcastError(f"cannot make a share-link code from the name "
                               f"{guest.name!r} (no Latin letters or digits)",
                               file=episode.source, field="guests",
                               fix=f"give one: podcast share {episode.slug} --via CODE")
        code, n = base, 1
        while code in used:
            n += 1
            code = f"{base[:MAX_CODE - len(str(n)) - 1].rstrip('-')}-{n}"
        used.add(code)
        links.append(ShareLink(guest.name, code, page_url(show, episode, code)))
    return links


def not_live_note(episode: Episode, now: datetime) -> str | None:
    """A warning when the page of ``episode`` is not public yet at ``now``."""
    if episode.is_live(now):
        return None
    return (f"note: {episode.slug} goes live at {episode.published.isoformat()}; "
            "its page answers 404 until the first feed build after that")
