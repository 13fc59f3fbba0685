"""The bot policy in the open (issue 19): bare HTTP libraries OPAWG marks as bots.

OPAWG's ``libraries.json`` gives bare ``okhttp`` (no app named in the agent)
``"category": "bot"`` and OP3 drops it.  By default we do too, and the report says so, with
the lines and listener-days that rule removed; ``stats: {library_bots: count}`` in
podcast.yaml counts them.  An app built on okhttp that names itself (CastBox) is that app,
never concerned.  Logs in each format go through the CLI as users run it; the numbers are
counted again here.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stats_fixtures import (
    DEMO_MEDIA,
    DEMO_THRESHOLD,
    Request,
    podcast_cli,
    publish_stand_ins,
    ranged,
    whole,
    write_log,
)

from podcast.config import load_show
from podcast.errors import ConfigError

DAY = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
OKHTTP = "okhttp/4.9.0"
CASTBOX = "CastBox/8.2.1 (fm.castbox.audiolite; build:1; Android 11) okhttp/4.9.1"
LISTENERS = ["Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0",
             "Spotify/8.8.56 Android/33 (SM-G991B)", CASTBOX]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
POLICY_LINE = re.compile(r"Bot policy: .*")


def traffic(seed: int = 19) -> list[Request]:
    """Listeners, bare okhttp requesters (full plays, give-ups, probes) and a crawler."""
    rng = random.Random(seed)
    out: list[Request] = []
    for n in range(100):
        when = DAY + timedelta(days=n % 2, minutes=2 * n)
        ip = f"192.0.2.{n + 1}"
        agent = OKHTTP if n % 3 == 0 else rng.choice(LISTENERS)
        media = DEMO_MEDIA[rng.choice(list(DEMO_MEDIA))]
        kind = n % 4
        if kind == 0:
            out.append(whole(when, ip, agent, media))
        elif kind == 1:  # a probe, then a play in two ranges
            out += [ranged(when, ip, agent, 0, 2, key=media.key),
                    ranged(when, ip, agent, 0, 500_000, key=media.key),
                    ranged(when, ip, agent, 500_000, 500_000, key=media.key)]
        elif kind == 2:  # gave up
            out.append(ranged(when, ip, agent, 0, 150_000, key=media.key))
        else:  # HEAD, never a download whoever asks
            out.append(Request(when, ip, agent, media.key, method="HEAD"))
    out += [whole(DAY + timedelta(hours=1, minutes=n), "198.51.100.3", GOOGLEBOT, media)
            for n, media in enumerate(DEMO_MEDIA.values())]
    return out


def independent(requests: list[Request], *, count_okhttp: bool) -> dict:
    """Downloads, and the lines and requester-days of bare okhttp, counted here."""
    slug = {m.key: s for s, m in DEMO_MEDIA.items()}
    bots = {GOOGLEBOT} | (set() if count_okhttp else {OKHTTP})
    sent: dict[tuple, int] = defaultdict(int)
    okhttp_lines, okhttp_days = 0, set()
    for r in requests:
        if r.method != "GET" or r.status not in (200, 206):
            continue
        who = (r.when.date(), slug[r.key], r.ip, r.agent)
        if r.agent == OKHTTP and not count_okhttp:
            okhttp_lines += 1
            okhttp_days.add(who)
        if r.agent in bots or (r.status == 206 and r.sent <= 2):
            continue
        sent[who] += r.sent
    okhttp = {who for who, total in sent.items()
              if who[3] == OKHTTP and total >= DEMO_THRESHOLD}
    return {"downloads": sum(1 for total in sent.values() if total >= DEMO_THRESHOLD),
            "okhttp_downloads": len(okhttp),
            "library_lines": okhttp_lines, "library_days": len(okhttp_days)}


@pytest.fixture
def show(demo_show: Path) -> Path:
    text = demo_show.read_text(encoding="utf-8")
    demo_show.write_text(re.sub(r"(?m)^base_url: .*$",
                                "base_url: https://podcast.example.org/show", text),
                         encoding="utf-8")
    publish_stand_ins(demo_show)
    return demo_show


def set_policy(config: Path, policy: str) -> None:
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f"\nstats:\n  library_bots: {policy}\n")


def ingest(config: Path, folder: Path, fmt: str, requests: list[Request]) -> None:
    log = write_log(folder, fmt, requests)
    podcast_cli(config, "stats", "ingest", str(log))


@pytest.mark.parametrize("fmt", ["s3", "cloudfront", "combined"])
def test_bare_okhttp_is_not_counted_by_default_and_the_report_says_so(
        show: Path, tmp_path: Path, fmt: str) -> None:
    requests = traffic()
    want = independent(requests, count_okhttp=False)
    assert want["library_lines"] and want["library_days"]
    ingest(show, tmp_path / "logs", fmt, requests)

    data = json.loads(podcast_cli(show, "stats", "report", "--format", "json"))
    assert data["total"]["downloads"] == want["downloads"]
    rows = {row["reason"]: row for row in data["not_counted"]}
    library = rows["library_bots"]
    assert (library["lines"], library["listener_days"]) == (want["library_lines"],
                                                            want["library_days"])
    assert "okhttp" in library["label"] and "library_bots: drop" in library["policy"]
    google = [r for r in requests if r.agent == GOOGLEBOT]
    assert rows["bots"]["lines"] == len(google)
    assert rows["bots"]["listener_days"] == len(google)  # one episode a day each
    # The SPEC's "rejected" keeps every bot together.
    assert data["rejected"]["bots"] == len(google) + want["library_lines"]

    table = podcast_cli(show, "stats", "report")
    label_row = next(line for line in table.splitlines() if "OPAWG lists as bots" in line)
    assert label_row.split()[-2:] == [f"{want['library_lines']:,}",
                                      f"{want['library_days']:,}"]
    assert "library_bots: drop" in POLICY_LINE.search(table).group(0)

    bots = list(csv.DictReader(io.StringIO(podcast_cli(
        show, "stats", "report", "--format", "csv", "--by", "bot"))))
    named = {row["bot"]: row for row in bots}
    assert named["okhttp (library)"]["rule"] == "library_bots"
    assert int(named["okhttp (library)"]["requests"]) == want["library_lines"]
    assert named["Googlebot"]["rule"] == "bots"


def test_library_bots_count_sets_them_counted(show: Path, tmp_path: Path) -> None:
    requests = traffic()
    set_policy(show, "count")
    want = independent(requests, count_okhttp=True)
    assert want["okhttp_downloads"] > 0
    assert want["downloads"] > independent(requests, count_okhttp=False)["downloads"]
    ingest(show, tmp_path / "logs", "cloudfront", requests)

    data = json.loads(podcast_cli(show, "stats", "report", "--format", "json"))
    assert data["total"]["downloads"] == want["downloads"]
    rows = {row["reason"]: row for row in data["not_counted"]}
    assert "library_bots" not in rows  # nothing removed under that rule
    assert "library_bots: count" in rows["bots"]["policy"]
    apps = json.loads(podcast_cli(show, "stats", "report", "--format", "json",
                                  "--by", "app"))["rows"]
    assert sum(r["downloads"] for r in apps if r["app"] == "okhttp") == \
        want["okhttp_downloads"]
    table = podcast_cli(show, "stats", "report")
    assert "ARE counted" in POLICY_LINE.search(table).group(0)


def test_the_html_report_states_the_policy(show: Path, tmp_path: Path) -> None:
    requests = traffic(seed=4)
    want = independent(requests, count_okhttp=False)
    ingest(show, tmp_path / "logs", "s3", requests)
    page = tmp_path / "report.html"
    podcast_cli(show, "stats", "report", "--html", str(page))
    html = page.read_text(encoding="utf-8")
    assert 'id="bot-policy"' in html and "library_bots: drop" in html
    row = re.search(r'<tr id="not-counted-library_bots">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r'<td class="n">([^<]*)</td>', row)
    assert cells == [f"{want['library_days']:,}", f"{want['library_lines']:,}"]


def test_the_setting_is_validated_with_the_fix(show: Path) -> None:
    assert load_show(show).stats.library_bots == "drop"
    set_policy(show, "sometimes")
    with pytest.raises(ConfigError) as caught:
        load_show(show)
    assert caught.value.field == "stats.library_bots"
    assert "library_bots: count" in caught.value.fix
    text = show.read_text(encoding="utf-8").replace("library_bots: sometimes",
                                                    "library_bot: count")
    show.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_show(show)
    assert caught.value.field == "stats.library_bot"


def test_opawg_lists_given_with_agents_bring_their_categories(show: Path,
                                                              tmp_path: Path) -> None:
    """``--agents``: a library the OPAWG list marks ``"category": "bot"`` is a library bot
    (named as the list names it); one without the mark counts."""
    lists = tmp_path / "opawg"
    lists.mkdir()
    (lists / "libraries.json").write_text(json.dumps({"entries": [
        {"name": "Go Http Client", "pattern": "^Go-http-client", "category": "bot"},
        {"name": "Dalvik", "pattern": "^Dalvik[/ ]"},
    ]}), encoding="utf-8")
    media = DEMO_MEDIA[next(iter(DEMO_MEDIA))]
    requests = [whole(DAY, "192.0.2.1", "Go-http-client/2.0", media),
                whole(DAY, "192.0.2.2", "Go-http-client/2.0", media),
                whole(DAY, "192.0.2.3", "Dalvik/2.1.0 (Linux; U; Android 9)", media)]
    log = write_log(tmp_path / "logs", "combined", requests)
    podcast_cli(show, "stats", "ingest", "--agents", str(lists), str(log))
    data = json.loads(podcast_cli(show, "stats", "report", "--format", "json",
                                  "--by", "bot"))
    assert data["total"]["downloads"] == 1
    assert [(r["bot"], r["requests"], r["rule"]) for r in data["rows"]] == [
        ("Go Http Client (library)", 2, "library_bots")]
