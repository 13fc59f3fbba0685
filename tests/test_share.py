"""Ambassador reach: `podcast share` links, measured by `podcast stats report --by via`.

End to end as a marketer and two listeners live it: the demo show is published to a folder
(`podcast feed --upload` writes its pages), served by `podcast serve`; `podcast share` prints
the links; headless Chromium opens them and plays the episode; the serve log is ingested
and `report --by via` must show, under the right code, the page visit, the download and
whether the listener was new that month.  The same requests, written as an S3 server
access log and as a CloudFront log, must give the same rows.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from stats_fixtures import OWNER, podcast_cli

from podcast.share import code_from_name

PODCAST = str(Path(sys.executable).with_name("podcast"))
#: Browsers as listeners have them (HeadlessChrome is on the crawler lists: a bot).
DESKTOP = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Mobile Safari/537.36")
TABLET = ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


# --- the links ------------------------------------------------------------------------------


def share(config: Path, *args: str) -> dict[str, str]:
    """`podcast share …` as {who: url}."""
    lines = podcast_cli(config, "share", *args).splitlines()
    return dict(re.fullmatch(r"(.+?)\s+(http\S+)", line).groups() for line in lines)


def test_one_link_per_guest_by_default(demo_show: Path) -> None:
    assert share(demo_show, "002-marc-olivier") == {
        "Marc Olivier": "http://127.0.0.1:8000/episodes/002-marc-olivier.html?via=marc-olivier"}


def test_named_channels_get_their_own_links(demo_show: Path) -> None:
    links = share(demo_show, "001-sonia-mamin", "--via", "newsletter", "--via", "linkedin")
    assert links == {code: f"http://127.0.0.1:8000/episodes/001-sonia-mamin.html?via={code}"
                     for code in ("newsletter", "linkedin")}


@pytest.mark.parametrize("bad", ["LinkedIn", "-x", "a b", "x" * 41, "new<script>", ""])
def test_a_bad_code_is_refused_with_the_fix(demo_show: Path, bad: str) -> None:
    from click.testing import CliRunner

    from podcast.cli import main

    result = CliRunner().invoke(main, ["--config", str(demo_show), "share",
                                       "001-sonia-mamin", "--via", bad])
    assert result.exit_code == 1
    assert "--via" in result.output and "not a share-link code" in result.output
    assert "fix: use 1 to 40 lowercase letters" in result.output
    assert "http" not in result.output  # nothing half-printed


def test_codes_from_names_are_plain_and_short() -> None:
    assert code_from_name("Hélène Çelik-Dupont") == "helene-celik-dupont"
    assert code_from_name("  O'Brien & Co. ") == "o-brien-co"
    assert code_from_name("Ana " + "x" * 60) == "ana-" + "x" * 36
    assert code_from_name("李明") == ""


def test_guests_with_hostile_or_equal_names_get_distinct_safe_codes(demo_show: Path) -> None:
    episode = demo_show.parent / "episodes" / "002-marc-olivier" / "episode.md"
    text = episode.read_text(encoding="utf-8").replace(
        '  - {name: Marc Olivier, title: "Organisateur de congrès médicaux"}',
        '  - {name: Marc Olivier}\n  - {name: "MARC  olivier"}\n'
        '  - {name: "<script>alert(1)</script>&via=evil"}')
    episode.write_text(text, encoding="utf-8")
    links = share(demo_show, "002-marc-olivier")
    codes = [urlsplit(url).query for url in links.values()]
    assert codes == ["via=marc-olivier", "via=marc-olivier-2", "via=script-alert-1-script-via-evil"]


def test_an_episode_without_guests_needs_a_channel(demo_show: Path) -> None:
    from click.testing import CliRunner

    from podcast.cli import main

    episode = demo_show.parent / "episodes" / "003-claire-dubois" / "episode.md"
    text = episode.read_text(encoding="utf-8")
    episode.write_text(re.sub(r"guests:\n(  .*\n)+", "", text), encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(demo_show), "share",
                                       "003-claire-dubois"])
    assert result.exit_code == 1
    assert "no guests" in result.output and "--via newsletter" in result.output


# --- end to end: share -> Chromium -> podcast serve -> ingest -> report --by via ------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(published, tmp_path: Path) -> Iterator[tuple[Path, str, Path]]:
    """The demo show published and served by `podcast serve`; (config, base URL, log)."""
    from podcast.storage import open_store, write_catalog

    config = published.show.config_path
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^base_url: .*$", f"base_url: {base}", text),
                      encoding="utf-8")
    write_catalog(open_store(published.show.storage, published.show.root), published.catalog)
    podcast_cli(config, "feed", "--upload", "--now", "2026-12-01T00:00:00+00:00")
    log = tmp_path / "serve.log"
    server = subprocess.Popen([PODCAST, "--config", str(config), "serve", "--port",
                               str(port), "--log", str(log)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/index.html", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield config, base, log
    finally:
        server.terminate()  # serve writes the lines of requests in flight, then exits
        server.wait(timeout=30)




def listen(browser, url: str, agent: str, play: bool = True) -> list[str]:
    """Open ``url`` as a listener with ``agent`` and play the episode to its end (or, with
    ``play=False``, only read the page until the network is idle); returns the console
    errors."""
    context = browser.new_context(user_agent=agent)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        if play:
            page.evaluate("document.querySelector('audio').play()")
            page.wait_for_function("document.querySelector('audio').ended", timeout=30_000)
    finally:
        context.close()
    return errors


@pytest.fixture
def shared_and_played(served, browser) -> tuple[Path, Path, dict[str, str]]:
    """Marc Olivier shares his link, a newsletter carries Sonia's.  A phone listener plays
    Claire's episode from its page without a code, then Sonia's through the newsletter;
    a desktop listener comes through Marc's link; a tablet opens Marc's link too but never
    presses play (a visit, no download: the page fetches no audio before play)."""
    config, base, log = served
    marc = share(config, "002-marc-olivier")["Marc Olivier"]
    newsletter = share(config, "001-sonia-mamin", "--via", "newsletter")["newsletter"]
    assert not listen(browser, f"{base}/episodes/003-claire-dubois.html", PHONE)
    assert not listen(browser, newsletter, PHONE)
    assert not listen(browser, marc, DESKTOP)
    assert not listen(browser, marc, TABLET, play=False)
    return config, log, {"marc": marc, "newsletter": newsletter}


def via_rows(config: Path) -> list[dict]:
    return json.loads(podcast_cli(config, "stats", "report", "--format", "json", "--by",
                                  "via"))["rows"]


# Both listeners are new this month: downloads are counted per UTC day, so the phone's
# first day of the month (Claire's episode, then the newsletter's link) counts for the
# link too.  A listener seen on an earlier day is not new: test_stats_via.py.  The tablet
# that only read Marc's page is a visit and nothing else.
EXPECTED_ROWS = [
    {"via": "marc-olivier", "page_visits": 2, "downloads": 1, "new_listeners": 1,
     "episodes": 1},
    {"via": "newsletter", "page_visits": 1, "downloads": 1, "new_listeners": 1,
     "episodes": 1},
]


def test_the_visit_the_download_and_the_new_listener_come_under_their_code(
        shared_and_played, served) -> None:
    config, log, _links = shared_and_played
    served_lines = log_after_serve_stops(served)
    podcast_cli(config, "stats", "ingest", str(log))
    assert via_rows(config) == EXPECTED_ROWS
    data = json.loads(podcast_cli(config, "stats", "report", "--format", "json"))
    assert data["total"]["downloads"] == 3  # Claire's (no code), Sonia's and Marc's
    # What the rows stand on: the pages answered 200 with the code in their query string.
    pages = [r for r in parsed(served_lines) if ".html" in r["path"] and "via=" in r["query"]]
    assert sorted((r["query"], r["status"]) for r in pages) == [
        ("via=marc-olivier", "200"), ("via=marc-olivier", "200"), ("via=newsletter", "200")]


def log_after_serve_stops(served) -> list[str]:
    """The serve log once every request has been logged (Chromium may still be reading
    when the page closes: wait for the lines to stop growing)."""
    _config, _base, log = served
    previous = -1
    for _ in range(50):
        size = log.stat().st_size
        if size == previous:
            break
        previous = size
        time.sleep(0.2)
    return log.read_text(encoding="utf-8").splitlines()


def test_the_page_passes_the_code_on_to_its_audio_request(shared_and_played,
                                                          served) -> None:
    # The contract with the page (feed_templates/site_episode.html.j2, site_player.js):
    # opened as episodes/<slug>.html?via=CODE, its player asks for <media>?via=CODE once
    # play is pressed, and for nothing before.
    lines = log_after_serve_stops(served)
    media = [line for line in lines if "/media/" in line and ".mp3" in line]
    assert not any(TABLET in line for line in media)
    assert any("/media/002-marc-olivier-" in line and ".mp3?via=marc-olivier " in line
               for line in media)
    assert any(".mp3?via=newsletter " in line for line in media)
    assert not any("?via=" in line for line in media if "003-claire" in line)


# --- the same requests from an S3 server access log and a CloudFront log --------------------

COMBINED = re.compile(r'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) '
                      r'(?P<target>\S+) (?P<proto>[^"]+)" (?P<status>\d+) (?P<sent>\d+) '
                      r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"')


def parsed(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        found = COMBINED.fullmatch(line)
        assert found, line
        item = found.groupdict()
        item["when"] = datetime.strptime(item["time"], "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
        item["path"], _, item["query"] = item["target"].partition("?")
        out.append(item)
    return out


def as_s3(requests: list[dict]) -> str:
    """S3 server access log lines: the key without the query; the request-URI with it."""
    out = []
    for r in requests:
        key = r["path"].lstrip("/")
        stamp = r["when"].strftime("[%d/%b/%Y:%H:%M:%S +0000]")
        operation = f"REST.{r['method']}.OBJECT"
        out.append(f"{OWNER} show-bucket {stamp} {r['ip']} - 3E57427F3EXAMPLE {operation} "
                   f"{key} \"{r['method']} {r['target']} {r['proto']}\" {r['status']} - "
                   f"{r['sent'] if r['sent'] != '0' else '-'} 2000000 70 10 "
                   f"\"{r['referer']}\" \"{r['agent']}\" - abc= SigV4 "
                   f"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader s3.example TLSv1.2 - -\n")
    return "".join(out)


CLOUDFRONT_FIELDS = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) "
                     "cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query").split()


def as_cloudfront(requests: list[dict]) -> str:
    """CloudFront lines: the query in cs-uri-query; referer and agent URL-encoded."""
    head = "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_FIELDS) + "\n"
    rows = []
    for r in requests:
        values = [r["when"].strftime("%Y-%m-%d"), r["when"].strftime("%H:%M:%S"), "CDG50-C1",
                  r["sent"], r["ip"], r["method"], "d111111abcdef8.cloudfront.net",
                  r["path"], r["status"], quote(r["referer"], safe="/:") or "-",
                  quote(r["agent"], safe="/;:,()"), r["query"] or "-"]
        rows.append("\t".join(values) + "\n")
    return head + "".join(rows)


@pytest.mark.parametrize("fmt", ["s3", "cloudfront"])
def test_s3_and_cloudfront_logs_of_the_same_requests_give_the_same_rows(
        shared_and_played, served, tmp_path: Path, fmt: str) -> None:
    config, _log, _links = shared_and_played
    requests = parsed(log_after_serve_stops(served))
    log = tmp_path / f"access.{fmt}.log"
    log.write_text(as_s3(requests) if fmt == "s3" else as_cloudfront(requests),
                   encoding="utf-8")
    podcast_cli(config, "stats", "ingest", str(log))
    assert via_rows(config) == EXPECTED_ROWS


def test_links_to_a_scheduled_episode_come_with_its_release_time(demo_show: Path) -> None:
    from click.testing import CliRunner

    from podcast.cli import main

    episode = demo_show.parent / "episodes" / "003-claire-dubois" / "episode.md"
    text = episode.read_text(encoding="utf-8")
    episode.write_text(re.sub(r"(?m)^published: .*$", "published: 2099-01-05T07:00:00+01:00",
                              text), encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(demo_show), "share",
                                       "003-claire-dubois"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Claire Dubois  http://127.0.0.1:8000/episodes/")
    assert "goes live at 2099-01-05T07:00:00+01:00" in result.stderr
