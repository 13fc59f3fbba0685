#!/usr/bin/env bash
# The everyday loop (README "Set up"): lint, then the suite without its slow kinds, in a
# few minutes instead of the full run's half hour.  Left out (markers of setup.cfg): `slow`
# (more than a few seconds each), `browser` (headless Chromium), `s3` (moto, SeaweedFS) and
# `audio` (ffmpeg masters); scripts/test.sh runs everything before a push.  Arguments go to
# pytest (`scripts/quick.sh tests/test_feed.py -x`).  Both steps run; either failing fails.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
.venv/bin/ruff check . || status=1
.venv/bin/python -m pytest -q --durations=10 \
    -m "not slow and not browser and not s3 and not audio" "$@" || status=1
exit $status
