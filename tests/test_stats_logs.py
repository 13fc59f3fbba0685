"""Log formats: which one a file is, and how each line becomes a normalised request.

Detection is pure Python on a file's first lines; reading is DuckDB SQL (the same SQL
``podcast stats ingest`` runs), checked here line by line on real log text.
"""

from __future__ import annotations

import gzip

import duckdb
import pytest
from stats_fixtures import (
    APPLE,
    CLOUDFRONT_FIELDS,
    DAY1,
    LONG,
    Request,
    cloudfront_log,
    combined_log,
    ranged,
    s3_log,
)

from podcast.stats import logs
from podcast.stats.scan import content_bytes, scan_bytes
from podcast.stats.sources import Source

REQUESTS = [
    ranged(DAY1, "192.0.2.10", APPLE, 0, 2),
    Request(DAY1, "2001:db8:1:2::10", "Pod \u00e9 agent", method="HEAD", status=200),
    Request(DAY1, "192.0.2.11", "", status=304),
]


@pytest.mark.parametrize(("text", "fmt"), [
    (s3_log(REQUESTS), logs.S3),
    (cloudfront_log(REQUESTS), logs.CLOUDFRONT),
    (combined_log(REQUESTS), logs.COMBINED),
    ("garbage first\n\x00\x01\n" + s3_log(REQUESTS), logs.S3),  # a bad top is tolerated
])
def test_formats_are_detected_from_the_first_lines(text, fmt):
    sniffed = logs.sniff(text.encode())
    assert sniffed is not None and sniffed.format == fmt


def test_cloudfront_detection_keeps_the_fields_header():
    sniffed = logs.sniff(cloudfront_log(REQUESTS).encode())
    assert sniffed.fields == tuple(CLOUDFRONT_FIELDS)


@pytest.mark.parametrize("text", [
    b"", b"hello world\n", b"#Fields: date time\n1 2\n", bytes(range(256)) * 4,
    b'{"json": "lines"}\n',
])
def test_anything_else_is_no_known_format(text):
    assert logs.sniff(text) is None


def read(tmp_path, text: str, fmt: str, robust: bool = False) -> list[tuple]:
    """The normalised request rows DuckDB reads from ``text`` in format ``fmt``."""
    path = tmp_path / "log"
    path.write_text(text)
    sniffed = logs.sniff(text.encode())
    assert sniffed.format == fmt
    source = logs.read_csv_sql([str(path)], sniffed, compression="none", robust=robust)
    return duckdb.execute(
        f"SELECT day_text, ip, ua, method, path, status, sent, complete "
        f"FROM ({logs.normalised_sql(source, sniffed, robust=robust)})").fetchall()


@pytest.mark.parametrize("robust", [False, True], ids=["fast-reader", "line-safe-reader"])
def test_s3_lines_become_requests(tmp_path, robust):
    rows = read(tmp_path, s3_log(REQUESTS), logs.S3, robust)
    assert rows == [
        ("20/Nov/2026", "192.0.2.10", APPLE, "GET", "show/" + LONG.key, 206, 2, True),
        ("20/Nov/2026", "2001:db8:1:2::10", "Pod \u00e9 agent", "HEAD", "show/" + LONG.key,
         200, 0, True),
        ("20/Nov/2026", "192.0.2.11", "-", "GET", "show/" + LONG.key, 304, 0, True),
    ]


@pytest.mark.parametrize("robust", [False, True], ids=["fast-reader", "line-safe-reader"])
def test_combined_lines_become_requests(tmp_path, robust):
    rows = read(tmp_path, combined_log(REQUESTS), logs.COMBINED, robust)
    assert [row[:4] + row[5:] for row in rows] == [
        ("20/Nov/2026", "192.0.2.10", APPLE, "GET", 206, 2, True),
        ("20/Nov/2026", "2001:db8:1:2::10", "Pod \u00e9 agent", "HEAD", 200, 0, True),
        ("20/Nov/2026", "192.0.2.11", "-", "GET", 304, 0, True),
    ]
    assert rows[0][4] == f"/show/{LONG.key}?from=feed"


def test_cloudfront_lines_become_requests(tmp_path):
    rows = read(tmp_path, cloudfront_log(REQUESTS), logs.CLOUDFRONT)
    assert rows[0] == ("2026-11-20", "192.0.2.10", APPLE.replace(" ", "%20"), "GET",
                       "/" + LONG.key, 206, 2, True)
    assert [r[5] for r in rows] == [206, 200, 304]


def test_cloudfront_body_bytes_are_the_logged_range_not_the_headers(tmp_path):
    # sc-bytes counts the response headers too; a 0-1 probe sent 2 body bytes.
    text = cloudfront_log([ranged(DAY1, "192.0.2.10", APPLE, 0, 2)])
    fields = text.splitlines()[2].split("\t")
    fields[CLOUDFRONT_FIELDS.index("sc-bytes")] = "412"
    rows = read(tmp_path, "\n".join(text.splitlines()[:2] + ["\t".join(fields)]) + "\n",
                logs.CLOUDFRONT)
    assert rows[0][6] == 2


def test_local_times_are_moved_to_the_utc_day(tmp_path):
    text = (f'192.0.2.5 - - [21/Nov/2026:00:30:00 +0100] "GET /{LONG.key} HTTP/1.1" 200 5 '
            f'"-" "A"\n'
            f'192.0.2.5 - - [20/Nov/2026:23:30:00 -0100] "GET /{LONG.key} HTTP/1.1" 200 5 '
            f'"-" "A"\n')
    assert [row[0] for row in read(tmp_path, text, logs.COMBINED)] == [
        "20/Nov/2026", "21/Nov/2026"]


def test_a_line_cut_short_is_incomplete(tmp_path):
    text = s3_log(REQUESTS[:1]) + s3_log(REQUESTS[:1]).split('"-"')[0] + "\n"
    rows = read(tmp_path, text, logs.S3, robust=True)
    assert [row[7] for row in rows] == [True, False]


def gunzip_tolerant(data: bytes) -> tuple[bytes, bool]:
    """What the ingest reads of a gzip object: its scan, then its content."""
    source = Source(name="access.log.gz", size=len(data), stamp="etag")
    content = scan_bytes(data, source)
    return content_bytes(source, data, content), content.damaged


def test_gzip_cut_short_keeps_whole_lines_and_marks_the_damage():
    data = gzip.compress(s3_log(REQUESTS * 200).encode(), mtime=0)
    text, damaged = gunzip_tolerant(data[: len(data) // 2])
    assert damaged
    lines = text.splitlines()
    assert lines[-1] == b"\x00truncated"
    assert all(line.startswith(b"79a59d") for line in lines[:-1])
    whole, damaged = gunzip_tolerant(data + data)  # two members, as `cat a.gz b.gz`
    assert not damaged and whole == s3_log(REQUESTS * 200).encode() * 2
