#!/usr/bin/env bash
# Create ./.venv and install podcast into it. `--test` adds the test tools (and, when apt is
# available and we are root, Chromium for the page tests and Debian's ffmpeg for the second
# audio run; with npm, the Node feed parser in tests/js). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--test" ]; then
    .venv/bin/python -m pip install --quiet -e '.[test]'
    # Chromium for the page and report tests; Debian's ffmpeg for the second audio run.
    missing=""
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
    [ -x /usr/bin/ffmpeg ] || missing="$missing ffmpeg"
    if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing$missing with apt-get..."
        # shellcheck disable=SC2086
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) \
            >/dev/null
    fi
    # The Podcast Index's feed parser (podcast-partytime), run by the feed tests with Node.
    if command -v npm >/dev/null 2>&1; then
        npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
    fi
else
    .venv/bin/python -m pip install --quiet -e .
fi
