"""The counting rules one by one (``podcast.stats.counting``: LINE_RULES, GROUP_RULES,
DAY_RULE): each rule has a request that only it rejects, checked in SQL over DuckDB (the
line rules) and through the real ingest of a one-line log (every rule).

The verdicts expected here are written by hand from the IAB guidelines (the README's
"Counting rules"), never read from the rules themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest
from stats_fixtures import CATALOG, GOOGLEBOT, LONG, OVERCAST, THRESHOLD, make_show

from podcast.stats import counting
from podcast.stats.ingest import ingest_sources
from podcast.stats.sources import expand_sources

# --- the line rules, in SQL over a normalised request ------------------------------------

#: A request every line rule lets through: a whole GET answered 200.
FINE = {"complete": True, "day_text": "20/Nov/2026", "ip": "192.0.2.10",
        "method": "GET", "status": 200, "sent": 30_000_000}

#: Each line rule's condition -> a request only it rejects (FINE with these changes), and
#: the verdict the guidelines give it.
LINE_CASES = {
    "NOT coalesce(complete, false)": ({"complete": False}, "malformed"),
    "day_text IS NULL OR day_text = ''": ({"day_text": ""}, "malformed"),
    "ip IS NULL OR ip = ''": ({"ip": None}, "malformed"),
    "status IS NULL OR sent IS NULL OR sent < 0": ({"sent": -1}, "malformed"),
    "method IS NULL OR method = ''": ({"method": ""}, "malformed"),
    "method <> 'GET'": ({"method": "HEAD"}, "not_get"),
    "status NOT IN (200, 206)": ({"status": 304}, "bad_status"),
    "status = 206 AND sent <= 2": ({"status": 206, "sent": 2}, "probe"),
}

_TYPES = {"complete": "BOOLEAN", "day_text": "VARCHAR", "ip": "VARCHAR",
          "method": "VARCHAR", "status": "INTEGER", "sent": "BIGINT"}


def _over(request: dict, sql: str):
    """``sql`` evaluated over one normalised request row, in DuckDB."""
    columns = ", ".join(f"?::{_TYPES[name]} AS {name}" for name in _TYPES)
    with duckdb.connect() as con:
        return con.execute(f"SELECT {sql} FROM (SELECT {columns})",
                           [request[name] for name in _TYPES]).fetchone()[0]


def test_every_line_rule_has_its_case():
    assert [rule.when for rule in counting.LINE_RULES] == list(LINE_CASES)


def test_a_request_no_line_rule_rejects_is_ok():
    assert _over(FINE, counting.LINE_REASON_SQL) == "ok"
    assert _over({**FINE, "status": 206, "sent": 3}, counting.LINE_REASON_SQL) == "ok"


@pytest.mark.parametrize("when", list(LINE_CASES))
def test_line_rule(when):
    """The request breaks this rule and no rule before it, and gets the verdict."""
    changes, verdict = LINE_CASES[when]
    request = {**FINE, **changes}
    holds = [bool(_over(request, f"coalesce(({rule.when}), false)"))
             for rule in counting.LINE_RULES]
    assert holds.index(True) == list(LINE_CASES).index(when)
    assert _over(request, counting.LINE_REASON_SQL) == verdict


def test_every_rule_says_why():
    for rule in (*counting.LINE_RULES, *counting.GROUP_RULES, counting.DAY_RULE):
        assert rule.why.strip(), rule


# --- every rule through the real ingest of a one-line combined log ------------------------


def _line(*, ip: str = "192.0.2.10", stamp: str = "20/Nov/2026:10:00:00 +0000",
          method: str = "GET", path: str = "/show/" + LONG.key, status: int = 200,
          sent: int = LONG.bytes, agent: str = OVERCAST) -> str:
    return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {sent} "-" "{agent}"'


#: A rule -> a log line only it rejects, and what the ingest must report: the rejected
#: lines by reason, and the downloads added.
PIPELINE_CASES = {
    "line: malformed (fields missing)": (
        '192.0.2.10 - - [20/Nov/2026:10:00:00 +0000] "GET /show/x.mp3 HTTP/1.1" 200',
        {"malformed": 1}, 0),
    "line: not_get": (_line(method="HEAD"), {"not_get": 1}, 0),
    "line: bad_status": (_line(status=404, sent=150), {"bad_status": 1}, 0),
    "line: probe": (_line(status=206, sent=2), {"below_threshold": 1}, 0),
    "group: malformed (no such day)": (_line(stamp="31/Feb/2026:10:00:00 +0000"),
                                       {"malformed": 1}, 0),
    "group: malformed (no address)": (_line(ip="999.0.2.10"), {"malformed": 1}, 0),
    "group: unknown_object": (_line(path="/show/art.jpg"), {"unknown_object": 1}, 0),
    "group: bots": (_line(agent=GOOGLEBOT), {"bots": 1}, 0),
    "day: below_threshold": (_line(sent=THRESHOLD - 1), {"below_threshold": 1}, 0),
    "listener: a download": (_line(sent=THRESHOLD), {}, 1),
}


@pytest.mark.parametrize("name", list(PIPELINE_CASES))
def test_rule_through_the_ingest(name, tmp_path):
    line, rejected, downloads = PIPELINE_CASES[name]
    log = tmp_path / "access.log"
    log.write_text(line + "\n")
    report = ingest_sources(make_show(tmp_path / "show"), CATALOG,
                            expand_sources([str(log)]))
    assert report.lines == 1
    assert {reason: n for reason, n in report.rejected.items() if n} == rejected
    assert report.downloads_added == downloads


def test_every_verdict_has_a_case_through_the_ingest():
    """Each reason a rule gives (but ``none``, ``probe`` and ``listener``, told apart
    above) is reported by one of the cases."""
    verdicts = {rule.verdict for rule in (*counting.LINE_RULES, *counting.GROUP_RULES,
                                          counting.DAY_RULE)} - {"none", "probe"}
    reported = {reason for _, rejected, _ in PIPELINE_CASES.values() for reason in rejected}
    assert verdicts == reported == set(counting.REASONS)


def test_the_day_is_utc_so_a_line_near_midnight_counts_on_its_utc_day(tmp_path):
    """IAB v2 counts per UTC day: 23:30 at -0100 is the next day in UTC."""
    log = tmp_path / "access.log"
    log.write_text(_line(stamp="20/Nov/2026:23:30:00 -0100") + "\n")
    show = make_show(tmp_path / "show")
    ingest_sources(show, CATALOG, expand_sources([str(log)]))
    from podcast.stats.store import load_downloads

    assert [d.day for d in load_downloads(show, None, None)] == [
        datetime(2026, 11, 21, tzinfo=UTC).date()]
