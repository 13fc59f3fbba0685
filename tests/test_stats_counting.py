"""The IAB counting rules on their own: thresholds, addresses, media keys, agents, hashes.

Each rule is a pure function (or an SQL expression over plain values); the ingest tests
check that the rules hold end to end on real log files.
"""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_fixtures import CATALOG, LONG, RETIRED, SHORT, THRESHOLD

from podcast.model import Media
from podcast.stats import agents, counting


def test_threshold_is_tag_plus_one_minute_of_audio():
    assert counting.threshold(LONG) == THRESHOLD == 50_000 + 12_000 * 60


def test_threshold_of_a_file_shorter_than_a_minute_is_the_whole_file():
    assert counting.threshold(SHORT) == SHORT.bytes == 500_000


def test_threshold_of_a_file_of_unknown_size_is_tag_plus_one_minute():
    unknown = Media(slug="x", key="media/x.mp3", bytes=0, sha256="", duration=0.0,
                    tag_size=1_000, bitrate=128_000, input_hash="")
    assert counting.threshold(unknown) == 1_000 + 16_000 * 60


@pytest.mark.parametrize(("ip", "address"), [
    ("192.0.2.10", "192.0.2.10"),
    ("2001:db8:1:2::10", "2001:db8:1:2::/64"),
    ("2001:0db8:0001:0002:aaaa:bbbb:cccc:0020", "2001:db8:1:2::/64"),
    ("[2001:db8:1:2::10]", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.10", "192.0.2.10"),  # IPv4-mapped: the IPv4 listener
    ("not-an-ip", None),
    ("", None),
    ("300.1.1.1", None),
])
def test_listener_address_cuts_ipv6_to_its_64(ip, address):
    assert counting.listener_address(ip) == address


@settings(deadline=None)  # duckdb's first query on a busy machine: no time limit
@given(st.one_of(st.ip_addresses(v=4).map(str),
                 st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,4}){3}\Z"),
                 st.text(alphabet="0123456789.", max_size=16)))
def test_sql_ipv4_check_agrees_with_the_python_rule(text):
    (sql,) = duckdb.execute(f"SELECT {counting.ipv4_sql('?')}", [text]).fetchone()
    assert sql == (counting.listener_address(text) == text and ":" not in text)


INDEX = counting.media_by_name(CATALOG.all_media())


@pytest.mark.parametrize(("path", "media"), [
    (LONG.key, LONG),                                         # an S3 key at the bucket root
    ("show/" + LONG.key, LONG),                               # under a storage prefix
    ("/show/" + LONG.key + "?from=feed&t=1", LONG),           # a request path with a query
    ("/" + LONG.key.replace("-", "%2D"), LONG),               # URL-encoded
    (RETIRED.key, RETIRED),                                   # an earlier master
    ("/media/other-" + LONG.key.rsplit("/", 1)[1], None),     # same file name, other folder
    ("feed.xml", None),
    ("/", None),
    ("-", None),
    (None, None),
])
def test_logged_paths_match_media_keys_by_suffix(path, media):
    assert counting.match_media(path, INDEX) == media


def test_listener_hash_in_sql_is_hmac_sha256():
    key = bytes(range(32))
    ipad, opad = counting.hmac_pads(key)
    sql = counting.listener_sql("ipad", "opad", "address", "agent")
    (value,) = duckdb.execute(
        f"SELECT {sql} FROM (SELECT ?::BLOB AS ipad, ?::BLOB AS opad, ? AS address, "
        "? AS agent)", [ipad, opad, "2001:db8::/64", "Pod é"]).fetchone()
    assert value == counting.listener_id(key, "2001:db8::/64", "Pod é")
    assert value != counting.listener_id(key, "2001:db8::/64", "Pod e")
    assert value != counting.listener_id(bytes(32), "2001:db8::/64", "Pod é")


def line_reason(method="GET", status=200, sent=1000, complete=True, day_text="20/Nov/2026",
                ip="192.0.2.1") -> str:
    (reason,) = duckdb.execute(
        f"SELECT {counting.LINE_REASON_SQL} FROM (SELECT ?::VARCHAR AS method, "
        "?::INTEGER AS status, ?::BIGINT AS sent, ?::BOOLEAN AS complete, "
        "?::VARCHAR AS day_text, ?::VARCHAR AS ip)",
        [method, status, sent, complete, day_text, ip]).fetchone()
    return reason


@pytest.mark.parametrize(("line", "reason"), [
    ({}, "ok"),
    ({"status": 206, "sent": 300_000}, "ok"),
    ({"status": 206, "sent": 2}, "probe"),        # bytes=0-1
    ({"status": 206, "sent": 1}, "probe"),
    ({"status": 206, "sent": 3}, "ok"),
    ({"status": 200, "sent": 0}, "ok"),           # counts 0 bytes, not a probe
    ({"method": "HEAD"}, "not_get"),
    ({"method": "HEAD", "status": 404}, "not_get"),
    ({"status": 304}, "bad_status"),
    ({"status": 416}, "bad_status"),
    ({"status": 500}, "bad_status"),
    ({"status": None}, "malformed"),
    ({"sent": None}, "malformed"),
    ({"complete": False}, "malformed"),
    ({"ip": ""}, "malformed"),
    ({"day_text": None}, "malformed"),
])
def test_line_level_rules(line, reason):
    assert line_reason(**line) == reason


@pytest.mark.parametrize(("agent", "app", "device", "bot"), [
    ("AppleCoreMedia/1.0.0.21A5326a (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)",
     "AppleCoreMedia", "iPhone", False),
    ("Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0", "Apple Podcasts",
     "Apple (iPhone, iPad or Mac)", False),
    ("Spotify/8.8.56 iOS/17.0 (iPhone15,2)", "Spotify", "iPhone", False),
    ("Spotify/1.0", "Spotify (cache)", "Unknown", True),
    ("Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", "Overcast", "iPhone", False),
    ("Overcast/1.0 Podcast Sync (123 subscribers; feed-id=1; +http://overcast.fm/)",
     "Overcast (sync)", "Unknown", True),
    ("PocketCasts/1.0 (Pocket Casts - Android v7.45)", "Pocket Casts", "Android", False),
    ("CastBox/8.2.1 (fm.castbox.audiolite; build:1; Android 11) okhttp/4.9.1", "CastBox",
     "Android", False),
    ("okhttp/4.9.3", "okhttp", "Unknown", False),
    ("AntennaPod/3.2.0", "AntennaPod", "Unknown", False),
    ("atc/1.0 watchOS/9.1 model/Watch6,2 hwp/t8301 build/20S75 (6; dt:275) AMS/1",
     "Apple Watch (duplicate)", "Watch", True),
    ("(null)/(null) watchOS/9.1 model/Watch6,2 hwp/t8301 build/20S75 (6; dt:275)",
     "Apple Watch (duplicate)", "Watch", True),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Bot",
     "Unknown", True),
    ("curl/8.4.0", "Bot", "Unknown", True),              # from crawler-user-agents
    ("python-requests/2.31.0", "Bot", "Unknown", True),
    ("", "(empty)", "Unknown", True),
    ("-", "(empty)", "Unknown", True),
    (None, "(empty)", "Unknown", True),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Safari/605.1.15", "Safari", "Mac", False),
    ("SomethingNew/1.0", "Other", "Unknown", False),
    # A listener whose phone model has "BOT" in capitals: no list calls that a bot.
    ("Spotify/8.9.86.551 Android/33 (CUBOT KINGKONG 7)", "Spotify", "Android", False),
    # ...while the self-declared robots the lists write still are.
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Bot",
     "Unknown", True),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "Bot", "Unknown",
     True),
    ("Slackbot 1.0 (+https://api.slack.com/robots)", "Bot", "Unknown", True),
    ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
     "Bot", "Unknown", True),
    ("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
     "Bot", "Unknown", True),
    # IAB's Apple Watch rule is "contains", wherever the string sits.
    ("AppleCoreMedia/1.0 atc/1.0 watchOS/9.1 model/Watch6,2", "Apple Watch (duplicate)",
     "Watch", True),
])
def test_user_agents(agent, app, device, bot):
    assert agents.classify(agent) == agents.Agent(app, device, bot)


def test_every_reason_is_named_once_in_checking_order():
    assert counting.REASONS == ("malformed", "not_get", "bad_status", "unknown_object",
                                "bots", "below_threshold")


# --- OPAWG user-agents-v2 lists (--agents) ------------------------------------------------

def opawg(folder, kind: str, *entries: tuple[str, str], name: str | None = None):
    """Write an OPAWG list (``{"entries": [{"name", "pattern"}]}``) as the repository does."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{kind}.json")
    path.write_text(json.dumps({"entries": [{"name": n, "pattern": p, "examples": []}
                                            for n, p in entries]}))
    return path


def test_opawg_lists_are_checked_before_ours_of_the_same_kind(tmp_path):
    src = tmp_path / "user-agents-v2" / "src"
    opawg(src, "apps", ("Apple Podcasts (OPAWG)", r"^Podcasts/"), ("Podnews Player", "^Pnp/"))
    opawg(src, "bots", ("Podcast Index crawler", r"^PodIdx/"))
    opawg(src, "libraries", ("Lavf (OPAWG)", r"^Lavf/"))
    opawg(src, "browsers", ("Arc", r" Arc/"))
    opawg(src, "devices", ("Apple TV", r"AppleTV"))
    opawg(src, "referrers", ("Ignored", "^x"))  # not an agent list: left alone
    extra = agents.load_opawg([src])

    def check(agent):
        return agents.classify(agent, extra)

    assert check("Podcasts/1650.20 CFNetwork/1408.0.4") == agents.Agent(
        "Apple Podcasts (OPAWG)", "Unknown")
    assert check("Pnp/2.0 (iPhone)") == agents.Agent("Podnews Player", "iPhone")
    assert check("PodIdx/1.0") == agents.Agent("Podcast Index crawler", "Unknown", bot=True)
    assert check("Lavf/60.3.100") == agents.Agent("Lavf (OPAWG)", "Unknown")
    assert check("Mozilla/5.0 (Macintosh) Chrome/119.0 Arc/1.2") == agents.Agent("Arc", "Mac")
    assert check("AppleCoreMedia/1.0 (AppleTV; U)").device == "Apple TV"
    # Our own rules still hold where the lists say nothing.
    assert check("Spotify/1.0") == agents.Agent("Spotify (cache)", "Unknown", bot=True)
    assert check("Overcast/3.0 (+http://overcast.fm/)").app == "Overcast"
    assert agents.classify("Pnp/2.0 (iPhone)") == agents.Agent("Other", "iPhone")


def test_opawg_build_folder_prefers_the_runtime_files(tmp_path):
    build = tmp_path / "build"
    opawg(build, "apps", ("From runtime", "^Pnp/"), name="apps.runtime.json")
    opawg(build, "apps", ("From examples", "^Pnp/"), name="apps.examples.json")
    assert agents.classify("Pnp/1", agents.load_opawg([build])).app == "From runtime"


@pytest.mark.parametrize(("content", "name", "message"), [
    ('{"entries": [{"name": "X", "pattern": "(unclosed"}]}', "apps.json",
     "entry 1 (X): the pattern is not a regular expression"),
    ('{"entries": [{"name": "X"}]}', "bots.json", "entry 1 has no name and pattern"),
    ('{"apps": []}', "apps.json", "cannot read this OPAWG list"),
    ("not json", "apps.json", "cannot read this OPAWG list"),
    ('{"entries": []}', "agents.json", "not an OPAWG list name"),
])
def test_a_bad_opawg_list_is_a_clear_error(tmp_path, content, name, message):
    from podcast.errors import PodcastError

    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PodcastError, match=message.replace("(", r"\(").replace(")", r"\)")
                       ) as caught:
        agents.load_opawg([path])
    assert caught.value.file == str(path) and caught.value.field == "--agents"
    assert caught.value.fix


def test_a_folder_without_opawg_lists_is_a_clear_error(tmp_path):
    from podcast.errors import PodcastError

    with pytest.raises(PodcastError, match="no OPAWG list in this folder"):
        agents.load_opawg([tmp_path])


@pytest.mark.parametrize(("logged", "agent"), [
    # CloudFront logs seen in the wild write some agents encoded twice.
    ("Overcast/1.0%2520Podcast%2520Sync", "Overcast/1.0 Podcast Sync"),
    ("(null)/(null)%2520watchOS/9.1%2520model/Watch6,2",
     "(null)/(null) watchOS/9.1 model/Watch6,2"),
    ("AntennaPod/3.2.0%20(Android%2014)", "AntennaPod/3.2.0 (Android 14)"),
    ("Slackbot%201.0%20(+https://api.slack.com/robots)",
     "Slackbot 1.0 (+https://api.slack.com/robots)"),  # a + stays a +
    ("100%", "100%"),  # not an escape: left alone
    ("a%25252525252520b", "a%25252520b"),  # bounded: three rounds, never a loop
])
def test_encoded_agents_are_decoded_until_stable_within_a_bound(logged, agent):
    assert agents.decode(logged) == agent
