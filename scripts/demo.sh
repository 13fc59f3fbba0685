#!/usr/bin/env bash
# The demo command of the README: install, publish the demo show to ./public, simulate
# listeners against `podcast serve`, ingest the access log and print the stats.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python scripts/demo.py
