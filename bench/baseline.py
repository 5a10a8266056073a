"""Baselines measured in the same run as the benchmarks, and the helpers every benchmark shares:
an isolated environment (own database prefix, own RabbitMQ vhost, cleaned up even on failure),
timing, machine description and result files.

`python -m bench baseline` writes bench/results/baseline.json with the PostgreSQL single-row
commit rate (DESIGN.md lists 4,200/s on the 2-core machines).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devtools.testing import Processes
from headstore.postgres import connect
from headstore.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

# DESIGN.md, "Baseline figures": what these machines did when the design was written.
DESIGN_PG_COMMITS_PER_S = 4200


# --- timing -----------------------------------------------------------------------------------


class Stopwatch:
    """Wall-clock and monotonic start of a measured stretch."""

    def __init__(self) -> None:
        self.started_wall = time.time()
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def rounded(value: float, digits: int = 4) -> float | None:
    """JSON-friendly: NaN becomes null."""
    return None if math.isnan(value) else round(value, digits)


def wait_for(condition: Any, timeout: float, interval: float, what: str) -> Any:
    """Like devtools.testing.wait_until, with the pace chosen by the benchmark."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- the isolated environment ------------------------------------------------------------------


def admin_connection(settings: Settings, dbname: str = "postgres") -> psycopg.Connection[Any]:
    return connect(settings, dbname, autocommit=True)


def _local(host: str) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"benchmarks only talk to this machine; POSTGRES_HOST is {host!r}")


@dataclass
class Isolated:
    """One benchmark's world: database prefix, vhost, environment, processes, log folder."""

    name: str
    prefix: str
    vhost: str
    env: dict[str, str]
    settings: Settings
    processes: Processes
    log_dir: Path

    def database(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"

    def create_database(self, suffix: str) -> str:
        name = self.database(suffix)
        with admin_connection(self.settings) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name


def _rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=check, capture_output=True, timeout=60)


def _drop_prefixed_databases(settings: Settings, prefix: str) -> None:
    with admin_connection(settings) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)
            )
        ]
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def isolated(name: str) -> Iterator[Isolated]:
    """Own PostgreSQL database prefix and RabbitMQ vhost (as conftest.py makes for tests), set in
    os.environ for the duration; afterwards stop every process, drop the databases, delete the
    vhost and restore the environment, whatever happened."""
    run = uuid.uuid4().hex[:8]
    prefix = f"hs_bench_{run}_"
    vhost = f"hs-bench-{run}"
    base = Settings.from_env()
    _local(base.postgres_host)
    env = {
        "DATABASE_PREFIX": prefix,
        "AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "LOG_LEVEL": "INFO",
    }
    log_dir = Path(tempfile.mkdtemp(prefix=f"hs-bench-{name}-"))
    processes = Processes(dict(env), log_dir)
    saved = {key: os.environ.get(key) for key in env}
    failed = True
    try:
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        os.environ.update(env)
        yield Isolated(name, prefix, vhost, env, Settings.from_env(), processes, log_dir)
        failed = False
    finally:
        processes.stop_all()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _rabbitmqctl("delete_vhost", vhost, check=False)
        _drop_prefixed_databases(base, prefix)
        if failed:
            print(f"[{name}] process logs kept in {log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


# --- machine and results -----------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


def _memory_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() or None
    return None


def _git_dirty() -> bool | None:
    """Whether the measured code (chassis and bench) differs from the recorded commit."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", "headstore", "bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return bool(out.stdout.strip())
    return None


def machine(settings: Settings | None = None, *, servers: bool = True) -> dict[str, Any]:
    """The machine and versions; `servers=False` leaves out PostgreSQL and RabbitMQ (for
    benchmarks that use neither)."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "eventsourcing": _version("eventsourcing"),
        "psycopg": _version("psycopg"),
        "nameko": _version("nameko"),
        "kombu": _version("kombu"),
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
    }
    if not servers:
        return info
    with (
        contextlib.suppress(Exception),
        admin_connection(settings or Settings.from_env()) as conn,
    ):
        row = conn.execute("SHOW server_version").fetchone()
        info["postgresql"] = row[0] if row else None
        for setting in ("synchronous_commit", "fsync"):
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(setting))).fetchone()
            info[f"postgresql_{setting}"] = row[0] if row else None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["rabbitmqctl", "-q", "version"], capture_output=True, text=True, timeout=30
        )
        info["rabbitmq"] = out.stdout.strip() or None
    return info


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path


# --- the PostgreSQL baseline -------------------------------------------------------------------

_measured: dict[str, dict[str, Any]] = {}


def pg_commit_rate(
    box: Isolated, seconds: float = 5.0, max_commits: int = 50_000
) -> dict[str, Any]:
    """Single-row INSERT + COMMIT on one connection into a fresh table, for `seconds` (or
    `max_commits`, whichever comes first). Measured once per process and reused, so every
    benchmark of one `python -m bench` run reports its ratio to the same figure."""
    if "pg" in _measured:
        return _measured["pg"]
    dbname = box.create_database("baseline")
    with admin_connection(box.settings, dbname) as conn:
        conn.execute("CREATE TABLE commit_rate (id bigserial PRIMARY KEY, payload text NOT NULL)")
        conn.autocommit = False
        payload = "x" * 100
        for _ in range(50):  # warm the connection and the table
            conn.execute("INSERT INTO commit_rate (payload) VALUES (%s)", (payload,))
            conn.commit()
        clock = Stopwatch()
        commits = 0
        while commits < max_commits:
            conn.execute("INSERT INTO commit_rate (payload) VALUES (%s)", (payload,))
            conn.commit()
            commits += 1
            if commits % 100 == 0 and clock.elapsed() >= seconds:
                break
        elapsed = clock.elapsed()
    result = {
        "pg_commits": commits,
        "pg_seconds": round(elapsed, 3),
        "pg_commits_per_s": round(commits / elapsed, 1),
        "pg_commits_per_s_design": DESIGN_PG_COMMITS_PER_S,
    }
    _measured["pg"] = result
    return result


def run() -> dict[str, Any]:
    with isolated("baseline") as box:
        figures = pg_commit_rate(box)
        result = {
            "benchmark": "baseline",
            "timestamp": now_iso(),
            **figures,
            "ratio_to_design": round(figures["pg_commits_per_s"] / DESIGN_PG_COMMITS_PER_S, 3),
            "machine": machine(box.settings),
        }
    write_result("baseline", result)
    return result
