"""`podcast stats report --format json` against the contract (SPEC.md), as a JSON Schema.

The schema is written here from SPEC.md's example document, not from the code: scripts are
written against the SPEC, so the real CLI's output (a show whose logs were ingested by
`podcast stats ingest`) must validate, with and without ``--by``, over one calendar month
and over several.  ``total.listeners`` is the month's figure only for a period of exactly
one UTC calendar month, else null; ``listeners_by_month`` gives each month apart.  Extra
keys the report adds (``pacing``, ``not_counted``…) are allowed, as the SPEC's list is
what a script may rely on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from stats_fixtures import DEMO_MEDIA, Request, combined_log, podcast_cli, publish_stand_ins

COUNT = {"type": "integer", "minimum": 0}
MONTH = {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}
DAY = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
REJECTED_KEYS = ("bots", "below_threshold", "not_get", "bad_status", "malformed",
                 "unknown_object")

#: SPEC.md, "podcast stats report --format json", as a JSON Schema (draft 2020-12).
SPEC_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["metric", "window", "since", "until", "total", "listeners_by_month",
                 "episodes", "rejected"],
    "properties": {
        "metric": {"const": "downloads"},
        "window": {"const": "utc-day"},
        "since": DAY,
        "until": DAY,
        "total": {
            "type": "object",
            "required": ["downloads", "listeners"],
            "properties": {"downloads": COUNT,
                           "listeners": {"oneOf": [COUNT, {"type": "null"}]}},
            "additionalProperties": False,
        },
        "listeners_by_month": {
            "type": "array",
            "items": {"type": "object", "required": ["month", "listeners"],
                      "properties": {"month": MONTH, "listeners": COUNT},
                      "additionalProperties": False},
        },
        "episodes": {
            "type": "array",
            "items": {"type": "object", "required": ["slug", "guid", "downloads"],
                      "properties": {"slug": {"type": "string", "minLength": 1},
                                     "guid": {"type": ["string", "null"]},
                                     "downloads": COUNT}},
        },
        "rejected": {
            "type": "object",
            "required": list(REJECTED_KEYS),
            "properties": dict.fromkeys(REJECTED_KEYS, COUNT),
            "additionalProperties": False,
        },
        "platforms": {
            "type": "array",
            "items": {"type": "object", "required": ["platform", "plays"],
                      "properties": {"platform": {"type": "string", "minLength": 1},
                                     "plays": COUNT}},
        },
        "listens": {
            "type": "object",
            "required": ["total", "downloads"],
            "additionalProperties": COUNT,
        },
        "rows": {"type": "array", "items": {"type": "object"}},
    },
    # "when platform figures were imported": both or neither.
    "dependentRequired": {"platforms": ["listens"], "listens": ["platforms"]},
}


def schema_with_rows(dimension: str) -> dict:
    """The SPEC schema for ``--by DIMENSION``: ``rows`` required, each keyed by it."""
    schema = json.loads(json.dumps(SPEC_SCHEMA))
    schema["required"].append("rows")
    schema["properties"]["rows"]["items"] = {"type": "object", "required": [dimension]}
    return schema


def validate(document: dict, schema: dict = SPEC_SCHEMA) -> None:
    checker = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(checker.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_itself_is_valid_and_rejects_the_old_shape() -> None:
    """The schema can fail: the shape reports had before issue 19 does not pass."""
    jsonschema.Draft202012Validator.check_schema(SPEC_SCHEMA)
    old = {"metric": "downloads", "window": "utc-day", "since": "2026-11-01",
           "until": "2026-11-30", "total": {"downloads": 3,
                                            "listeners_by_month": {"2026-11": 2}},
           "episodes": [], "rejected": dict.fromkeys(REJECTED_KEYS, 0)}
    with pytest.raises(AssertionError, match="listeners"):
        validate(old)
    with pytest.raises(AssertionError, match="listens"):
        validate(old | {"total": {"downloads": 3, "listeners": 2},
                        "listeners_by_month": [], "platforms": []})


# --- a show measured end to end -------------------------------------------------------------

FIRST, LAST = date(2026, 11, 9), date(2026, 12, 12)
AGENTS = ("Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0",
          "AppleCoreMedia/1.0.0.21B101 (iPhone; U; CPU OS 17_1 like Mac OS X)",
          "Spotify/8.8.56 Android/33 (SM-G991B)",
          "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)")
SLUGS = ("001-sonia-mamin", "002-marc-olivier")


def traffic() -> list[Request]:
    """Five weeks over November and December: on day n, listeners n % 7 … n % 7 + 4 each
    fetch a whole episode (the same people come back, so months overlap)."""
    requests = []
    day = FIRST
    while day <= LAST:
        n = (day - FIRST).days
        for person in range(n % 7, n % 7 + 5):
            when = datetime(day.year, day.month, day.day, 9, person, tzinfo=UTC)
            media = DEMO_MEDIA[SLUGS[(n + person) % 2]]
            requests.append(Request(when, f"198.51.100.{person + 1}",
                                    AGENTS[person % len(AGENTS)], media.key, sent=2_000_000))
        day += timedelta(days=1)
    return requests


def listeners_per_month(requests: list[Request], since: date, until: date) -> dict[str, int]:
    """Distinct (address, agent) per UTC month, counted here from the requests."""
    seen: dict[str, set] = defaultdict(set)
    for r in requests:
        if since <= r.when.date() <= until:
            seen[f"{r.when:%Y-%m}"].add((r.ip, r.agent))
    return {month: len(people) for month, people in sorted(seen.items())}


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Request]]:
    """A copy of the demo show with :func:`traffic` ingested by the CLI."""
    import shutil

    root = tmp_path_factory.mktemp("schema")
    repo = Path(__file__).resolve().parent.parent
    for name in ("assets", "episodes"):
        shutil.copytree(repo / name, root / name)
    shutil.copy(repo / "podcast.yaml", root / "podcast.yaml")
    config = root / "podcast.yaml"
    publish_stand_ins(config)
    requests = traffic()
    log = root / "access.log"
    log.write_text(combined_log(requests, path_prefix="/"), encoding="utf-8")
    podcast_cli(config, "stats", "ingest", str(log))
    return config, requests


def report(config: Path, *args: str) -> dict:
    return json.loads(podcast_cli(config, "stats", "report", "--format", "json", *args))


def test_one_calendar_month_gives_its_listeners_as_the_total(measured) -> None:
    config, requests = measured
    data = report(config, "--since", "2026-11-01", "--until", "2026-11-30")
    validate(data)
    (november,) = listeners_per_month(requests, date(2026, 11, 1), date(2026, 11, 30)).items()
    assert data["total"]["listeners"] == november[1] > 0
    assert data["listeners_by_month"] == [{"month": "2026-11", "listeners": november[1]}]
    assert data["total"]["downloads"] == sum(1 for r in requests if r.when.month == 11)


def test_several_months_give_each_month_and_no_total(measured) -> None:
    config, requests = measured
    data = report(config)
    validate(data)
    assert data["total"]["listeners"] is None
    want = listeners_per_month(requests, FIRST, LAST)
    assert data["listeners_by_month"] == [{"month": m, "listeners": n} for m, n in want.items()]
    assert sum(want.values()) > len({(r.ip, r.agent) for r in requests})  # people came back
    assert data["total"]["downloads"] == len(requests)
    assert {e["slug"] for e in data["episodes"]} >= set(SLUGS)


def test_part_of_a_month_is_no_months_figure(measured) -> None:
    config, requests = measured
    data = report(config, "--since", "2026-11-10", "--until", "2026-11-20")
    validate(data)
    assert data["total"]["listeners"] is None
    assert data["listeners_by_month"] == [
        {"month": "2026-11", "listeners": listeners_per_month(
            requests, date(2026, 11, 10), date(2026, 11, 20))["2026-11"]}]


@pytest.mark.parametrize("dimension", ["episode", "day", "app", "guest", "country", "source",
                                       "device", "via", "bot"])
@pytest.mark.parametrize("period", [("--since", "2026-12-01", "--until", "2026-12-31"), ()])
def test_every_by_adds_rows_keyed_by_the_dimension(measured, dimension: str,
                                                   period: tuple[str, ...]) -> None:
    config, _requests = measured
    data = report(config, *period, "--by", dimension)
    validate(data, schema_with_rows(dimension))
    if dimension not in ("via", "bot"):  # no share links, no bots in this traffic
        assert data["rows"], dimension
    assert (data["total"]["listeners"] is None) == (period == ())
    without = report(config, *period)
    assert "rows" not in without
    validate(without)


def test_imported_platform_figures_give_platforms_and_listens(measured,
                                                              tmp_path: Path) -> None:
    """`podcast stats import` of a platform's export adds the SPEC's platforms/listens."""
    import shutil

    source, requests = measured
    shutil.copytree(source.parent, tmp_path / "show")
    config = tmp_path / "show" / source.name
    guids = {e["slug"]: e["guid"] for e in report(config)["episodes"]}
    plays = {("2026-11-20", SLUGS[0]): 120, ("2026-11-21", SLUGS[0]): 80,
             ("2026-12-02", SLUGS[1]): 45}
    export = tmp_path / "spotify.csv"
    export.write_text("date,episode,plays\n" + "".join(
        f"{day},{guids[slug]},{n}\n" for (day, slug), n in plays.items()), encoding="utf-8")
    podcast_cli(config, "stats", "import", "csv", str(export), "--platform", "spotify")

    data = report(config)
    validate(data)
    spotify = next(row for row in data["platforms"] if row["platform"] == "spotify")
    assert spotify["plays"] == sum(plays.values())
    assert data["listens"]["downloads"] == len(requests)
    assert data["listens"]["total"] == len(requests) + sum(plays.values())
    assert data["listens"]["spotify"] == sum(plays.values())  # the parts of listens
    november = report(config, "--since", "2026-11-01", "--until", "2026-11-30", "--by", "app")
    validate(november, schema_with_rows("app"))
    assert next(row["plays"] for row in november["platforms"]
                if row["platform"] == "spotify") == 200
