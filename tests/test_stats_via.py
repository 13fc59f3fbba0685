"""Share-link codes in the stats: where a `via` code is read from, and who is new.

The code comes from the request's own query string; for audio, from the referer when the
player of an episode page opened through a link did not pass the code on.  Anything that
is not a valid code, or a referer that is not an episode page, brings nothing.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from stats_fixtures import DEMO_MEDIA, podcast_cli, publish_stand_ins

from podcast.model import Download
from podcast.stats.report import via_rows

MARC = DEMO_MEDIA["002-marc-olivier"]
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PAGE = "http://127.0.0.1:8000/episodes/002-marc-olivier.html"


def combined(ip: str, target: str, referer: str = "-", sent: int = 2_000_000,
             day: str = "20/Nov/2026") -> str:
    return (f'{ip} - - [{day}:10:00:00 +0000] "GET {target} HTTP/1.1" 200 {sent} '
            f'"{referer}" "{AGENT}"')


@pytest.fixture
def show(demo_show: Path) -> Path:
    publish_stand_ins(demo_show)
    return demo_show


def rows(config: Path, log: Path) -> dict[str, dict]:
    podcast_cli(config, "stats", "ingest", str(log))
    data = json.loads(podcast_cli(config, "stats", "report", "--format", "json", "--by",
                                  "via"))
    return {row.pop("via"): row for row in data["rows"]}


def test_the_code_comes_from_the_query_or_else_from_the_episode_page_referer(
        show: Path, tmp_path: Path) -> None:
    media = "/" + MARC.key
    log = tmp_path / "access.log"
    log.write_text("\n".join([
        # a page visit through a link, then its player's request carrying the code
        combined("192.0.2.1", "/episodes/002-marc-olivier.html?via=linkedin", sent=9000),
        combined("192.0.2.1", media + "?via=linkedin", f"{PAGE}?via=linkedin"),
        # a player that does not pass the code on: the referer (the page) gives it
        combined("192.0.2.2", "/episodes/002-marc-olivier.html?utm=x&via=newsletter",
                 sent=9000),
        combined("192.0.2.2", media, f"{PAGE}?utm=x&via=newsletter"),
        # no code: a referer that is no episode page, a bad code, a code-like parameter
        combined("192.0.2.3", media, "https://www.linkedin.com/feed/?via=linkedin"),
        combined("192.0.2.4", media + "?via=Bad_Code"),
        combined("192.0.2.5", media + "?novia=linkedin"),
        # a page visit that brought no download; a bot opening a link is no visit
        combined("192.0.2.6", "/episodes/002-marc-olivier.html?via=newsletter", sent=9000),
        combined("192.0.2.7", "/episodes/002-marc-olivier.html?via=linkedin",
                 sent=9000).replace(AGENT, "Googlebot/2.1"),
    ]) + "\n", encoding="utf-8")
    assert rows(show, log) == {
        "linkedin": {"page_visits": 1, "downloads": 1, "new_listeners": 1, "episodes": 1},
        "newsletter": {"page_visits": 2, "downloads": 1, "new_listeners": 1, "episodes": 1},
    }


def test_cloudfront_referers_encoded_as_it_writes_them_still_give_the_code(
        show: Path, tmp_path: Path) -> None:
    fields = ["date", "time", "sc-bytes", "c-ip", "cs-method", "cs-uri-stem", "sc-status",
              "cs(Referer)", "cs(User-Agent)", "cs-uri-query"]
    line = ["2026-11-20", "10:00:00", "2000000", "192.0.2.9", "GET", "/" + MARC.key, "200",
            quote(f"{PAGE}?via=instagram", safe="/:"), quote(AGENT, safe="/;:,()"), "-"]
    log = tmp_path / "cf.log"
    log.write_text("#Version: 1.0\n#Fields: " + " ".join(fields) + "\n" + "\t".join(line)
                   + "\n", encoding="utf-8")
    assert rows(show, log) == {
        "instagram": {"page_visits": 0, "downloads": 1, "new_listeners": 1, "episodes": 1}}


def download(day: str, listener: str, via: str | None = None) -> Download:
    return Download(day=date.fromisoformat(day), slug="002-marc-olivier", listener=listener,
                    app="Chrome", device="Linux", via=via)


def test_a_listener_seen_on_an_earlier_day_of_the_month_is_not_new() -> None:
    downloads = [
        download("2026-11-03", "old"), download("2026-11-20", "old", "linkedin"),
        download("2026-11-20", "fresh", "linkedin"),
        # last month's listener is new again this month (hashes are monthly)
        download("2026-10-30", "back", "linkedin"), download("2026-11-21", "back", "linkedin"),
        # a listener who came through the link but first listened without it is not new
        download("2026-11-22", "direct"), download("2026-11-23", "direct", "linkedin"),
    ]
    (row,) = via_rows(downloads, {}, date(2026, 11, 1), date(2026, 11, 30))
    assert row == {"via": "linkedin", "page_visits": 0, "downloads": 4, "new_listeners": 2,
                   "episodes": 1}
