"""`podcast stats ingest` end to end: real log files in, counted downloads out.

The traffic is hand-built in ``stats_fixtures.SCENARIO`` (one request per rule to check)
and written in each log format; every format must give the same downloads and the same
rejections.  The database is then read back through the store API the reports use.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import sys
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stats_fixtures import (
    ALL_IPS,
    APPLE,
    CATALOG,
    DAY1,
    DAY2,
    DAY3,
    EXPECTED,
    GOOGLEBOT,
    LATE,
    LONG,
    OVERCAST,
    SCENARIO,
    SPOTIFY,
    Request,
    combined_log,
    make_show,
    ranged,
    s3_log,
    shuffled,
    whole,
    write_log,
)

from podcast.errors import PodcastError
from podcast.model import Rendition
from podcast.stats import agents, counting, scan, sources
from podcast.stats import ingest as ingest_module
from podcast.stats.ingest import ingest_sources
from podcast.stats.sources import Source, expand_sources
from podcast.stats.store import key_path, load_downloads, rejected_counts

FORMATS = ["s3", "cloudfront", "combined"]


def run(show, *paths, robust: bool = False, **options):
    """Ingest ``paths`` against the fixture catalog."""
    return ingest_sources(show, CATALOG, expand_sources([str(p) for p in paths]),
                          robust=robust, **options)


def per_episode_day(show) -> Counter:
    return Counter((d.slug, d.day) for d in load_downloads(show, None, None))


@pytest.fixture
def show(tmp_path):
    return make_show(tmp_path / "show")


@pytest.mark.parametrize("robust", [False, True], ids=["fast-reader", "line-safe-reader"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_counts_the_same_downloads_and_rejections(show, tmp_path, fmt, gz,
                                                                robust):
    log = write_log(tmp_path / "logs", fmt, shuffled(SCENARIO), gz=gz)
    report = run(show, log, robust=robust)

    assert per_episode_day(show) == Counter({
        ("ep-long", DAY1.date()): 6,   # A, C (two apps), D, I (one /64), K (one listener)
        ("ep-long", DAY2.date()): 2,   # D's second day, N (the retired master)
        ("ep-long", DAY3.date()): 1,   # J, first thing at midnight
        ("ep-short", DAY1.date()): 1,  # M, shorter than a minute, delivered whole
    })
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    assert rejected_counts(show, None, None) == EXPECTED["rejected"]
    assert report.lines == len(SCENARIO)
    assert report.downloads_added == EXPECTED["downloads"]
    assert +report.rejected == Counter(EXPECTED["rejected"])


def test_downloads_carry_app_device_and_bytes(show, tmp_path):
    run(show, write_log(tmp_path / "logs", "s3", SCENARIO))
    downloads = load_downloads(show, DAY3.date(), DAY3.date())
    assert len(downloads) == 1
    (j,) = downloads
    assert (j.slug, j.app, j.device, j.bytes, j.country) == (
        "ep-long", "Apple Podcasts", "Apple (iPhone, iPad or Mac)", LONG.bytes, None)
    assert len(j.listener) == 32 and "192.0.2" not in j.listener


def test_two_apps_behind_one_address_are_two_listeners(show, tmp_path):
    run(show, write_log(tmp_path / "logs", "combined", SCENARIO))
    household = [d for d in load_downloads(show, DAY1.date(), DAY1.date())
                 if d.app in ("Apple Podcasts", "Overcast")]
    assert len({d.listener for d in household}) == len(household) == 3  # C twice, K


def test_reingesting_a_file_changes_nothing(show, tmp_path):
    log = write_log(tmp_path / "logs", "s3", SCENARIO)
    run(show, log)
    before = (load_downloads(show, None, None), rejected_counts(show, None, None))
    again = run(show, log)
    assert again.files_read == 0 and again.files_unchanged == 1
    assert again.downloads_added == 0 and again.lines == 0
    # A copy under another name (or touched) is recognised by its content.
    copy = tmp_path / "copy.log"
    copy.write_bytes(log.read_bytes())
    assert run(show, copy).files_read == 0
    assert (load_downloads(show, None, None), rejected_counts(show, None, None)) == before


def test_a_late_file_for_an_old_day_pushes_a_listener_over_the_threshold(show, tmp_path):
    run(show, write_log(tmp_path / "logs", "cloudfront", SCENARIO))
    b_day1 = [d for d in load_downloads(show, DAY1.date(), DAY1.date()) if d.app == "Spotify"]
    assert b_day1 == []  # 600,000 bytes: below the 770,000 threshold
    below = rejected_counts(show, None, None)["below_threshold"]

    late = run(show, write_log(tmp_path / "late", "cloudfront", LATE, name="late"))
    assert late.downloads_added == 1
    (b,) = [d for d in load_downloads(show, DAY1.date(), DAY1.date()) if d.app == "Spotify"]
    assert b.bytes == 800_000
    # B's two earlier lines are no longer below the threshold: they made a download.
    assert rejected_counts(show, None, None)["below_threshold"] == below - 2


def test_late_bytes_that_still_fall_short_stay_below_threshold(show, tmp_path):
    run(show, write_log(tmp_path / "a", "s3", [ranged(DAY1, "192.0.2.9", SPOTIFY, 0, 100)]))
    run(show, write_log(tmp_path / "b", "s3", [ranged(DAY2, "192.0.2.9", SPOTIFY, 0, 800_000)]))
    # Bytes never add up across days: DAY1 stays short, DAY2 counts on its own.
    assert [d.day for d in load_downloads(show, None, None)] == [DAY2.date()]
    assert rejected_counts(show, None, None)["below_threshold"] == 1


def test_period_filters_downloads_and_rejections(show, tmp_path):
    run(show, write_log(tmp_path / "logs", "s3", SCENARIO))
    assert len(load_downloads(show, DAY2.date(), None)) == 3
    assert len(load_downloads(show, None, DAY1.date())) == 7
    assert rejected_counts(show, DAY2.date(), DAY3.date()) == dict.fromkeys(
        EXPECTED["rejected"], 0)
    assert rejected_counts(show, date(2030, 1, 1), None)["bots"] == 0


GARBAGE = [
    b"this is not a log line\n",
    b"\xff\xfe\x00\x01 binary \x80\x81 garbage\n",
    b'79a59d podcast-media [99/Xyz/2026:10:00:00 +0000] 192.0.2.1 - X REST.GET.OBJECT '
    b'show/media/ep-long-0123456789ab.mp3 "GET / HTTP/1.1" 200 - 10 10 1 1 "-" "UA" -\n',
    b"\n",
]


@pytest.mark.parametrize("robust", [False, True], ids=["fast-reader", "line-safe-reader"])
def test_malformed_lines_and_binary_garbage_are_counted_never_fatal(show, tmp_path, robust):
    text = s3_log(SCENARIO).encode()
    lines = text.splitlines(keepends=True)
    mixed = b"".join(lines[:5]) + b"".join(GARBAGE) + b"".join(lines[5:]) + b'stray " quote\n'
    log = tmp_path / "mixed.log"
    log.write_bytes(mixed)
    report = run(show, log, robust=robust)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    counts = rejected_counts(show, None, None)
    assert counts == EXPECTED["rejected"] | {"malformed": counts["malformed"]}
    assert counts["malformed"] >= 4  # the text, the binary line, the bad date, the quote
    assert report.rejected["malformed"] == counts["malformed"]


def test_a_truncated_gzip_keeps_the_lines_before_the_damage(show, tmp_path):
    data = gzip.compress(s3_log(SCENARIO).encode() * 50, mtime=0)
    log = tmp_path / "cut.log.gz"
    log.write_bytes(data[: len(data) * 2 // 3])
    report = run(show, log)
    assert report.truncated == [str(log.resolve())]
    assert report.files_read == 1
    assert report.rejected["malformed"] >= 1  # the line cut in half
    assert report.lines > len(SCENARIO)
    assert sum(per_episode_day(show).values()) >= EXPECTED["downloads"]
    assert "truncated" in report.summary()


def test_files_in_no_known_format_are_skipped_and_named(show, tmp_path):
    folder = tmp_path / "logs"
    write_log(folder, "s3", SCENARIO)
    (folder / "notes.txt").write_text("not a log\n")
    (folder / "random.bin").write_bytes(os.urandom(4096))
    (folder / "empty.log").write_bytes(b"")
    report = run(show, folder)
    assert report.files_read == 1
    assert sorted(Path(name).name for name, _ in report.skipped) == [
        "empty.log", "notes.txt", "random.bin"]
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]


def test_another_buckets_log_is_all_unknown_objects(show, tmp_path):
    theirs = [replace(r, key=r.key.replace("ep-", "their-")) for r in SCENARIO
              if r.method == "GET" and r.status == 200 and r.agent]
    log = tmp_path / "other.log"
    log.write_text(s3_log(theirs, bucket="another-bucket", prefix="site/"))
    report = run(show, log)
    assert load_downloads(show, None, None) == []
    assert rejected_counts(show, None, None)["unknown_object"] == len(theirs) == report.lines


def test_out_of_order_timestamps_across_files(show, tmp_path):
    first, second = shuffled(SCENARIO, seed=1)[:14], shuffled(SCENARIO, seed=1)[14:]
    run(show, write_log(tmp_path / "a", "combined", list(reversed(second)), name="b"),
        write_log(tmp_path / "b", "combined", first, name="a"))
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]


def test_raw_addresses_never_reach_the_disk_or_the_output(show, tmp_path, capsys):
    logs = [write_log(tmp_path / "logs", fmt, SCENARIO + LATE) for fmt in FORMATS]
    report = run(show, *logs, echo=print)
    stored = b"".join(p.read_bytes() for p in show.state_dir.rglob("*") if p.is_file())
    printed = report.summary() + capsys.readouterr().out
    for ip in ALL_IPS:
        assert ip.encode() not in stored, ip
        assert ip not in printed, ip
    assert all(ip not in d.listener for d in load_downloads(show, None, None) for ip in ALL_IPS)


def test_the_hash_key_is_private_and_changes_every_month(show, tmp_path):
    nov = ranged(DAY1, "192.0.2.77", SPOTIFY, 0, 900_000)
    dec = ranged(DAY1.replace(month=12), "192.0.2.77", SPOTIFY, 0, 900_000)
    run(show, write_log(tmp_path / "a", "s3", [nov, dec]))
    assert stat.S_IMODE(key_path(show).stat().st_mode) == 0o600
    first, second = load_downloads(show, None, None)
    assert first.listener != second.listener  # unlinkable across months
    # Within a month, a later ingest hashes the same listener the same way.
    run(show, write_log(tmp_path / "b", "s3", [replace(nov, when=DAY1.replace(day=25))]))
    listeners = {d.day: d.listener for d in load_downloads(show, None, None)}
    assert listeners[date(2026, 11, 25)] == listeners[date(2026, 11, 20)]
    assert listeners[date(2026, 12, 20)] != listeners[date(2026, 11, 20)]


def test_an_appended_log_is_read_from_where_it_stopped(show, tmp_path):
    """`podcast serve` appends to one access.log: only the new lines are read again."""
    log = tmp_path / "access.log"
    log.write_text(combined_log(SCENARIO))
    run(show, log)
    with log.open("a") as handle:
        handle.write(combined_log(LATE))
    report = run(show, log)
    assert report.lines == len(LATE)
    assert report.downloads_added == 1
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"] + 1


def test_serve_access_log_is_read(show, tmp_path):
    from podcast.serve import combined_log_line

    log = tmp_path / "access.log"
    log.write_text(
        combined_log_line("192.0.2.5", DAY1, f"GET /{LONG.key} HTTP/1.1", 200, LONG.bytes,
                          None, 'Pod "quoted" agent') + "\n"
        + combined_log_line("192.0.2.6", DAY1, f"HEAD /{LONG.key} HTTP/1.1", 200, 0, None,
                            "AntennaPod/3.2.0") + "\n")
    report = run(show, log)
    assert report.lines == 2
    assert [d.slug for d in load_downloads(show, None, None)] == ["ep-long"]
    assert rejected_counts(show, None, None)["not_get"] == 1


def test_local_time_combined_logs_count_on_the_utc_day(show, tmp_path):
    log = tmp_path / "paris.log"
    log.write_text(
        f'192.0.2.5 - - [21/Nov/2026:00:30:00 +0100] "GET /{LONG.key} HTTP/1.1" 200 '
        f'{LONG.bytes} "-" "AntennaPod/3.2.0"\n'
        f'192.0.2.6 - - [20/Nov/2026:20:00:00 -0500] "GET /{LONG.key} HTTP/1.1" 200 '
        f'{LONG.bytes} "-" "AntennaPod/3.2.0"\n')
    run(show, log)
    assert sorted(d.day for d in load_downloads(show, None, None)) == [
        date(2026, 11, 20), date(2026, 11, 21)]


def test_cloudfront_columns_are_found_by_their_header(show, tmp_path):
    from stats_fixtures import CLOUDFRONT_FIELDS, cloudfront_line

    order = list(reversed(CLOUDFRONT_FIELDS))
    lines = ["\t".join(reversed(cloudfront_line(r).split("\t"))) for r in SCENARIO]
    log = tmp_path / "cf.log"
    log.write_text("#Version: 1.0\n#Fields: " + " ".join(order) + "\n" + "\n".join(lines) + "\n")
    run(show, log)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    assert rejected_counts(show, None, None) == EXPECTED["rejected"]


def test_progress_is_told_from_no_byte_done_to_all_of_them(show, tmp_path, capsys):
    """The ingest tells its caller (the CLI draws the bar) the bytes of the new files
    done: none first, all of them last (a skipped file too), never going back; it prints
    nothing itself."""
    folder = tmp_path / "logs"
    write_log(folder, "s3", SCENARIO, name="a")
    write_log(folder, "combined", SCENARIO, name="b")
    (folder / "notes.txt").write_text("not a log\n")
    total = sum(path.stat().st_size for path in folder.iterdir())
    heard = []
    report = run(show, folder, progress=lambda done, whole: heard.append((done, whole)))
    assert report.skipped and report.files_read == 2
    assert heard[0] == (0, total) and heard[-1] == (total, total)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    assert {whole for _, whole in heard} == {total}
    assert capsys.readouterr() == ("", "")


def test_the_cli_draws_the_progress_bar_on_a_terminal(demo_show, tmp_path):
    """``podcast stats ingest`` with stderr on a terminal draws the bar there; the summary
    and what it read go to stdout."""
    import pty
    import subprocess

    from stats_fixtures import publish_stand_ins

    publish_stand_ins(demo_show)
    log = write_log(tmp_path / "logs", "s3", SCENARIO)
    terminal, stderr = pty.openpty()
    done = subprocess.run([sys.executable, "-c", "from podcast.cli import main; main()",
                           "--config", str(demo_show), "stats", "ingest", str(log)],
                          stdout=subprocess.PIPE, stderr=stderr, timeout=300, check=False)
    os.close(stderr)
    said = b""
    while True:
        try:
            piece = os.read(terminal, 4096)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not piece:
            break
        said += piece
    os.close(terminal)
    assert done.returncode == 0, said
    assert "ingesting logs" in said.decode()
    assert "100%" in said.decode()
    assert b"ingesting logs" not in done.stdout
    assert "\nfiles: 1 read," in done.stdout.decode()


@pytest.mark.s3
def test_s3_sources_are_listed_and_read_through_the_s3_api(show, tmp_path, monkeypatch):
    from s3_servers import moto_s3

    with moto_s3() as server:
        # S3 writes one small object per few requests: a listener-day spans objects.
        client = server.client()
        for n, request in enumerate(SCENARIO):
            body = s3_log([request]).encode()
            key = f"logs/2026-11-20-{n:02d}" + (".gz" if n % 3 == 0 else "")
            client.put_object(Bucket=server.bucket, Key=key,
                              Body=gzip.compress(body) if n % 3 == 0 else body)
        client.put_object(Bucket=server.bucket, Key="other/ignored", Body=b"x")
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        sources = expand_sources([f"s3://{server.bucket}/logs/"])
        assert len(sources) == len(SCENARIO)
        assert all(s.name.startswith(f"s3://{server.bucket}/logs/") for s in sources)
        report = ingest_sources(show, CATALOG, sources)
        assert report.files_read == len(SCENARIO)
        again = ingest_sources(show, CATALOG, expand_sources([f"s3://{server.bucket}/logs/"]))
        assert again.files_read == 0 and again.files_unchanged == len(SCENARIO)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    assert rejected_counts(show, None, None) == EXPECTED["rejected"]


def test_a_missing_source_is_a_clear_error(tmp_path):
    from podcast.errors import PodcastError

    with pytest.raises(PodcastError, match="no such log file"):
        expand_sources([str(tmp_path / "nope.log")])


def test_summary_names_every_reason(show, tmp_path):
    text = run(show, write_log(tmp_path / "logs", "s3", SCENARIO)).summary()
    assert "files: 1 read" in text and f"lines: {len(SCENARIO)}" in text
    assert f"downloads: {EXPECTED['downloads']} added" in text
    for reason, count in EXPECTED["rejected"].items():
        assert f"{reason} {count}" in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_countries_come_from_the_geoip_database_before_hashing(show, tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    mmdb = tmp_path / "countries.mmdb"
    writer = MMDBWriter(6, "GeoIP2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR"}})
    writer.insert_network(IPSet(["2001:db8:1::/48"]), {"country": {"iso_code": "CA"}})
    writer.to_db_file(str(mmdb))
    run(show, write_log(tmp_path / "logs", "s3", SCENARIO), geoip=mmdb)
    countries = Counter(d.country for d in load_downloads(show, None, None))
    assert countries == Counter({"FR": 2, "CA": 1, None: EXPECTED["downloads"] - 3})


def test_a_geoip_record_without_a_text_country_code_gives_no_country(tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    from podcast.stats.geoip import GeoIP

    mmdb = tmp_path / "odd.mmdb"
    writer = MMDBWriter(6, "GeoIP2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/25"]), {"country": {"iso_code": 250}})
    writer.insert_network(IPSet(["203.0.113.128/25"]), {"country": "FR"})
    writer.insert_network(IPSet(["198.51.100.0/24"]),
                          {"registered_country": {"iso_code": "BE"}})
    writer.to_db_file(str(mmdb))
    geoip = GeoIP(mmdb)
    assert [geoip.country(ip) for ip in ("203.0.113.9", "203.0.113.200", "198.51.100.7",
                                         "192.0.2.1", "not an address")] \
        == [None, None, "BE", None, None]


def test_a_file_that_is_not_a_geoip_database_is_a_clear_error(show, tmp_path):
    from podcast.errors import PodcastError

    bad = tmp_path / "countries.mmdb"
    bad.write_text("not a database")
    with pytest.raises(PodcastError, match="GeoIP") as error:
        run(show, write_log(tmp_path / "logs", "s3", SCENARIO), geoip=bad)
    assert error.value.field == "--geoip"


def test_the_command_line_ingests_against_the_published_catalog(demo_show, tmp_path):
    """`podcast stats ingest` reads the manifest of the show's store, then `report` agrees."""
    import json

    from click.testing import CliRunner

    from podcast.cli import main
    from podcast.config import load_show
    from podcast.storage import open_store, write_catalog

    real = load_show(demo_show)
    write_catalog(open_store(real.storage, real.root), CATALOG)
    logs = write_log(tmp_path / "logs", "combined", SCENARIO)
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(demo_show), "stats", "ingest", str(logs)])
    assert result.exit_code == 0, result.output
    assert f"downloads: {EXPECTED['downloads']} added" in result.output
    again = runner.invoke(main, ["--config", str(demo_show), "stats", "ingest", str(logs)])
    assert "0 read, 1 already ingested" in again.output
    report = runner.invoke(main, ["--config", str(demo_show), "stats", "report",
                                  "--format", "json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["rejected"] == EXPECTED["rejected"]
    for ip in ALL_IPS:
        assert ip not in result.output + report.output


def test_a_crash_before_the_commit_leaves_nothing_half_counted(show, tmp_path):
    """A file's rows and its "ingested" mark are one transaction: all or nothing."""
    from podcast.stats.store import connect

    log = write_log(tmp_path / "logs", "s3", SCENARIO)
    con = connect(show)
    # Sabotage the last statement of the transaction: the files table becomes a view.
    con.execute("ALTER TABLE files RENAME TO files_kept")
    con.execute("CREATE VIEW files AS SELECT ''::VARCHAR AS digest, ''::VARCHAR AS name, "
                "0::BIGINT AS size, ''::VARCHAR AS stamp, ''::VARCHAR AS format, "
                "0::BIGINT AS length WHERE false")
    con.close()
    with pytest.raises(Exception, match="files"):
        run(show, log)
    con = connect(show)
    assert con.execute("SELECT count(*) FROM listener_bytes").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM rejections").fetchone() == (0,)
    con.execute("DROP VIEW files")
    con.execute("ALTER TABLE files_kept RENAME TO files")
    con.close()

    run(show, log)  # the file is read once, in full
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    assert rejected_counts(show, None, None) == EXPECTED["rejected"]


# --- property: the pipeline agrees with a plain reading of the rules ---------------------

POOL_IPS = ["192.0.2.1", "192.0.2.2", "2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:7::9"]
POOL_AGENTS = [APPLE, OVERCAST, SPOTIFY, GOOGLEBOT, "Spotify/1.0", ""]
POOL_KEYS = [m.key for m in CATALOG.all_media()] + ["feed.xml"]

requests = st.builds(
    Request,
    when=st.sampled_from([DAY1, DAY1.replace(hour=23, minute=59, second=59), DAY2]),
    ip=st.sampled_from(POOL_IPS), agent=st.sampled_from(POOL_AGENTS),
    key=st.sampled_from(POOL_KEYS), method=st.sampled_from(["GET", "GET", "GET", "HEAD"]),
    status=st.sampled_from([200, 206, 206, 304, 404]),
    sent=st.sampled_from([0, 1, 2, 250_000, 400_000, 500_000, 800_000]))


def reference_counts(reqs: list[Request]) -> tuple[Counter, dict]:
    """The README's counting rules (IAB v2.x), read literally, one request at a time."""
    media = {m.key: m for m in CATALOG.all_media()}
    rejected = dict.fromkeys(counting.REASONS, 0)
    days: dict[tuple, list] = {}
    for r in reqs:
        if r.method != "GET":
            rejected["not_get"] += 1
        elif r.status not in (200, 206):
            rejected["bad_status"] += 1
        elif r.key not in media:
            rejected["unknown_object"] += 1
        elif agents.classify(r.agent).bot:
            rejected["bots"] += 1
        elif r.status == 206 and r.sent <= 2:
            rejected["below_threshold"] += 1
        else:
            group = (r.when.date(), r.key, counting.listener_address(r.ip), r.agent)
            days.setdefault(group, [0, 0])
            days[group][0] += r.sent
            days[group][1] += 1
    downloads = set()
    for (day, key, address, agent), (sent, lines) in days.items():
        if sent >= counting.threshold(media[key]):
            downloads.add((media[key].slug, day, address, agent))
        else:
            rejected["below_threshold"] += lines
    return Counter((slug, day) for slug, day, _, _ in downloads), rejected


@pytest.mark.slow
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=st.lists(requests, min_size=1, max_size=40), fmt=st.sampled_from(FORMATS))
def test_the_pipeline_agrees_with_the_rules_read_literally(tmp_path_factory, reqs, fmt):
    root = tmp_path_factory.mktemp("prop")
    show = make_show(root / "show")
    run(show, write_log(root / "logs", fmt, reqs))
    expected_downloads, expected_rejected = reference_counts(reqs)
    assert per_episode_day(show) == expected_downloads
    assert rejected_counts(show, None, None) == expected_rejected


def test_a_database_from_an_earlier_version_is_refused_with_a_fix(show):
    """Files were once keyed by SHA-256: such a database would read every log again."""
    import duckdb

    from podcast.stats.store import connect, db_path

    db_path(show).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db_path(show))) as old:
        old.execute("CREATE TABLE files (sha256 VARCHAR PRIMARY KEY, name VARCHAR)")
    for read_only in (False, True):
        with pytest.raises(PodcastError, match="another version") as caught:
            connect(show, read_only=read_only)
        assert "delete it and ingest the logs again" in str(caught.value.fix)


def test_a_database_half_made_by_a_killed_run_is_swept_when_the_next_run_creates_one(show):
    """A new database is made under ``.stats.duckdb.*.tmp`` and linked into place, so a
    run killed meanwhile leaves a temp file (and its write-ahead log), never a broken
    ``stats.duckdb``.  The next run that creates the database removes temps over an hour
    old."""
    import time

    from podcast.stats.store import connect, db_path

    folder = db_path(show).parent
    folder.mkdir(parents=True, exist_ok=True)
    killed = [folder / ".stats.duckdb.k1ll3d.tmp", folder / ".stats.duckdb.k1ll3d.tmp.wal"]
    in_flight = folder / ".stats.duckdb.fl1ght.tmp"
    for path in [*killed, in_flight]:
        path.write_bytes(b"not a database yet")
    two_hours_ago = time.time() - 7200
    for path in killed:
        os.utime(path, (two_hours_ago, two_hours_ago))

    connect(show).close()

    assert sorted(p.name for p in folder.iterdir()) == [".stats.duckdb.fl1ght.tmp",
                                                         "stats.duckdb"]


_CREATE_AND_WRITE = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from stats_fixtures import make_show
from podcast.errors import PodcastError
from podcast.stats.store import connect

show = make_show(Path(sys.argv[2]))
while time.time() < float(sys.argv[3]):  # both start creating at the same moment
    pass
try:
    con = connect(show)
    con.execute("INSERT INTO rejections VALUES (DATE '2026-11-23', 'bots', 1)")
    time.sleep(0.3)
    con.close()
    print("wrote")
except PodcastError as exc:
    print(exc)
"""


@pytest.mark.slow
def test_two_runs_creating_the_database_together_never_lose_a_write(tmp_path):
    """Two ``podcast stats`` runs that find no database both make one; the first to put
    its file in place wins and the other opens that file (or is told to wait), so nobody
    writes into a file another run has just replaced."""
    import subprocess
    import time

    from podcast.stats.store import connect

    for round_ in range(5):
        root = tmp_path / f"round-{round_}"
        start = str(time.time() + 1.5)
        runs = [subprocess.Popen([sys.executable, "-c", _CREATE_AND_WRITE,
                                  str(Path(__file__).parent), str(root), start],
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
        said = [run.communicate()[0].strip() for run in runs]
        for line in said:
            assert line == "wrote" or "close other `podcast stats` runs" in line, said
        con = connect(make_show(root))
        (rows,) = con.execute("SELECT count(*) FROM rejections").fetchone()
        con.close()
        assert rows == said.count("wrote"), (round_, said)


def test_many_small_batches_count_as_one_batch(tmp_path, monkeypatch):
    """Listener hashes and addresses are kept across the batches of a run: a log read in
    many batches (one per file here) must count exactly as when read in one."""
    requests = shuffled(SCENARIO)
    for n, chunk in enumerate(requests[i:i + 5] for i in range(0, len(requests), 5)):
        write_log(tmp_path / "logs", "s3", chunk, name=f"part-{n:02d}")
    whole = make_show(tmp_path / "whole")
    run(whole, tmp_path / "logs")
    monkeypatch.setattr(ingest_module, "BATCH_BYTES", 1)
    parts = make_show(tmp_path / "parts")
    report = run(parts, tmp_path / "logs")

    assert report.files_read == len(list((tmp_path / "logs").iterdir())) > 5
    assert per_episode_day(parts) == per_episode_day(whole)
    assert sum(per_episode_day(parts).values()) == EXPECTED["downloads"]
    assert rejected_counts(parts, None, None) == EXPECTED["rejected"]
    # Same listener, same month: one hash whichever batch saw the listener first.
    listeners = {(d.day, d.slug, d.app) for d in load_downloads(parts, None, None)}
    assert len({d.listener for d in load_downloads(parts, None, None)}) == len(
        {d.listener for d in load_downloads(whole, None, None)})
    assert listeners == {(d.day, d.slug, d.app) for d in load_downloads(whole, None, None)}


def test_an_encoded_agent_is_not_taken_for_the_same_bytes_in_another_format(show, tmp_path):
    """``AntennaPod/3.2.0%20(Android%2014)`` is what CloudFront writes for a space; in an S3
    log the same bytes are what the app sent: two agents, so two listeners."""
    agent = "AntennaPod/3.2.0 (Android 14)"
    literal = agent.replace(" ", "%20")
    whole = LONG.bytes
    write_log(tmp_path / "logs", "s3", [Request(DAY1, "192.0.2.77", literal, sent=whole)],
              name="a")
    write_log(tmp_path / "logs", "cloudfront", [Request(DAY1, "192.0.2.77", agent,
                                                        sent=whole)], name="b")
    run(show, tmp_path / "logs")
    downloads = load_downloads(show, None, None)
    assert len(downloads) == 2
    assert len({d.listener for d in downloads}) == 2


def test_the_command_line_names_apps_from_an_opawg_list(demo_show, tmp_path):
    """`stats ingest --agents FOLDER` names apps the OPAWG way; a bad list stops it cleanly."""
    import json

    from click.testing import CliRunner

    from podcast.cli import main
    from podcast.config import load_show
    from podcast.storage import open_store, write_catalog

    real = load_show(demo_show)
    write_catalog(open_store(real.storage, real.root), CATALOG)
    logs = write_log(tmp_path / "logs", "s3", SCENARIO)
    lists = tmp_path / "opawg"
    lists.mkdir()
    (lists / "apps.json").write_text(json.dumps({"entries": [
        {"name": "Overcast (OPAWG)", "pattern": "^Overcast/"}]}))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bots.json").write_text('{"entries": [{"name": "B", "pattern": "("}]}')
    runner = CliRunner()
    config = ["--config", str(demo_show)]

    bad = runner.invoke(main, [*config, "stats", "ingest", "--agents",
                               str(tmp_path / "bad"), str(logs)])
    assert bad.exit_code != 0 and "bots.json" in bad.output and "--agents" in bad.output
    good = runner.invoke(main, [*config, "stats", "ingest", "--agents", str(lists), str(logs)])
    assert good.exit_code == 0, good.output
    by_app = runner.invoke(main, [*config, "stats", "report", "--by", "app", "--format",
                                  "json"])
    apps = {row["app"] for row in json.loads(by_app.output)["rows"]}
    assert "Overcast (OPAWG)" in apps and "Overcast" not in apps


def test_downloads_remember_the_log_they_came_from(show, tmp_path):
    """`report --by source`: the bucket's own log, the CDN's, or a web server's."""
    from podcast.stats.report import rows_by

    write_log(tmp_path / "logs", "s3", SCENARIO, name="bucket")
    write_log(tmp_path / "logs", "combined",
              [Request(DAY2, "203.0.113.9", OVERCAST, sent=LONG.bytes)], name="web")
    run(show, tmp_path / "logs")
    downloads = load_downloads(show, None, None)
    rows = {row["source"]: row["downloads"] for row in rows_by("source", downloads, [])}
    assert rows == {"s3": EXPECTED["downloads"], "combined": 1}


# --- the listener-hash key of a month that already has listeners is never replaced ---------


def _first_and_late_logs(tmp_path):
    first = write_log(tmp_path / "logs", "combined", SCENARIO, name="first")
    late = write_log(tmp_path / "logs", "combined", [whole(DAY2, "198.51.100.77", APPLE)],
                     name="late")
    return first, late


def test_a_deleted_key_file_is_refused_for_a_month_that_has_listeners(tmp_path):
    show = make_show(tmp_path)
    first, late = _first_and_late_logs(tmp_path)
    run(show, first)
    key_path(show).unlink()
    with pytest.raises(PodcastError, match=r"no listener-hash key for 2026-11.*hashed with one"):
        run(show, late)
    assert not key_path(show).exists()  # no new key was made in its place


@pytest.mark.parametrize("content", ["", "{}", '{"2026-11": ""}', '{"2026-11": "zz"}', "[1]"])
def test_an_empty_or_malformed_key_file_is_refused(tmp_path, content):
    show = make_show(tmp_path)
    first, late = _first_and_late_logs(tmp_path)
    run(show, first)
    key_path(show).write_text(content)
    with pytest.raises(PodcastError, match="listener-hash key"):
        run(show, late)
    assert key_path(show).read_text() == content  # left as it was, for the user to restore


def test_a_changed_key_is_refused(tmp_path):
    show = make_show(tmp_path)
    first, late = _first_and_late_logs(tmp_path)
    run(show, first)
    key_path(show).write_text('{"2026-11": "' + "ab" * 32 + '"}')
    with pytest.raises(PodcastError, match="2026-11 is not the one"):
        run(show, late)


def test_a_secret_in_the_environment_keeps_listeners_stable_without_a_key_file(
        tmp_path, monkeypatch):
    monkeypatch.setenv("PODCAST_IP_SECRET", "night-job-secret-0123456789abcdef")
    show = make_show(tmp_path)
    first, late = _first_and_late_logs(tmp_path)
    run(show, first)
    listeners = {d.listener for d in load_downloads(show, None, None)}
    assert not key_path(show).exists()
    run(show, late)  # a later night, same secret: accepted, same hashes for the same people
    assert listeners <= {d.listener for d in load_downloads(show, None, None)}
    monkeypatch.setenv("PODCAST_IP_SECRET", "another-secret-0123456789abcdef")
    extra = write_log(tmp_path / "logs", "combined", [whole(DAY3, "198.51.100.78", APPLE)],
                      name="extra")
    with pytest.raises(PodcastError, match="PODCAST_IP_SECRET.*2026-11|2026-11.*not the one"):
        run(show, extra)
    monkeypatch.setenv("PODCAST_IP_SECRET", " ")
    with pytest.raises(PodcastError, match="PODCAST_IP_SECRET is empty or too short"):
        run(show, extra)


def test_a_new_month_gets_a_new_key_beside_the_old_ones(tmp_path):
    show = make_show(tmp_path)
    first, _ = _first_and_late_logs(tmp_path)
    run(show, first)
    december = write_log(tmp_path / "logs", "combined",
                         [whole(DAY1.replace(month=12), "198.51.100.79", APPLE)], name="dec")
    run(show, december)
    assert sorted(json.loads(key_path(show).read_text())) == ["2026-11", "2026-12"]


def _cloudfront_with_agent(requests: list[Request], logged_agent: str) -> str:
    """A CloudFront log of ``requests`` whose User-Agent field is ``logged_agent``
    byte for byte (as CloudFront wrote it)."""
    from stats_fixtures import CLOUDFRONT_FIELDS, cloudfront_line

    column = CLOUDFRONT_FIELDS.index("cs(User-Agent)")
    lines = []
    for r in requests:
        fields = cloudfront_line(r).split("\t")
        fields[column] = logged_agent
        lines.append("\t".join(fields) + "\n")
    return "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_FIELDS) + "\n" + "".join(lines)


@pytest.mark.parametrize("logged", [
    "Overcast/1.0%2520Podcast%2520Sync%2520(123%2520subscribers;%2520feed-id=1)",
    "(null)/(null)%2520watchOS/9.1%2520model/Watch6,2%2520hwp/t8301%2520build/20S75",
])
def test_cloudfront_agents_encoded_twice_meet_the_bot_rules(show, tmp_path, logged):
    log = tmp_path / "cf.log"
    log.write_text(_cloudfront_with_agent([whole(DAY1, "192.0.2.7", "x")], logged))
    report = run(show, log)
    assert load_downloads(show, None, None) == []
    assert report.rejected["bots"] == 1


def test_an_agent_encoded_twice_is_the_same_listener_as_in_a_plain_log(show, tmp_path):
    """Half an episode through CloudFront (agent encoded twice), half from a web server:
    one listener, one download — the identity is the decoded agent in both."""
    agent = "AntennaPod/3.2.0 (Android 14)"
    half = THRESHOLD_HALF = 400_000
    cf = tmp_path / "logs" / "cf.log"
    cf.parent.mkdir()
    cf.write_text(_cloudfront_with_agent([ranged(DAY1, "192.0.2.8", "x", 0, half)],
                                         agent.replace(" ", "%2520")))
    write_log(tmp_path / "logs", "combined",
              [ranged(DAY1, "192.0.2.8", agent, THRESHOLD_HALF, half)])
    run(show, tmp_path / "logs")
    (download,) = load_downloads(show, None, None)
    assert (download.app, download.bytes) == ("AntennaPod", 2 * half)


@pytest.mark.parametrize("robust", [False, True], ids=["fast-reader", "line-safe-reader"])
def test_another_buckets_get_of_the_same_key_is_an_unknown_object(tmp_path, robust):
    """S3 writes one bucket's logs beside another's: the bucket column says whose it is."""
    show = replace(make_show(tmp_path / "show"), storage="s3://podcast-media/show")
    log = tmp_path / "logs" / "mixed.log"
    log.parent.mkdir()
    countable = [r for r in SCENARIO if r.method == "GET" and r.status in (200, 206)]
    log.write_text(s3_log(SCENARIO) + s3_log(countable, bucket="another-bucket"))
    report = run(show, log, robust=robust)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    rejected = rejected_counts(show, None, None)
    assert rejected == EXPECTED["rejected"] | {
        "unknown_object": EXPECTED["rejected"]["unknown_object"] + len(countable)}
    assert report.lines == len(SCENARIO) + len(countable)


def test_cloudfront_requests_for_another_host_are_unknown_objects(show, tmp_path):
    """One distribution serving two sites: only the host base_url names is this show's."""
    from stats_fixtures import cloudfront_log

    ours = cloudfront_log(SCENARIO)
    theirs = cloudfront_log(SCENARIO).replace("\tpodcast.example.org\t",
                                              "\tother-show.example.net\t")
    log = tmp_path / "cf.log"
    log.write_text(ours + "".join(line + "\n" for line in theirs.splitlines()
                                  if not line.startswith("#")))
    run(show, log)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    countable = sum(1 for r in SCENARIO if r.method == "GET" and r.status in (200, 206))
    assert rejected_counts(show, None, None)["unknown_object"] == (
        EXPECTED["rejected"]["unknown_object"] + countable)


# --- a file is known by its content: growing, renamed, rotated, compressed ---------------


def test_a_log_that_grows_while_it_is_ingested_is_counted_exactly_once(show, tmp_path,
                                                                        monkeypatch):
    """`podcast serve` (or nginx) keeps appending while the nightly ingest reads: the run
    counts exactly the bytes it hashed, and the next run reads only what came after."""
    log = tmp_path / "access.log"
    log.write_text(combined_log(SCENARIO))
    read_groups = ingest_module._read_groups

    def appending(*args, **kwargs):
        if not appending.done:  # the server writes between the hash and DuckDB's read
            with log.open("a") as handle:
                handle.write(combined_log(LATE))
            appending.done = True
        return read_groups(*args, **kwargs)

    appending.done = False
    monkeypatch.setattr(ingest_module, "_read_groups", appending)
    first = run(show, log)
    assert first.lines == len(SCENARIO)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]

    second = run(show, log)
    assert second.lines == len(LATE)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"] + 1
    assert run(show, log).lines == 0


def test_a_log_rotated_by_rename_and_then_compressed_is_never_counted_again(show, tmp_path):
    """logrotate's default: access.log -> access.log.1 (a new access.log starts), then
    access.log.1 -> access.log.2.gz.  Only lines never read before count."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    log.write_text(combined_log(SCENARIO))
    run(show, folder)
    with log.open("a") as handle:  # written after the ingest, before the rotation
        handle.write(combined_log(LATE))
    log.rename(folder / "access.log.1")
    fresh = [whole(DAY2, "192.0.2.99", OVERCAST)]
    log.write_text(combined_log(fresh))

    report = run(show, folder)
    assert report.lines == len(LATE) + len(fresh)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"] + 2

    rotated = folder / "access.log.1"
    (folder / "access.log.2.gz").write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    report = run(show, folder)
    assert (report.lines, report.files_read, report.files_unchanged) == (0, 0, 2)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"] + 2


def test_a_gzip_that_expands_past_the_bound_is_skipped_and_the_rest_is_read(
        show, tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "MAX_EXPANDED", 64 * 1024)
    folder = tmp_path / "logs"
    bomb = folder / "bomb.log.gz"
    folder.mkdir()
    bomb.write_bytes(gzip.compress(s3_log(SCENARIO).encode() * 100))
    write_log(folder, "s3", SCENARIO)
    report = run(show, folder)
    assert [(Path(name).name, why.split(":")[0]) for name, why in report.skipped] == [
        ("bomb.log.gz", "expands past 0 MiB when decompressed")]
    assert report.exit_code == 1
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]


def test_a_truncated_gzip_is_read_without_holding_its_content(show, tmp_path):
    """A few hundred kilobytes of gzip that inflate to 120 MB, cut short: the lines before
    the damage count, and memory holds compressed bytes, never the 120 MB."""
    import tracemalloc

    text = s3_log(SCENARIO).encode()
    data = gzip.compress(text * (120_000_000 // len(text)), compresslevel=9, mtime=0)
    log = tmp_path / "cut.log.gz"
    log.write_bytes(data[: len(data) * 2 // 3])
    tracemalloc.start()
    try:
        report = run(show, log)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.truncated == [str(log.resolve())]
    assert report.rejected["malformed"] == 1  # the line cut in two
    assert report.lines > 100_000
    assert peak < 40 * 2**20, peak


def test_an_s3_gzip_object_that_expands_past_the_bound_is_skipped(show, tmp_path,
                                                                  monkeypatch):
    from podcast import storage

    monkeypatch.setattr(scan, "MAX_EXPANDED", 64 * 1024)
    objects = {"logs/bomb.gz": gzip.compress(s3_log(SCENARIO).encode() * 100),
               "logs/fine": s3_log(SCENARIO).encode()}
    monkeypatch.setattr(storage, "s3_client", lambda: None)
    monkeypatch.setattr(sources, "read_bytes",
                        lambda source, client=None: objects[source.s3[1]])
    found = [Source(f"s3://b/{key}", len(body), f"etag-{key}", s3=("b", key))
             for key, body in objects.items()]
    report = ingest_sources(show, CATALOG, found)
    assert [name for name, _ in report.skipped] == ["s3://b/logs/bomb.gz"]
    assert report.files_read == 1
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_100_mb_line_is_one_malformed_line(show, tmp_path, fmt):
    """DuckDB drops a line longer than its buffer without a word: it must be counted."""
    text = write_log(tmp_path / "logs", fmt, SCENARIO).read_bytes()
    first, second, rest = text.split(b"\n", 2)  # after CloudFront's two header lines
    log = tmp_path / "long.log"
    log.write_bytes(first + b"\n" + second + b"\n" + b"x" * 100_000_000 + b"\n" + rest)
    report = run(show, log)
    assert report.lines == len(SCENARIO) + 1
    assert report.rejected["malformed"] == 1
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]


def test_a_log_copied_and_truncated_while_it_is_ingested_is_counted_once(show, tmp_path,
                                                                           monkeypatch):
    """logrotate's ``copytruncate``: access.log is copied to access.log.1 and emptied while
    the ingest reads it.  Nothing half-read is committed; the copy is read next time."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "access.log"
    log.write_text(combined_log(SCENARIO))
    read_groups = ingest_module._read_groups

    def rotating(*args, **kwargs):
        if log.stat().st_size:
            (folder / "access.log.1").write_bytes(log.read_bytes())
            log.write_bytes(b"")
        return read_groups(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_read_groups", rotating)
    first = run(show, log)
    assert [why for _, why in first.skipped] == [
        "cannot read: truncated while it was read (the next run reads it)"]
    assert load_downloads(show, None, None) == []
    monkeypatch.setattr(ingest_module, "_read_groups", read_groups)
    run(show, folder)
    assert sum(per_episode_day(show).values()) == EXPECTED["downloads"]
    assert rejected_counts(show, None, None) == EXPECTED["rejected"]


def test_a_rendition_download_counts_for_its_episode_once_a_day(show, tmp_path):
    # ep-long also published as Opus (``audio.rendition``, podcast:alternateEnclosure):
    # fetching it counts for the episode, at a minute of its own bitrate; a listener who
    # takes the MP3 and the Opus on one day is one download.
    opus = Rendition(key="media/ep-long-0123456789ab-cdef01234567.opus", type="audio/ogg",
                     codecs="opus", bytes=15_000_000, sha256="3" * 64, bitrate=48_000,
                     source=LONG.sha256)
    catalog = replace(CATALOG, media={**CATALOG.media,
                                      "ep-long": replace(LONG, renditions=(opus,))})
    minute = 48_000 // 8 * 60
    requests = [
        Request(DAY1, "192.0.2.10", APPLE, opus.key, sent=opus.bytes),
        Request(DAY1, "192.0.2.11", OVERCAST, opus.key, sent=opus.bytes),
        whole(DAY1, "192.0.2.11", OVERCAST),  # the same listener's MP3 that day
        ranged(DAY1, "192.0.2.12", SPOTIFY, 0, minute - 1, key=opus.key),  # short of it
        ranged(DAY1, "192.0.2.13", SPOTIFY, 0, minute, key=opus.key),  # just a minute
    ]
    ingest_sources(show, catalog, expand_sources(
        [str(write_log(tmp_path / "logs", "combined", requests))]))
    downloads = load_downloads(show, None, None)
    assert sorted((d.slug, d.app) for d in downloads) == [
        ("ep-long", "AppleCoreMedia"), ("ep-long", "Overcast"), ("ep-long", "Spotify")]
    # (one download of the two files: the larger byte count is kept)
    assert [d.bytes for d in downloads if d.app == "Overcast"] == [LONG.bytes]
