"""Issue 24: the messages a new user meets first. Placeholders left from ``podcast init``
and a loopback base_url are warned about by validate, doctor and share (each naming the
file, the line, the key and the fix); a date that does not exist or lacks an offset is
refused with its key, its line and a correct example; an unknown key gets "did you mean"
by edit distance, not only by case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from podcast.cli import main
from podcast.config import closest_key, edit_distance, load_episode, load_show
from podcast.doctor import Check, config_warnings
from podcast.errors import ConfigError
from podcast.scaffold import PLACEHOLDERS, init_show
from podcast.validate import CONFIG_RULES, config_findings, is_loopback_url

PLACEHOLDER = "is the placeholder `podcast init` wrote"
LOOPBACK = ("is this computer's own address: podcast apps and listeners cannot reach it "
            "(links and the feed made from it work only here)\n  fix: keep it for testing "
            "with `podcast serve`; before sharing links or submitting the feed, write the "
            "public URL the storage is served at, e.g. `base_url: https://media.yourshow.com`")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drifted: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, start: str) -> int:
    """The line (from 1) of ``path`` that starts with ``start`` once indented text is
    stripped: found here by reading the text, not by the YAML parser under test."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(lines, 1) if line.strip().startswith(start)]
    assert len(found) == 1, (start, found)
    return found[0]


def cli(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args])


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """A show just made by ``podcast init``: its podcast.yaml."""
    init_show(tmp_path, title="Brand New Show")
    return tmp_path / "podcast.yaml"


def expected_warnings(config: Path) -> list[str]:
    """Every warning a fresh show gets, written out from the scaffold's text."""
    file = config.resolve()
    description = PLACEHOLDERS["description"]
    return [
        f"warning: [placeholder] {file}: line {line_of(config, 'description:')}: "
        f"description: {description!r} {PLACEHOLDER}\n  fix: write what listeners get from "
        "the show and how often (apps show it under the title; up to 4000 bytes)",
        f"warning: [placeholder] {file}: line {line_of(config, 'email:')}: email: "
        f"you@example.com {PLACEHOLDER}\n  fix: write your own address: Apple and Spotify "
        "send the show's ownership codes there",
        f"warning: [placeholder] {file}: line {line_of(config, 'link:')}: link: "
        f"https://example.com {PLACEHOLDER}\n  fix: write the show's web site (or the "
        "address of its pages: base_url)",
        f"warning: [placeholder] {file}: line {line_of(config, 'image:')}: image: "
        "artwork.jpg is the placeholder cover `podcast init` made\n  fix: put your cover "
        "there (square JPEG or PNG, 1400-3000 px, RGB) or name it in `image:`",
        f"warning: [placeholder] {file}: line {line_of(config, '- name: Your Name')}: "
        f"hosts[0].name: 'Your Name' {PLACEHOLDER}\n  fix: write the host's name as "
        "listeners should see it on the pages and in the feed",
        f"warning: [loopback] {file}: line {line_of(config, 'base_url:')}: base_url: "
        f"http://127.0.0.1:8000 {LOOPBACK}",
    ]


# --- placeholders and loopback ------------------------------------------------------------


def test_every_placeholder_of_a_fresh_show_is_named_with_its_line_and_fix(fresh: Path):
    findings = config_findings(load_show(fresh))
    assert [str(finding) for finding in findings] == expected_warnings(fresh)
    assert {finding.rule for finding in findings} == set(CONFIG_RULES)


def test_validate_prints_them_before_reading_the_feed(fresh: Path):
    result = cli(fresh, "validate")
    # No feed is built yet: the warnings still come first, then the feed's own error.
    assert result.output.startswith("\n".join(expected_warnings(fresh)) + "\n")
    assert "feed file not found" in result.output and result.exit_code == 1


def test_doctor_shows_them_as_warnings_not_ok(fresh: Path):
    checks = config_warnings(load_show(fresh))
    assert [check.status for check in checks] == ["warn"] * 6
    assert [check.detail for check in checks] == [
        warning.split("] ", 1)[1] for warning in expected_warnings(fresh)]
    assert Check("x", True, "fine").status == "ok" and Check("x", False, "bad").status == "FAIL"


@pytest.mark.slow
def test_doctor_command_prints_warn_lines_and_still_passes(fresh: Path):
    result = cli(fresh, "doctor")
    warned = [line for line in result.output.splitlines() if line.startswith("[warn]")]
    assert len(warned) == 6 and all(line.startswith("[warn] config: ") for line in warned)
    assert f"[warn] config: {fresh.resolve()}: line {line_of(fresh, 'email:')}: email: " \
        f"you@example.com {PLACEHOLDER}" in result.output
    assert result.exit_code == 0, result.output  # warnings do not fail the doctor


def test_share_warns_first_and_still_prints_the_links(demo_show: Path):
    result = cli(demo_show, "share", "002-marc-olivier")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Marc Olivier  http://127.0.0.1:8000/episodes/002-marc-olivier"
                             ".html?via=marc-olivier\n")
    file = demo_show.resolve()
    assert result.stderr.splitlines()[:6] == [
        f"warning: [placeholder] {file}: line {line_of(demo_show, 'email:')}: email: "
        "studio@example.com is at an example domain nobody receives mail for",
        "  fix: write your own address: Apple and Spotify send the show's ownership codes "
        "there",
        f"warning: [placeholder] {file}: line {line_of(demo_show, 'link:')}: link: "
        "https://podcast.example.com is at an example domain, no one's web site",
        "  fix: write the show's web site (or the address of its pages: base_url)",
        f"warning: [loopback] {file}: line {line_of(demo_show, 'base_url:')}: base_url: "
        f"http://127.0.0.1:8000 {LOOPBACK.splitlines()[0]}",
        LOOPBACK.splitlines()[1],
    ]


def test_a_show_with_its_own_values_gets_no_warning(fresh: Path):
    for old, new in [(PLACEHOLDERS["description"], "Interviews with the people behind trade "
                      "fairs, every Monday."),
                     ("you@example.com", "studio@rencontres.fr"),
                     ("https://example.com", "https://rencontres.fr"),
                     ("Your Name", "Julien Morel"),
                     ("http://127.0.0.1:8000", "https://media.rencontres.fr")]:
        edit(fresh, old, new)
    Image.new("RGB", (1400, 1400), (200, 30, 30)).save(fresh.parent / "artwork.jpg")
    assert config_findings(load_show(fresh)) == []
    result = cli(fresh, "validate")
    assert not result.output.startswith("warning")


@pytest.mark.parametrize("url, loopback", [
    ("http://127.0.0.1:8000", True), ("http://127.8.9.10/", True), ("http://localhost", True),
    ("http://LOCALHOST.:8000", True), ("http://show.localhost", True), ("http://[::1]:80", True),
    ("http://0.0.0.0:8000", True), ("https://media.example.org", False),
    ("http://192.168.1.10:8000", False), ("https://localhost.example.org", False),
])
def test_loopback_hosts_are_known_without_dns(url: str, loopback: bool):
    assert is_loopback_url(url) is loopback


def test_a_feed_url_of_its_own_on_loopback_is_named(fresh: Path):
    edit(fresh, "http://127.0.0.1:8000", "https://media.rencontres.fr")
    edit(fresh, "storage: file://public", "storage: file://public\nfeed_url: http://localhost/f.xml")
    loopback = [str(f) for f in config_findings(load_show(fresh)) if f.rule == "loopback"]
    assert loopback == [f"warning: [loopback] {fresh.resolve()}: line "
                        f"{line_of(fresh, 'feed_url:')}: feed_url: http://localhost/f.xml "
                        f"{LOOPBACK}"]


def test_the_scaffolded_target_is_a_year_ahead(fresh: Path):
    target = load_show(fresh).targets[0]
    assert target.by == datetime.now(UTC).date() + timedelta(days=365)
    # December 31 of this year is days away in December: a year leaves room to reach it.
    assert target.by > date(datetime.now(UTC).year, 12, 31)


# --- dates ------------------------------------------------------------------------------


def episode(demo_show: Path) -> Path:
    return demo_show.parent / "episodes" / "001-sonia-mamin" / "episode.md"


def load_error(demo_show: Path) -> str:
    show = load_show(demo_show)
    with pytest.raises(ConfigError) as caught:
        load_episode(show, episode(demo_show).parent)
    return str(caught.value)


def test_a_day_that_does_not_exist_names_the_field_the_line_and_an_example(demo_show: Path):
    path = episode(demo_show)
    edit(path, "published: 2026-11-09T07:00:00+01:00", "published: 2026-12-32T07:00:00+00:00")
    assert load_error(demo_show) == (
        f"{path}: line {line_of(path, 'published:')}: published: 2026-12-32T07:00:00+00:00 "
        "is not a real date (day is out of range for month)\n  fix: write a day that exists "
        "as YYYY-MM-DDTHH:MM:SS with an offset, e.g. `published: 2026-12-31T07:00:00+00:00` "
        "(or quote it if it is text, not a date)")


def test_a_month_that_does_not_exist_in_a_target_names_its_key_path(demo_show: Path):
    edit(demo_show, "by: 2027-06-30", "by: 2027-13-30")
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    assert str(caught.value) == (
        f"{demo_show}: line {line_of(demo_show, 'by: 2027-13-30')}: targets[0].by: "
        "2027-13-30 is not a real date (month must be in 1..12)\n  fix: write a day that "
        "exists as YYYY-MM-DD, e.g. `by: 2026-12-31` (or quote it if it is text, not a date)")


@pytest.mark.parametrize("written", ["2026-12-06T07:00:00", "2026-12-06 07:00"])
def test_a_time_without_offset_is_quoted_as_written(demo_show: Path, written: str):
    path = episode(demo_show)
    edit(path, "published: 2026-11-09T07:00:00+01:00", f"published: {written}")
    message = load_error(demo_show)
    assert message == (
        f"{path.resolve()}: line {line_of(path, 'published:')}: published: {written} has no "
        "time zone, so the moment is ambiguous\n  fix: add its offset from UTC, e.g. "
        f"`published: {written}+00:00` (UTC; `Z` works too), or +01:00 for Paris in winter")
    assert "datetime.datetime" not in message


def test_the_suggested_offset_is_read_as_the_same_moment_in_utc(demo_show: Path):
    path = episode(demo_show)
    edit(path, "published: 2026-11-09T07:00:00+01:00", "published: 2026-12-06T07:00:00+00:00")
    loaded = load_episode(load_show(demo_show), path.parent)
    assert loaded.published == datetime(2026, 12, 6, 7, tzinfo=UTC)
    assert type(loaded.published) is datetime


def test_new_with_a_time_without_offset_says_so_in_the_users_terms(fresh: Path):
    result = cli(fresh, "new", "Jane Doe: on tests", "--published", "2026-12-06T07:00")
    assert result.exit_code != 0
    assert ("--published: 2026-12-06T07:00 has no time zone, so the moment is ambiguous\n"
            "  fix: add its offset from UTC, e.g. `--published 2026-12-06T07:00+00:00`"
            ) in result.output


# --- did you mean -----------------------------------------------------------------------


@pytest.mark.parametrize("a, b, distance", [
    ("", "", 0), ("abc", "", 3), ("catgories", "categories", 1), ("loudnes", "loudness", 1),
    ("titel", "title", 1), ("kitten", "sitting", 3), ("ca", "abc", 3), ("lodunes", "loudness", 2),
])
def test_edit_distance_counts_a_swap_as_one_edit(a: str, b: str, distance: int):
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_close_keys_are_suggested_and_far_or_short_ones_are_not():
    keys = {"categories", "loudness", "url", "img", "title", "type", "by"}
    assert closest_key("catgories", keys) == "categories"
    assert closest_key("Categories", keys) == "categories"
    assert closest_key("lodunes", keys) == "loudness"
    assert closest_key("urn", keys) == "url"  # one edit in a short key
    assert closest_key("ing", keys) == "img"
    assert closest_key("uri", keys) == "url"
    assert closest_key("xyz", keys) is None  # two edits from a 3-letter key: no guess
    assert closest_key("colour", keys) is None
    assert closest_key("x" * 10_000, keys) is None


@pytest.mark.parametrize("old, new, field, meant", [
    ("categories:", "catgories:", "catgories", "categories"),
    ("  loudness: -16", "  loudnes: -16", "audio.loudnes", "loudness"),
])
def test_a_misspelt_show_key_gets_did_you_mean(demo_show: Path, old: str, new: str,
                                                field: str, meant: str):
    edit(demo_show, old, new)
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    assert str(caught.value) == (f"{demo_show.resolve()}: {field}: unknown key\n"
                                 f"  fix: did you mean `{meant}`?")


def test_a_misspelt_episode_key_gets_did_you_mean(demo_show: Path):
    path = episode(demo_show)
    edit(path, "explicit: false", "explcit: false")
    assert load_error(demo_show) == (f"{path.resolve()}: explcit: unknown key\n"
                                     "  fix: did you mean `explicit`?")
