#!/usr/bin/env bash
# The test command of the README: install everything, lint, run the whole suite (and the
# audio stages a second time with the system's ffmpeg when there is one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
# The audio stages again with the system's ffmpeg (Debian's 5.1 on CI), the oldest we support:
# the suite above used the bundled one.
if [ $# -eq 0 ] && [ -x /usr/bin/ffmpeg ] && [ -x /usr/bin/ffprobe ]; then
    echo "--- audio, loudness, tags, doctor and signal tests with $(/usr/bin/ffmpeg -version | head -1)"
    PODCAST_FFMPEG=/usr/bin/ffmpeg PODCAST_FFPROBE=/usr/bin/ffprobe .venv/bin/python -m pytest -q \
        tests/test_audio.py tests/test_audio_config.py tests/test_levelling.py \
        tests/test_producer.py tests/test_trim.py tests/test_denoise.py tests/test_loudness.py \
        tests/test_tags.py tests/test_doctor.py tests/test_signals.py tests/test_multitrack.py
elif [ "${PODCAST_REQUIRE_SYSTEM_FFMPEG:-}" = 1 ]; then
    echo "no /usr/bin/ffmpeg: the second audio run cannot happen" >&2
    exit 1
fi
