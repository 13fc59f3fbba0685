"""A show served under other hosts and buckets too (issue 19): `aliases:` in podcast.yaml.

A CDN domain, an old domain, an old bucket: their requests count like base_url's when
named in ``aliases``; otherwise ``podcast stats ingest`` names the host or bucket, its
lines and the line to add, and the report counts none of them.  Logs are generated in the
formats' real shapes (CloudFront: ``#Version``/``#Fields`` headers, tabs, agents encoded
once or twice; S3: the bucket column), run through the CLI as users do, and the downloads
are counted again here, independently.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stats_fixtures import (
    CLOUDFRONT_DISTRIBUTION,
    DEMO_MEDIA,
    DEMO_THRESHOLD,
    Request,
    cloudfront_host_log,
    podcast_cli,
    publish_stand_ins,
    ranged,
    s3_log,
    whole,
)

from podcast.config import load_show
from podcast.errors import ConfigError

DAY = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
AGENTS = ["Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0",
          "Spotify/8.8.56 Android/33 (SM-G991B)",
          "AppleCoreMedia/1.0.0.21B101 (iPhone; U; CPU OS 17_1 like Mac OS X)",
          "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CDN = "cdn.example.net"


def traffic(seed: int = 11) -> list[Request]:
    """Two days of listeners who play, give up or probe, a crawler, and HEAD requests."""
    rng = random.Random(seed)
    out: list[Request] = []
    for n in range(90):
        when = DAY + timedelta(days=n % 2, minutes=n)
        ip, agent = f"192.0.2.{n + 1}", rng.choice(AGENTS)
        media = DEMO_MEDIA[rng.choice(list(DEMO_MEDIA))]
        kind = n % 5
        if kind == 0:
            out += [ranged(when, ip, agent, 0, 2, key=media.key),
                    ranged(when, ip, agent, 0, 400_000, key=media.key),
                    ranged(when, ip, agent, 400_000, 400_000, key=media.key)]
        elif kind == 1:  # gave up
            out.append(ranged(when, ip, agent, 0, 200_000, key=media.key))
        elif kind == 2:
            out.append(Request(when, ip, agent, media.key, method="HEAD"))
        else:
            out.append(whole(when, ip, agent, media))
    out += [whole(DAY + timedelta(hours=2, minutes=n), "198.51.100.9", GOOGLEBOT,
                  DEMO_MEDIA[slug]) for n, slug in enumerate(DEMO_MEDIA)]
    return out


def expected_downloads(requests: list[Request]) -> int:
    """IAB downloads counted here: GET 200/206 bytes (2-byte probes apart) per episode,
    address, agent and UTC day, bots left out, against the stand-ins' threshold."""
    slug = {m.key: s for s, m in DEMO_MEDIA.items()}
    sent: dict[tuple, int] = defaultdict(int)
    for r in requests:
        if r.method == "GET" and r.status in (200, 206) and r.agent != GOOGLEBOT \
                and not (r.status == 206 and r.sent <= 2):
            sent[(r.when.date(), slug[r.key], r.ip, r.agent)] += r.sent
    return sum(1 for total in sent.values() if total >= DEMO_THRESHOLD)


def countable_lines(requests: list[Request]) -> int:
    """Lines that reach the object rules (GET answered 200 or 206)."""
    return sum(1 for r in requests if r.method == "GET" and r.status in (200, 206))


def configure(config: Path, **keys: str) -> None:
    """Set top-level keys of podcast.yaml (replacing them where present)."""
    text = config.read_text(encoding="utf-8")
    for key, value in keys.items():
        line = f"{key}: {value}"
        text, found = re.subn(rf"(?m)^{key}: .*$", line, text)
        if not found:
            text += f"\n{line}\n"
    config.write_text(text, encoding="utf-8")


def report_json(config: Path) -> dict:
    return json.loads(podcast_cli(config, "stats", "report", "--format", "json"))


def fresh_database(config: Path) -> None:
    """Move the stats database away (the fix says so to count logs read before)."""
    db = config.parent / ".podcast" / "stats.duckdb"
    if db.exists():
        db.rename(db.with_name("stats.duckdb.old"))


@pytest.fixture
def show(demo_show: Path) -> Path:
    configure(demo_show, base_url="https://podcast.example.org/show")
    publish_stand_ins(demo_show)
    return demo_show


# --- CloudFront: a CDN domain ---------------------------------------------------------------


def test_a_cdn_host_counts_only_once_it_is_an_alias(show: Path, tmp_path: Path) -> None:
    requests = traffic()
    log = tmp_path / "logs" / "E2EXAMPLE.2026-11-20.cf.log"
    log.parent.mkdir()
    log.write_text(cloudfront_host_log(requests, CDN, path_prefix="/show/"))
    lines = len(requests)
    foreign = countable_lines(requests)
    want = expected_downloads(requests)
    assert want > 10 and foreign > 0.05 * lines  # the case worth a warning

    # Not an alias: named, with its lines and the fix; nothing counted.
    out = podcast_cli(show, "stats", "ingest", str(log))
    assert f"{foreign:,} of {lines:,} lines" in out
    assert f"  https://{CDN}: {foreign:,} lines" in out
    assert f"aliases:\n  - https://{CDN}\n" in out
    data = report_json(show)
    assert data["total"]["downloads"] == 0
    assert data["rejected"]["unknown_object"] == foreign

    # Named in aliases (with the CDN's path prefix): counted exactly, no warning.
    configure(show, aliases=f"[https://{CDN}/show]")
    fresh_database(show)
    out = podcast_cli(show, "stats", "ingest", str(log))
    assert "warning" not in out and "aliases" not in out
    data = report_json(show)
    assert data["total"]["downloads"] == want
    assert data["rejected"]["unknown_object"] == 0


def test_the_distribution_domain_itself_is_named_and_can_be_an_alias(
        show: Path, tmp_path: Path) -> None:
    """Apps that fetch from the *.cloudfront.net name: x-host-header is that name."""
    requests = traffic(seed=5)
    log = tmp_path / "cf.log"
    log.write_text(cloudfront_host_log(requests, CLOUDFRONT_DISTRIBUTION))
    out = podcast_cli(show, "stats", "ingest", str(log))
    assert f"  https://{CLOUDFRONT_DISTRIBUTION}: {countable_lines(requests):,} lines" in out
    configure(show, aliases=f"https://{CLOUDFRONT_DISTRIBUTION}")
    fresh_database(show)
    podcast_cli(show, "stats", "ingest", str(log))
    assert report_json(show)["total"]["downloads"] == expected_downloads(requests)


def test_a_few_lines_of_another_site_are_no_warning(show: Path, tmp_path: Path) -> None:
    """A shared distribution logs other sites too: under 5 % of the lines, no warning, and
    the show's own lines still count exactly."""
    ours = traffic(seed=3)
    theirs = [whole(DAY, f"203.0.113.{n}", AGENTS[0], DEMO_MEDIA[next(iter(DEMO_MEDIA))])
              for n in range(1, 4)]
    log = tmp_path / "cf.log"
    log.write_text(cloudfront_host_log(ours, "podcast.example.org")
                   + cloudfront_host_log(theirs, "other.example.com").split("\n", 2)[2])
    out = podcast_cli(show, "stats", "ingest", str(log))
    assert "warning" not in out
    data = report_json(show)
    assert data["total"]["downloads"] == expected_downloads(ours)
    assert data["rejected"]["unknown_object"] == len(theirs)


# --- S3: an old bucket -------------------------------------------------------------------------


@pytest.fixture
def s3_show(show: Path, monkeypatch: pytest.MonkeyPatch):
    """The demo show stored in a bucket of a local S3 server (moto)."""
    from s3_servers import moto_s3

    with moto_s3() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        server.client().create_bucket(Bucket=server.bucket)
        configure(show, storage=f"s3://{server.bucket}/show")
        publish_stand_ins(show)
        yield show, server.bucket


@pytest.mark.s3
def test_an_old_bucket_counts_only_once_it_is_an_alias(s3_show, tmp_path: Path) -> None:
    show, bucket = s3_show
    ours, old = traffic(seed=21), traffic(seed=22)
    log = tmp_path / "logs" / "2026-11-20-10-00-00-EXAMPLE"
    log.parent.mkdir()
    log.write_text(s3_log(ours, bucket=bucket, prefix="show/")
                   + s3_log(old, bucket="old-podcast-media", prefix="archive/"))
    lines, foreign = len(ours) + len(old), countable_lines(old)

    out = podcast_cli(show, "stats", "ingest", str(log))
    assert f"{foreign:,} of {lines:,} lines" in out
    assert f"  s3://old-podcast-media: {foreign:,} lines" in out
    assert "aliases:\n  - s3://old-podcast-media\n" in out
    data = report_json(show)
    assert data["total"]["downloads"] == expected_downloads(ours)
    assert data["rejected"]["unknown_object"] == foreign

    configure(show, aliases="[s3://old-podcast-media/archive]")
    fresh_database(show)
    out = podcast_cli(show, "stats", "ingest", str(log))
    assert "warning" not in out
    data = report_json(show)
    # Two logs of the same listeners on the same days: one listener-day each, not two.
    assert data["total"]["downloads"] == expected_downloads(ours + old)
    assert data["rejected"]["unknown_object"] == 0


# --- the key itself ---------------------------------------------------------------------------


def test_aliases_are_validated_with_the_fix(show: Path) -> None:
    configure(show, aliases="[https://cdn.example.net/show, s3://old-media/archive]")
    assert load_show(show).aliases == ("https://cdn.example.net/show",
                                      "s3://old-media/archive")
    configure(show, aliases="https://cdn.example.net/")
    assert load_show(show).aliases == ("https://cdn.example.net",)
    for value, field in (("[ftp://cdn.example.net]", "aliases[0]"),
                         ("[https://cdn.example.net, s3://Old_Media]", "aliases[1]"),
                         ("[{url: https://x.example}]", "aliases[0]"),
                         ("'https://user:secret@cdn.example.net'", "aliases[0]")):
        configure(show, aliases=value)
        with pytest.raises(ConfigError) as caught:
            load_show(show)
        assert caught.value.field == field, value
        assert caught.value.fix
        assert "secret" not in str(caught.value)


# --- combined logs: only Apache's vhost_combined names the host ------------------------------


@pytest.mark.parametrize("robust", [False, True], ids=["fast-reader", "line-safe-reader"])
def test_vhost_combined_lines_are_checked_on_their_host(tmp_path: Path, robust: bool) -> None:
    """``%v:%p`` before the combined fields: the show's host counts, another is named;
    plain combined lines name no host and are never checked."""
    from dataclasses import replace

    from stats_fixtures import (
        CATALOG,
        EXPECTED,
        SCENARIO,
        combined_log,
        make_show,
        vhost_combined_log,
    )

    from podcast.stats.ingest import ingest_sources
    from podcast.stats.sources import expand_sources
    from podcast.stats.store import load_downloads, rejected_counts

    def downloads(show) -> int:
        return len({(d.day, d.slug, d.listener) for d in load_downloads(show, None, None)})

    base = make_show(tmp_path / "show")  # base_url https://podcast.example.org/show
    logs = tmp_path / "logs"
    logs.mkdir()
    countable = [r for r in SCENARIO if r.method == "GET" and r.status in (200, 206)]
    (logs / "vhost.log").write_text(vhost_combined_log(SCENARIO, "podcast.example.org")
                                    + vhost_combined_log(countable, "Old.Example.COM", 80))
    report = ingest_sources(base, CATALOG, expand_sources([str(logs)]), robust=robust)
    assert downloads(base) == EXPECTED["downloads"]
    assert rejected_counts(base, None, None)["unknown_object"] == (
        EXPECTED["rejected"]["unknown_object"] + len(countable))
    assert report.foreign == {"https://old.example.com": len(countable)}
    assert "aliases:\n  - https://old.example.com" in report.summary()

    # The same requests, half of them through the old host: all counted once aliased.
    aliased = replace(make_show(tmp_path / "aliased"), aliases=("https://old.example.com",))
    split = tmp_path / "split.log"
    split.write_text(vhost_combined_log(SCENARIO[::2], "podcast.example.org")
                     + vhost_combined_log(SCENARIO[1::2], "old.example.com", 80))
    report = ingest_sources(aliased, CATALOG, expand_sources([str(split)]), robust=robust)
    assert not report.foreign
    assert downloads(aliased) == EXPECTED["downloads"]
    assert rejected_counts(aliased, None, None) == EXPECTED["rejected"]

    plain = make_show(tmp_path / "plain")
    (tmp_path / "plain.log").write_text(combined_log(SCENARIO))
    report = ingest_sources(plain, CATALOG, expand_sources([str(tmp_path / "plain.log")]),
                            robust=robust)
    assert not report.foreign and downloads(plain) == EXPECTED["downloads"]
