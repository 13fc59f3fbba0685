"""Summarise the figures recorded by tests/test_reliability.py into docs/reliability.md rows.

    for seed in 1 2 3; do
        PODCAST_TEST_SEED=$seed PODCAST_RELIABILITY_LOG=rel.jsonl pytest tests/test_reliability.py
    done
    python benchmarks/reliability_table.py rel.jsonl

Each line of the log is one test's figures (JSON with ``test`` and ``seed``); the output is a
Markdown table: what was injected, how many runs, how they ended, and the data lost.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path


def _tally(counts: list[dict]) -> Counter:
    """The sum of several ``{kind: n}`` records."""
    total: Counter = Counter()
    for item in counts:
        total.update(item)
    return total


def rows(records: list[dict]) -> list[str]:
    """One Markdown row per kind of experiment, all seeds together."""
    by_test: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_test[record["test"]].append(record)
    seeds = sorted({r["seed"] for r in records})
    out = []
    groups: dict[str, list[dict]] = defaultdict(list)
    for record in by_test.get("publish-faults", []):
        groups[record["name"]].append(record)
    for name, group in groups.items():
        outcomes = [o for r in group for o in r["outcomes"]]
        faults = _tally([counts for _, _, counts in outcomes])
        ok = sum(1 for status, _, _ in outcomes if status == 0)
        requests = sum(requests for _, requests, _ in outcomes)
        out.append(
            f"| publish through proxy, `{name}` ({group[0]['rate']:.0%} of requests: "
            f"{', '.join(group[0]['kinds'])}) | {len(outcomes)} publishes, {requests} "
            f"requests, {sum(faults.values())} faults ({_counts(faults)}) | {ok} succeeded, "
            f"{len(outcomes) - ok} stopped with `Error: … fix: …`; then a clean re-run "
            f"equal to a clean publish ({len(group)}/{len(group)}) | 0 |")
    outage = by_test.get("publish-outage", [])
    if outage:
        out.append(
            f"| publish during an outage (every request 503 SlowDown) | {len(outage)} publishes,"
            f" {sum(r['requests'] for r in outage)} requests | all exited 1 after "
            f"{'/'.join(str(r['requests']) for r in outage)} tries in "
            f"{'/'.join(str(r['seconds']) for r in outage)} s; stored feed untouched | 0 |")
    kills = by_test.get("publish-kill", [])
    if kills:
        phases = _tally([r["phases"] for r in kills])
        out.append(
            f"| SIGKILL `podcast publish` (S3, moto) | {sum(r['kills'] for r in kills)} kills "
            f"({_counts(phases)}), {sum(r['feed_checks'] for r in kills)} feed checks every "
            f"50 ms | feed always whole; every re-run equal to a clean publish | 0 |")
    kills = by_test.get("publish-kill-folder", [])
    if kills:
        phases = _tally([r["phases"] for r in kills])
        out.append(
            f"| SIGKILL `podcast publish` (`file://` folder) | {sum(r['kills'] for r in kills)} "
            f"kills ({_counts(phases)}), {sum(r['feed_checks'] for r in kills)} feed checks "
            f"every 20 ms | feed never half written; every re-run equal to a clean publish; "
            f"{sum(r['temp_files_left'] for r in kills)} hidden temp files left | 0 |")
    kills = by_test.get("ingest-kill", [])
    if kills:
        states = _tally([r["database_after_kill"] for r in kills])
        out.append(
            f"| SIGKILL `podcast stats ingest` ({kills[0]['lines']:,} lines, 6 files) | "
            f"{sum(r['kills'] for r in kills)} kills (database after the kill: "
            f"{_counts(states)}) | never above the clean count; every re-run equal to a "
            f"clean ingest (seed {kills[0]['seed']}: {kills[0]['downloads']:,} downloads, "
            f"{kills[0]['listeners']} listeners) | 0 lost, 0 double |")
    s3_ingest = by_test.get("ingest-s3-faults", [])
    if s3_ingest:
        faults = _tally([r["faults"] for r in s3_ingest])
        ok = sum(1 for r in s3_ingest if r["exit_status"] == 0)
        out.append(
            f"| `stats ingest s3://…` through proxy (10 % and 35 %) | {len(s3_ingest)} ingests, "
            f"{sum(r['requests'] for r in s3_ingest)} requests, {sum(faults.values())} faults "
            f"({_counts(faults)}) | {ok} counted exactly what a local read counts | 0 |")
    out.insert(0, f"Seeds: {', '.join(map(str, seeds))}.\n")
    return out


def _counts(counter: Counter) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counter.most_common())


def main() -> None:
    records = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines() if line]
    print("\n".join(rows(records)))


if __name__ == "__main__":
    main()
