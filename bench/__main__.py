"""`python -m bench [name ...]`: run every benchmark, or the named ones, each writing
bench/results/<name>.json. Exits non-zero if any benchmark fails or loses or doubles an event."""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import (
    api_fuzz,
    baseline,
    contact_details,
    metering,
    outbox,
    payouts,
    replay,
    restart,
)

BENCHMARKS: dict[str, Callable[[], dict[str, Any]]] = {
    "baseline": baseline.run,
    "outbox": outbox.run,
    "metering": metering.run,
    "replay": replay.run,
    "restart": restart.run,
    "contact_details": contact_details.run,
    "api_fuzz": api_fuzz.run,
    "payouts": payouts.run,
}

SUMMARY = {
    "baseline": ("pg_commits_per_s", "ratio_to_design"),
    "outbox": (
        "events",
        "events_per_s",
        "pg_commits_per_s",
        "ratio",
        "p50_latency_s",
        "p99_latency_s",
        "paced_p50_latency_s",
        "lost",
        "duplicated",
    ),
    "metering": (
        "concurrent_sessions",
        "p99_lateness_s",
        "timer_busy_fraction",
        "lost",
        "doubled",
        "stripe_calls_per_session",
        "ratio_to_pg_commits",
    ),
    "replay": ("events", "events_per_s", "raw_read_per_s", "ratio", "seconds", "sessions"),
    "restart": (
        "restart_s",
        "takeover_s",
        "restart_ratio",
        "takeover_ratio",
        "cold_start_ratio",
        "ok",
    ),
    "contact_details": (
        "evasions",
        "refused",
        "recall",
        "legitimate",
        "false_refusals",
        "false_refusal_rate",
        "texts_per_s",
    ),
    "api_fuzz": ("requests", "responses_by_status_class", "5xx", "schema_violations", "seconds"),
    "payouts": (
        "payees",
        "transfers",
        "seconds",
        "target_s",
        "transfers_per_s",
        "stripe_429s",
        "lost",
        "duplicated",
        "ok",
    ),
}


def _terminate(signum: int, frame: Any) -> None:
    # Turn SIGTERM into an exception so every benchmark's clean-up (processes, databases,
    # vhost) still runs.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=", ".join(BENCHMARKS))
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    signal.signal(signal.SIGTERM, _terminate)

    failed = []
    for name in args.names or list(BENCHMARKS):
        started = time.perf_counter()
        print(f"[{name}] running", flush=True)
        try:
            result = BENCHMARKS[name]()
        except KeyboardInterrupt:
            print(f"[{name}] interrupted; cleaned up", file=sys.stderr)
            return 130
        except Exception:
            traceback.print_exc()
            print(f"[{name}] FAILED", file=sys.stderr)
            failed.append(name)
            continue
        figures = ", ".join(f"{key}={result.get(key)}" for key in SUMMARY.get(name, ()))
        took = time.perf_counter() - started
        print(f"[{name}] {figures} ({took:.0f} s) -> bench/results/{name}.json", flush=True)
        doubled = result.get("duplicated") or result.get("doubled")
        if result.get("ok") is False or result.get("lost") or doubled:
            print(
                f"[{name}] FAILED: lost {result.get('lost')}, duplicated {doubled}",
                file=sys.stderr,
            )
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
