"""The `podcast` command itself: one place turns errors into `Error: … fix:`, options mean
what they say, and the exit status tells a script what happened."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from podcast.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_mistake_is_one_error_line_with_its_fix_and_exit_1(demo_show):
    done = run("--config", str(demo_show), "new", "Ana", "--published", "2026-13-01")
    assert done.exit_code == 1
    assert done.output.startswith("Error: --published: '2026-13-01' is not a date-time\n")
    assert "  fix: write ISO 8601" in done.output
    assert "Traceback" not in done.output


def test_debug_shows_the_traceback_before_the_error(demo_show):
    done = run("--debug", "--config", str(demo_show), "new", "Ana", "--published", "tomorrow")
    assert done.exit_code == 1
    assert "Traceback (most recent call last)" in done.output
    assert "ConfigError" in done.output
    assert "Error: --published: 'tomorrow' is not a date-time" in done.output


def test_publish_all_means_every_episode_and_refuses_slugs_beside_it(demo_show):
    done = run("--config", str(demo_show), "publish", "--all", "--dry-run")
    assert done.exit_code == 0, done.output
    for slug in ("001-sonia-mamin", "002-marc-olivier", "003-claire-dubois"):
        assert f"would master {slug}" in done.output
    both = run("--config", str(demo_show), "publish", "001-sonia-mamin", "--all")
    assert both.exit_code == 2
    assert "give episode slugs or --all, not both" in both.output


def test_an_ingest_that_skipped_a_file_exits_1_and_names_it(demo_show):
    log = demo_show.parent / "notes.txt"
    log.write_text("this is a shopping list, not an access log\n")
    done = run("--config", str(demo_show), "stats", "ingest", str(log))
    assert done.exit_code == 1
    assert f"skipped {log}: not an access log in a known format" in done.output


def test_an_ingest_with_nothing_new_exits_0(demo_show):
    log = demo_show.parent / "access.log"
    log.write_text('203.0.113.9 - - [02/Dec/2026:10:00:00 +0000] "GET /feed.xml HTTP/1.1" '
                   '200 512 "-" "AntennaPod/3.4"\n')
    first = run("--config", str(demo_show), "stats", "ingest", str(log))
    assert first.exit_code == 0, first.output
    again = run("--config", str(demo_show), "stats", "ingest", str(log))
    assert again.exit_code == 0 and "1 already ingested" in again.output


def test_targets_count_days_in_utc_like_every_other_stat(demo_show, monkeypatch):
    # At any moment one of these zones is on another calendar day than UTC (UTC-10 before
    # 10:00 UTC, UTC+14 after), so a report on the local date would be caught by one.
    import time

    for zone in ("Pacific/Honolulu", "Pacific/Kiritimati"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        try:
            done = run("--config", str(demo_show), "stats", "targets", "--format", "json")
        finally:
            monkeypatch.delenv("TZ")
            time.tzset()
        assert done.exit_code == 0, done.output
        assert f'"today": "{datetime.now(UTC).date().isoformat()}"' in done.output, zone
