"""Reliability: whatever the network or a crash does, the public feed stays consistent.

The promise (README, "Security and reliability"): during ``podcast publish`` or
``podcast stats ingest``, the stored feed never points at a missing or partial file, and no
download is counted twice or lost.

- Fault injection: a real S3 server (moto) behind :class:`~faulty_proxy.FaultyProxy`, which
  answers 500 and 503 SlowDown, resets connections before and after S3 applied a request,
  and stalls answers.  Publish either succeeds through bounded retries or stops with a clear
  message; either way the stored feed references only complete objects.
- Crash safety: ``podcast publish`` and ``podcast stats ingest`` are killed with SIGKILL at
  random moments, at least 20 times each, and re-run; the end state equals a clean run.
  A process creating the stats database is killed 100 times: the next run always opens it.

Randomness comes from ``PODCAST_TEST_SEED`` (CI runs this file with three seeds); a failure
message always names the seed, so ``PODCAST_TEST_SEED=N pytest tests/test_reliability.py``
replays it.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from faulty_proxy import FAULT_KINDS, FaultyProxy
from reliability_fixtures import (
    NOW,
    BucketView,
    FeedWatcher,
    FolderView,
    combined_lines,
    feed_problems,
    make_tiny_show,
    record,
    rng,
    run_podcast,
    start_podcast,
    store_differences,
    test_seed,
)
from s3_servers import DUMMY_CREDENTIALS, S3Server, moto_s3

from podcast.config import load_show
from podcast.errors import PodcastError, StorageError
from podcast.stats.store import load_downloads, rejected_counts
from podcast.storage import S3Store

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def s3() -> S3Server:
    """One moto S3 server for the module (each test uses its own key prefix)."""
    with moto_s3() as server:
        yield server


def _client(endpoint: str, *, attempts: int, read_timeout: float = 5):
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, read_timeout=read_timeout,
                      connect_timeout=2,
                      retries={"total_max_attempts": attempts, "mode": "standard"}))


# --- the proxy itself: it really injects what it claims --------------------------------------


EXPECTED_ERRORS = {
    "500": ClientError,
    "503": ClientError,
    "reset-request": ConnectionClosedError,
    "reset-response": ConnectionClosedError,
    "stall": ReadTimeoutError,
}


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_the_proxy_injects_each_fault_a_client_without_retries_sees(s3: S3Server,
                                                                     kind: str) -> None:
    with FaultyProxy(s3.endpoint, rate=1.0, kinds=(kind,), stall_seconds=2.0) as proxy:
        client = _client(proxy.endpoint, attempts=1, read_timeout=1)
        with pytest.raises(EXPECTED_ERRORS[kind]) as error:
            client.put_object(Bucket=s3.bucket, Key=f"proxy/{kind}", Body=b"x" * 1000)
    if kind == "503":
        assert error.value.response["Error"]["Code"] == "SlowDown"
    if kind == "500":
        assert error.value.response["Error"]["Code"] == "InternalError"
    # Faults before forwarding leave S3 untouched; faults after it hide an applied write.
    stored = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"proxy/{kind}")
    applied = stored.get("KeyCount", 0) == 1
    assert applied == (kind in ("reset-response", "stall"))
    assert proxy.stats.faults[kind] == 1


def _head_bucket_answers(client, bucket: str, times: int) -> list[str]:
    """``ok`` or the error code of each of ``times`` HEAD Bucket requests, in order."""
    answers = []
    for _ in range(times):
        try:
            client.head_bucket(Bucket=bucket)
            answers.append("ok")
        except ClientError as exc:
            answers.append(exc.response["Error"]["Code"])
    return answers


def test_the_same_seed_injects_the_same_faults(s3: S3Server) -> None:
    sequences = []
    for _ in range(2):
        with FaultyProxy(s3.endpoint, rate=0.5, seed=test_seed(),
                         kinds=("500", "503")) as proxy:
            client = _client(proxy.endpoint, attempts=1)
            sequences.append(_head_bucket_answers(client, s3.bucket, 30))
    assert sequences[0] == sequences[1]
    assert {"ok", "500", "503"} <= set(sequences[0]), sequences[0]


def test_max_faults_bounds_the_injection(s3: S3Server) -> None:
    with FaultyProxy(s3.endpoint, rate=1.0, kinds=("500",), max_faults=3) as proxy:
        client = _client(proxy.endpoint, attempts=1)
        codes = _head_bucket_answers(client, s3.bucket, 6)
    assert codes == ["500"] * 3 + ["ok"] * 3
    assert proxy.stats.requests == 6 and proxy.stats.forwarded == 3


# --- the storage layer through faults ----------------------------------------------------------


def test_s3_store_survives_faults_or_says_why(s3: S3Server, tmp_path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every operation of the product's S3Store, 40 objects, 30 % of requests faulty.

    Each operation either succeeds with the right bytes or raises a StorageError (never a
    raw botocore error), and what the store says it holds is what S3 holds.
    """
    random = rng("s3-store")
    with FaultyProxy(s3.endpoint, rate=0.3, seed=random.randrange(2**32),
                     kinds=("500", "503", "reset-request", "reset-response")) as proxy:
        for name, value in {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": proxy.endpoint}.items():
            monkeypatch.setenv(name, value)
        store = S3Store(s3.bucket, "store-faults")
        written, failures = {}, []
        for index in range(40):
            data = random.randbytes(random.randrange(0, 200_000))
            key = f"media/{index:03d}.mp3"
            try:
                if index % 2:
                    path = tmp_path / f"{index}.bin"
                    path.write_bytes(data)
                    info = store.put_file(key, path, content_type="audio/mpeg",
                                          cache_control="public")
                else:
                    info = store.put_bytes(key, data, content_type="audio/mpeg",
                                           cache_control="public")
                assert info.size == len(data)
                assert store.head(key).size == len(data)
                assert store.get_bytes(key) == data
                written[key] = data
            except StorageError as exc:
                failures.append(str(exc))
                assert "s3://" in str(exc) and "fix:" in str(exc)
    direct = s3.client()
    for key, data in written.items():
        body = direct.get_object(Bucket=s3.bucket, Key=f"store-faults/{key}")["Body"].read()
        assert body == data
    assert proxy.stats.total_faults > 20, proxy.stats
    # 30 % faults and 6 attempts: giving up needs 6 faults in a row (about 1 in 1,400), so
    # a failure here means an operation that is not retried at all, e.g. a GET whose body
    # is cut after the headers arrived (botocore does not retry a broken body stream).
    assert len(failures) <= 1, (failures, proxy.stats, f"seed {test_seed()}")


def test_a_stalled_answer_is_given_up_after_the_read_timeout_and_retried(
        s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that goes silent must cost one read timeout, not hang the publish.

    ``PODCAST_S3_READ_TIMEOUT`` (seconds) shortens the client's read timeout so the test
    needs no minute-long stall; the stalled request was applied by S3, and the retry
    overwrites it with the same bytes.
    """
    with FaultyProxy(s3.endpoint, rate=1.0, kinds=("stall",), max_faults=1,
                     stall_seconds=60) as proxy:
        for name, value in {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": proxy.endpoint,
                            "PODCAST_S3_READ_TIMEOUT": "2"}.items():
            monkeypatch.setenv(name, value)
        store = S3Store(s3.bucket, "stall")
        started = time.monotonic()
        store.put_bytes("feed.xml", b"<rss/>", content_type="application/rss+xml",
                        cache_control="public, max-age=300")
        elapsed = time.monotonic() - started
    assert proxy.stats.faults["stall"] == 1
    # A request that waited for the stall took 60 s; with the 2 s read timeout it retried.
    assert elapsed < 40, f"the stalled request took {elapsed:.1f}s: is the read timeout set?"
    stored = s3.client().get_object(Bucket=s3.bucket, Key="stall/feed.xml")["Body"].read()
    assert stored == b"<rss/>"


# --- podcast publish through faults -----------------------------------------------------------


@pytest.fixture(scope="module")
def show(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny show, published once cleanly to ``s3://BUCKET/clean`` (the reference).

    Its masters stay in ``.podcast/masters``, so the fault runs below only upload.
    """
    folder = tmp_path_factory.mktemp("reliability")
    config = make_tiny_show(folder / "show", storage=f"s3://{s3.bucket}/clean",
                            base_url=f"{s3.endpoint}/{s3.bucket}/site")
    result = run_podcast(config, "publish", "--now", NOW, env=s3.env())
    assert result.returncode == 0, result.stderr
    return config


@pytest.fixture(scope="module")
def reference(s3: S3Server, show: Path) -> dict:
    """What a clean publish stores: every object's size, sha256 and Content-Type."""
    view = BucketView(s3.client(), s3.bucket, "clean")
    snapshot = view.snapshot()
    assert {"feed.xml", "index.html", ".podcast/manifest.json"} <= set(snapshot)
    assert sum(key.endswith(".mp3") for key in snapshot) == 3
    assert feed_problems(view, _base_url(s3)) == []
    return snapshot


def _base_url(s3: S3Server) -> str:
    return f"{s3.endpoint}/{s3.bucket}/site"


def _differences(s3: S3Server, view: BucketView) -> str:
    """Why a store is not the clean reference (for assertion messages), with the seed."""
    clean = BucketView(s3.client(), s3.bucket, "clean")
    return "\n".join([f"seed {test_seed()}", *store_differences(view, clean)])


def _publish_to(config: Path, s3: S3Server, prefix: str, *, endpoint: str | None = None,
                extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**s3.env(), "AWS_ENDPOINT_URL": endpoint or s3.endpoint, **(extra_env or {})}
    return run_podcast(config, "publish", "--storage", f"s3://{s3.bucket}/{prefix}",
                       "--now", NOW, env=env)


def _assert_clear_failure(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.startswith("Error: ") and "fix:" in result.stderr, result.stderr


FAULT_RUNS = [  # (name, fault rate, kinds, must every run succeed through retries?)
    ("light", 0.10, ("500", "503", "reset-request", "reset-response"), True),
    ("slow", 0.20, ("503", "stall"), True),
    ("heavy", 0.35, ("500", "503", "reset-request", "reset-response"), False),
    ("hostile", 0.60, FAULT_KINDS, False),
]


@pytest.mark.parametrize(("name", "rate", "kinds", "must_succeed"), FAULT_RUNS,
                         ids=[run[0] for run in FAULT_RUNS])
def test_publish_through_faults_succeeds_or_says_why_and_the_feed_stays_whole(
        s3: S3Server, show: Path, reference: dict, name: str, rate: float,
        kinds: tuple[str, ...], must_succeed: bool) -> None:
    """Publish through the faulty proxy, twice, then once more on a clean network.

    Each faulty run either ends like a clean publish (same objects, byte for byte) or exits
    1 with ``Error: ... fix: ...``; after every run the stored feed names only complete
    objects; the final clean run always converges on the reference.
    """
    prefix = f"faults-{name}"
    view = BucketView(s3.client(), s3.bucket, prefix)
    random = rng(f"publish-{name}")
    outcomes = []
    for attempt in range(2):
        with FaultyProxy(s3.endpoint, rate=rate, seed=random.randrange(2**32), kinds=kinds,
                         stall_seconds=1.0) as proxy:
            result = _publish_to(show, s3, prefix, endpoint=proxy.endpoint)
        problems = feed_problems(view, _base_url(s3))
        assert problems == [], (problems, f"seed {test_seed()}", attempt, proxy.stats)
        if result.returncode == 0:
            assert view.snapshot() == reference, _differences(s3, view)
        else:
            _assert_clear_failure(result)
            # At these rates six attempts per request make giving up nearly impossible.
            assert not must_succeed, (result.stderr, proxy.stats, f"seed {test_seed()}")
        outcomes.append((result.returncode, proxy.stats.requests, dict(proxy.stats.faults)))
    final = _publish_to(show, s3, prefix)
    assert final.returncode == 0, final.stderr
    assert view.snapshot() == reference, _differences(s3, view)
    assert feed_problems(view, _base_url(s3)) == []
    record("publish-faults", name=name, rate=rate, kinds=kinds, outcomes=outcomes)


def test_an_outage_fails_publish_clearly_after_bounded_retries_and_keeps_the_old_feed(
        s3: S3Server, show: Path, reference: dict) -> None:
    """S3 answers every request with 503 SlowDown: publish gives up after its bounded
    retries with a message that says what to do, and the feed already stored is untouched."""
    prefix = "outage"
    assert _publish_to(show, s3, prefix).returncode == 0
    view = BucketView(s3.client(), s3.bucket, prefix)
    before = view.snapshot()
    with FaultyProxy(s3.endpoint, rate=1.0, kinds=("503",)) as proxy:
        started = time.monotonic()
        result = _publish_to(show, s3, prefix, endpoint=proxy.endpoint)
        elapsed = time.monotonic() - started
    _assert_clear_failure(result)
    assert "SlowDown" in result.stderr or "503" in result.stderr, result.stderr
    # A few attempts of the first request, then the error: retried, but bounded.
    assert 3 <= proxy.stats.requests <= 7, proxy.stats  # bounded by count, not by the clock
    assert view.snapshot() == before == reference
    record("publish-outage", requests=proxy.stats.requests, seconds=round(elapsed, 1),
           exit_status=result.returncode)


# --- podcast publish killed with SIGKILL -------------------------------------------------------

PUBLISH_KILLS = 20


def _kill_at(process: subprocess.Popen, delay: float) -> tuple[bool, str]:
    """SIGKILL ``process`` after ``delay`` seconds unless it ended first.

    Returns whether it was killed, and what it had printed (unbuffered) until then.
    """
    try:
        process.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed = True
    output = process.stdout.read()
    process.stdout.close()
    process.stderr.close()
    return killed, output


def _phase(output: str) -> str:
    """How far a publish got, from its own progress lines."""
    lines = output.splitlines()
    if any(line.startswith("feed:") for line in lines):
        return "after the feed"
    if any(line.startswith("uploaded ") for line in lines):
        return "uploads, manifest, pages, feed"
    if any(line.startswith("mastering ") for line in lines):
        return "mastering"
    return "before the first upload ended"


def test_publish_killed_at_random_moments_never_exposes_a_broken_feed(
        s3: S3Server, show: Path, reference: dict, tmp_path: Path) -> None:
    """SIGKILL ``podcast publish`` at random moments, at least 20 times, re-running it each
    time.  While it runs (checked every 50 ms from a thread) and after every kill, the
    stored feed is whole; the last run ends exactly like a clean publish.

    The first kills hit a show without masters (mastering, then uploads); later ones, with
    masters cached, land among the uploads, the manifest, the pages and the feed.  A run
    that finishes before its kill time empties the store, so kills keep hitting real work.
    """
    folder = tmp_path / "show"
    shutil.copytree(show.parent, folder, symlinks=True)
    config = folder / "podcast.yaml"
    masters = folder / ".podcast" / "masters"
    view = BucketView(s3.client(), s3.bucket, "crash")
    args = ("publish", "--storage", f"s3://{s3.bucket}/crash", "--now", NOW)
    random = rng("publish-kill")

    # How long do the kinds of run take here?  Kill moments are drawn within them.
    started = time.monotonic()
    assert run_podcast(config, *args, env=s3.env()).returncode == 0
    upload_run = time.monotonic() - started
    started = time.monotonic()
    assert "nothing to upload" in run_podcast(config, *args, env=s3.env()).stdout
    startup = time.monotonic() - started  # start-up and reading the store, nothing to do
    view.clear()
    shutil.rmtree(masters)
    started = time.monotonic()
    assert run_podcast(config, *args, env=s3.env()).returncode == 0
    full_run = time.monotonic() - started
    view.clear()
    shutil.rmtree(masters)

    kills = finished = checks = 0
    masters_done = False
    phases: Counter = Counter()
    unbuffered = {**s3.env(), "PYTHONUNBUFFERED": "1"}
    while kills < PUBLISH_KILLS:
        mastering = kills < 5
        if kills == 5 and not masters_done:
            # From here on the masters are cached: kills land among uploads and writes.
            assert run_podcast(config, *args, env=s3.env()).returncode == 0
            view.clear()
            masters_done = True
        assert kills + finished < 4 * PUBLISH_KILLS, (kills, finished, "runs end too early")
        if mastering:
            delay = random.uniform(0.1, full_run)
        else:  # mostly past start-up, into the uploads and writes
            delay = random.uniform(0.9 * startup, 1.05 * max(upload_run, startup))
        started = time.monotonic()
        with FeedWatcher(view, _base_url(s3)) as watch:
            process = start_podcast(config, *args, env=unbuffered)
            killed, output = _kill_at(process, delay)
        assert watch.problems == [], (watch.problems, f"seed {test_seed()}")
        checks += watch.checks
        if killed:
            kills += 1
            phases[_phase(output)] += 1
        else:
            finished += 1
            assert process.returncode == 0
            # Runs are quicker than measured (a quieter machine): aim earlier from now on.
            elapsed = time.monotonic() - started
            if mastering:
                full_run = min(full_run, elapsed)
            else:
                upload_run, startup = min(upload_run, elapsed), min(startup, 0.8 * elapsed)
        if not killed or view.snapshot() == reference:
            # Done (by this run or the killed one): start again so kills hit real work.
            assert view.snapshot() == reference, _differences(s3, view)
            view.clear()
            if mastering:
                shutil.rmtree(masters)
        problems = feed_problems(view, _base_url(s3))
        assert problems == [], (problems, f"kill {kills} at {delay:.2f}s", f"seed {test_seed()}")
    result = run_podcast(config, *args, env=s3.env())
    assert result.returncode == 0, result.stderr
    assert view.snapshot() == reference, _differences(s3, view)
    assert feed_problems(view, _base_url(s3)) == []
    record("publish-kill", kills=kills, phases=dict(phases), finished_before_kill=finished,
           feed_checks=checks, lost=0, startup_s=round(startup, 2),
           full_run_s=round(full_run, 2), upload_run_s=round(upload_run, 2))


def test_publish_to_a_folder_killed_at_random_moments_never_exposes_a_broken_feed(
        show: Path, reference: dict, s3: S3Server, tmp_path: Path) -> None:
    """The same with ``file://`` storage (the demo's, served by ``podcast serve``), 10 kills
    among the writes: every file is written to a hidden temp name and renamed into place,
    so the feed is never half written; temp files a kill leaves behind are dotfiles, which
    neither the store nor ``podcast serve`` ever shows."""
    folder = tmp_path / "show"
    shutil.copytree(show.parent, folder, symlinks=True)  # masters included
    config = folder / "podcast.yaml"
    public = tmp_path / "public"
    view = FolderView(public)
    args = ("publish", "--storage", f"file://{public}", "--now", NOW)
    expected = {key: (item.size, item.sha256) for key, item in reference.items()}

    def stored() -> dict:
        return {key: (item.size, item.sha256) for key, item in view.snapshot().items()}

    started = time.monotonic()
    assert run_podcast(config, *args).returncode == 0
    full = time.monotonic() - started
    assert stored() == expected
    started = time.monotonic()
    assert "nothing to upload" in run_podcast(config, *args).stdout
    startup = time.monotonic() - started
    random = rng("publish-kill-folder")
    kills = finished = checks = 0
    phases: Counter = Counter()
    while kills < 10:
        assert kills + finished < 40, (kills, finished, "runs end too early")
        view.clear()
        delay = random.uniform(0.9 * startup, max(full, startup))
        started = time.monotonic()
        with FeedWatcher(view, _base_url(s3), interval=0.02) as watch:
            process = start_podcast(config, *args, env={"PYTHONUNBUFFERED": "1"})
            killed, output = _kill_at(process, delay)
        assert watch.problems == [], (watch.problems, f"seed {test_seed()}")
        checks += watch.checks
        if killed:
            kills += 1
            phases[_phase(output)] += 1
            assert feed_problems(view, _base_url(s3)) == []
            assert run_podcast(config, *args).returncode == 0  # the re-run completes it
        else:
            finished += 1
            full = min(full, time.monotonic() - started)
            startup = min(startup, 0.8 * full)
        assert stored() == expected, f"seed {test_seed()}"
    leftovers = [p.name for p in public.rglob(".*")]
    record("publish-kill-folder", kills=kills, phases=dict(phases),
           finished_before_kill=finished, feed_checks=checks, temp_files_left=len(leftovers),
           lost=0)


# --- podcast stats ingest killed with SIGKILL ---------------------------------------------------

INGEST_KILLS = 20
LOG_DAYS = [f"{day:02d}/Nov/2026" for day in range(20, 27)]


@pytest.fixture(scope="module")
def access_logs(s3: S3Server, reference: dict, tmp_path_factory: pytest.TempPathFactory
                ) -> Path:
    """A folder of combined logs for the published tiny show: five small files and one
    large one (so kills land in the middle of a file), 60,000 lines."""
    manifest = json.loads(BucketView(s3.client(), s3.bucket, "clean")
                          .get(".podcast/manifest.json"))
    media = [(item["key"], item["bytes"]) for item in manifest["media"].values()]
    folder = tmp_path_factory.mktemp("logs")
    random = rng("access-logs")
    path_prefix = f"/{s3.bucket}/site"
    for index, count in enumerate([4_000] * 5 + [40_000]):
        lines = combined_lines(media, days=LOG_DAYS, count=count, rand=random,
                               prefix=path_prefix)
        (folder / f"access-{index}.log").write_text("\n".join(lines) + "\n")
    return folder


def _stats_copy(show: Path, folder: Path) -> Path:
    """The show without its local state: a fresh, empty stats database."""
    folder.mkdir(parents=True)
    for name in ("assets", "episodes"):
        shutil.copytree(show.parent / name, folder / name)
    shutil.copy(show, folder / "podcast.yaml")
    return folder / "podcast.yaml"


def _counts(config: Path) -> tuple[Counter, dict[str, int], int]:
    """Downloads per (day, episode), rejected lines per reason and listeners, read from the
    stats database by the product's own store functions."""
    stats_show = load_show(config)
    downloads = load_downloads(stats_show, None, None)
    per_day = Counter((d.day.isoformat(), d.slug) for d in downloads)
    return per_day, rejected_counts(stats_show, None, None), len({d.listener for d in downloads})


def test_ingest_killed_at_random_moments_never_counts_twice_or_loses_a_download(
        s3: S3Server, show: Path, access_logs: Path, tmp_path: Path) -> None:
    """SIGKILL ``podcast stats ingest`` at random moments, at least 20 times, re-running it.

    After each kill the database holds a part of the truth (no (day, episode) above the
    clean count); each completed run equals a clean ingest exactly.  Then the database
    is deleted so the kills keep landing in real work.
    """
    clean = _stats_copy(show, tmp_path / "clean")
    started = time.monotonic()
    result = run_podcast(clean, "stats", "ingest", str(access_logs), env=s3.env())
    ingest_time = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    truth, truth_rejected, truth_listeners = _counts(clean)
    assert sum(truth.values()) > 100 and truth_listeners > 100
    started = time.monotonic()
    noop = run_podcast(clean, "stats", "ingest", str(access_logs), env=s3.env())
    startup_time = time.monotonic() - started  # start-up, catalog, database: no log read
    assert noop.returncode == 0 and "0 added" in noop.stdout

    crashed = _stats_copy(show, tmp_path / "crashed")
    database = crashed.parent / ".podcast"
    random = rng("ingest-kill")
    kills = finished = after_startup = 0
    states: Counter = Counter()
    while kills < INGEST_KILLS:
        delay = random.uniform(0.1, ingest_time)
        process = start_podcast(crashed, "stats", "ingest", str(access_logs), env=s3.env())
        killed, _ = _kill_at(process, delay)
        counts = _counts(crashed)
        if killed:
            kills += 1
            after_startup += delay > startup_time
            over = {k: (v, truth[k]) for k, v in counts[0].items() if v > truth[k]}
            assert over == {}, (over, f"kill {kills} at {delay:.2f}s", f"seed {test_seed()}")
            if counts == (truth, truth_rejected, truth_listeners):
                states["all files committed"] += 1
            elif counts[0] or any(counts[1].values()):
                states["some files committed"] += 1
            else:
                states["nothing committed yet"] += 1
        else:
            finished += 1
            assert process.returncode == 0
        if not killed or counts == (truth, truth_rejected, truth_listeners):
            # Complete (by this run or the killed one): start again so kills hit real work.
            assert counts == (truth, truth_rejected, truth_listeners), f"seed {test_seed()}"
            for path in database.glob("stats.duckdb*"):
                path.unlink()
    rerun = run_podcast(crashed, "stats", "ingest", str(access_logs), env=s3.env())
    assert rerun.returncode == 0, rerun.stderr
    assert _counts(crashed) == (truth, truth_rejected, truth_listeners), f"seed {test_seed()}"
    # And a third run changes nothing: every file is known.
    again = run_podcast(crashed, "stats", "ingest", str(access_logs), env=s3.env())
    assert "0 added" in again.stdout, again.stdout
    assert _counts(crashed) == (truth, truth_rejected, truth_listeners)
    record("ingest-kill", kills=kills, database_after_kill=dict(states),
           killed_after_startup=after_startup, startup_s=round(startup_time, 2),
           finished_before_kill=finished,
           lines=sum(1 for p in access_logs.iterdir() for _ in p.open()),
           ingest_s=round(ingest_time, 2), downloads=sum(truth.values()),
           listeners=truth_listeners, lost=0, double_counted=0)


@pytest.mark.parametrize(("name", "rate"), [("light", 0.10), ("heavy", 0.35)])
def test_ingest_from_s3_through_faults_counts_exactly_what_a_local_read_counts(
        s3: S3Server, show: Path, access_logs: Path, tmp_path: Path, name: str,
        rate: float) -> None:
    """Logs read from ``s3://`` through a faulty network give the same counts as the same
    files read locally.  At these rates bounded retries always get through: giving up
    would take seven faults in a row on one request, including a GET whose body is cut
    after its headers arrived (botocore does not retry that one by itself)."""
    client = s3.client()
    prefix = f"logs-{name}/"
    for path in sorted(access_logs.iterdir()):
        client.upload_file(str(path), s3.bucket, prefix + path.name)
    local = _stats_copy(show, tmp_path / "local")
    assert run_podcast(local, "stats", "ingest", str(access_logs), env=s3.env()).returncode == 0

    remote = _stats_copy(show, tmp_path / "remote")
    random = rng(f"ingest-s3-{name}")
    with FaultyProxy(s3.endpoint, rate=rate, seed=random.randrange(2**32),
                     kinds=("500", "503", "reset-request", "reset-response")) as proxy:
        result = run_podcast(remote, "stats", "ingest", f"s3://{s3.bucket}/{prefix}",
                             env={**s3.env(), "AWS_ENDPOINT_URL": proxy.endpoint})
    assert result.returncode == 0, (result.stderr, proxy.stats, f"seed {test_seed()}")
    assert _counts(remote) == _counts(local), f"seed {test_seed()}"
    record("ingest-s3-faults", name=name, rate=rate, exit_status=result.returncode,
           requests=proxy.stats.requests, faults=dict(proxy.stats.faults))


DATABASE_KILLS = 100

_CREATE_DATABASES = """
import sys
from podcast.config import load_show
from podcast.stats.store import connect, db_path

show = load_show(sys.argv[1])
print("ready", flush=True)
while True:
    connect(show).close()
    for path in db_path(show).parent.glob("stats.duckdb*"):
        path.unlink()
"""


def test_a_stats_database_killed_while_it_is_created_opens_afterwards(
        show: Path, tmp_path: Path) -> None:
    """SIGKILL a process that creates the stats database over and over, 100 times.

    Whatever moment the kill lands in, the next ``podcast stats`` run opens the database:
    it is made under a temp name and linked into place, so ``stats.duckdb`` is either
    absent or complete (a CI run once found it half-made).
    """
    config = _stats_copy(show, tmp_path / "show")
    random = rng("database-kill")
    for kill in range(DATABASE_KILLS):
        process = subprocess.Popen([sys.executable, "-c", _CREATE_DATABASES, str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout.readline() == "ready\n", process.stderr.read()
        delay = random.uniform(0, 0.1)
        killed, _ = _kill_at(process, delay)
        assert killed, "the creating loop ended by itself"
        try:
            assert load_downloads(load_show(config), None, None) == []
        except PodcastError as exc:
            pytest.fail(f"kill {kill} at {delay:.3f}s, seed {test_seed()}: {exc}")
