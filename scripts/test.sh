#!/usr/bin/env bash
# The test command of the README: install everything, then run every stage and exit
# non-zero if any failed, so one failure never hides another:
#   lint (ruff), types (mypy), the whole suite (pytest, its 15 slowest tests listed), the
#   audio stages again with the system's ffmpeg when there is one (Debian's 5.1 on CI, the
#   oldest we support: the suite used the bundled one), and the fault-injection and crash tests
#   (tests/test_reliability.py) with PODCAST_TEST_SEED 2 and 3 (the suite ran them with
#   the caller's seed: 1 on CI).
# With arguments, they go to the suite's pytest and only lint, types and the suite run.
# It ends with one line per stage, then the tests of all stages as "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || { echo "scripts/setup.sh --test failed: nothing was tested" >&2; exit 1; }

PYTEST=(.venv/bin/python -m pytest -q --durations=15)
AUDIO_TESTS=(tests/test_audio.py tests/test_audio_config.py tests/test_levelling.py
             tests/test_producer.py tests/test_trim.py tests/test_denoise.py
             tests/test_loudness.py tests/test_tags.py tests/test_doctor.py
             tests/test_signals.py tests/test_multitrack.py tests/test_speaker_changes.py
             tests/test_room_tone.py)
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
SUMMARY=()
PASSED=0
FAILED=0
FAILED_STAGES=()

# stage NAME COMMAND…: run COMMAND with its output shown (and kept), then note how it
# ended: its pytest summary line when it has one, and the counts of passed and failed tests.
stage() {
    local name=$1 log="$LOGS/${#SUMMARY[@]}.log" code last passed failed
    shift
    echo "--- $name"
    "$@" 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    last=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|errors|skipped|deselected)\b' "$log" \
           | tail -1 | sed -E 's/^=+ //; s/ =+$//')
    passed=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || echo 0)
    failed=$(( $(grep -oE '[0-9]+ (failed|errors?)' <<<"$last" | grep -oE '[0-9]+' \
                 | paste -sd+ - || echo 0) + 0 ))
    if [ "$code" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1  # a stage that failed without a failed test (lint, a crash) counts as one
    fi
    PASSED=$((PASSED + passed))
    FAILED=$((FAILED + failed))
    if [ "$code" -eq 0 ]; then
        SUMMARY+=("$name: passed${last:+: $last}")
    else
        SUMMARY+=("$name: FAILED (exit $code)${last:+: $last}")
        FAILED_STAGES+=("$name")
    fi
}

# A stage that cannot run where it must (CI requires the system's ffmpeg).
missing() {
    echo "--- $1" >&2
    echo "$2" >&2
    SUMMARY+=("$1: FAILED: $2")
    FAILED_STAGES+=("$1")
    FAILED=$((FAILED + 1))
}

stage "lint (ruff)" .venv/bin/ruff check .
stage "types (mypy)" .venv/bin/mypy
stage "suite${PODCAST_TEST_SEED:+ (PODCAST_TEST_SEED=$PODCAST_TEST_SEED)}" "${PYTEST[@]}" "$@"
if [ $# -eq 0 ]; then
    if [ -x /usr/bin/ffmpeg ] && [ -x /usr/bin/ffprobe ]; then
        stage "audio stages with $(/usr/bin/ffmpeg -version | head -1 | cut -d' ' -f1-3)" \
            env PODCAST_FFMPEG=/usr/bin/ffmpeg PODCAST_FFPROBE=/usr/bin/ffprobe \
            "${PYTEST[@]}" "${AUDIO_TESTS[@]}"
    elif [ "${PODCAST_REQUIRE_SYSTEM_FFMPEG:-}" = 1 ]; then
        missing "audio stages with the system's ffmpeg" \
            "no /usr/bin/ffmpeg: the second audio run cannot happen"
    fi
    for seed in 2 3; do
        stage "reliability tests (PODCAST_TEST_SEED=$seed)" \
            env PODCAST_TEST_SEED=$seed "${PYTEST[@]}" tests/test_reliability.py
    done
fi

echo
echo "=== ${#SUMMARY[@]} stages"
printf '%s\n' "${SUMMARY[@]}"
if [ ${#FAILED_STAGES[@]} -eq 0 ]; then
    echo "$PASSED passed, $FAILED failed"
    exit 0
fi
echo "failed: $(IFS=,; echo "${FAILED_STAGES[*]}" | sed 's/,/, /g')"
echo "$PASSED passed, $FAILED failed"
exit 1
