"""Helpers for tests that cross process boundaries: waiting on a condition with a deadline,
and running platform processes that are always cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def wait_until(
    condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as error:  # the condition may fail until the system is up
            last_error = error
        time.sleep(interval)
    raise TimeoutError(
        f"timed out after {timeout}s waiting for {what or condition}"
    ) from last_error


class Processes:
    """Starts platform processes with a given environment and stops them all at the end."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.running[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.running.pop(name)
        os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.running):
            process = self.running[name]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name in list(self.running):
            try:
                self.running[name].wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.running[name].pid, signal.SIGKILL)
            del self.running[name]

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")


_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port that nothing listens on right now, below the kernel's ephemeral range.

    A port the kernel picks for `bind(0)` comes from the ephemeral range, where it may be given
    to some outgoing connection (a database client, a broker client) before the process meant
    to listen on it has started; that process then fails with "address already in use". Ports
    below the range are never handed out that way."""
    import random
    import socket

    low, _ = _ephemeral_range()
    candidates = range(10_000, max(low, 10_001))
    for _ in range(200):
        port = random.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


@contextmanager
def stripe_stand_in(log_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The Stripe stand-in (`python -m devtools.stripe_server --port 0`, with `args`) in a
    subprocess: yields its URL once it listens; stops it with SIGTERM after, and checks that it
    stopped cleanly."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.stripe_server", "--port", "0", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()))
    reader.start()
    reader.join(timeout=30)
    if not (lines and lines[0].startswith(b"Stripe stand-in listening on http://127.0.0.1:")):
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"the stand-in did not start: {lines} {log_path.read_text()}")
    try:
        yield lines[0].decode().rsplit(" ", 1)[1].strip()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 0  # stops cleanly on SIGTERM
