"""Helpers for tests that send real media through Janus.

The network rule (docs/media.md): media tests send traffic only to loopback or to hosts inside
network namespaces the test itself creates, never to the machine's external address. Janus'
ICE library ignores loopback interfaces, so every media test gets its own namespace:

    root namespace                          namespace hs<6 hex>
    <ns>b  10.77.X.2/24   <── veth ──>      <ns>a  10.77.X.1/24   Janus (HTTP :8088, admin :7088)
    (the test process: control plane,                             lo up
     WebRTC peers, event-handler backend)

`MediaNetwork` makes that layout and always removes it; `JanusProcess` runs Janus inside it with
a private configuration; `only_ice_addresses` keeps in-process aiortc peers from offering any
host candidate but the test's own veth address.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx

from devtools.janus_config import write_janus_config

COMMAND_TIMEOUT = 10.0
_LOCK_FILE = Path(tempfile.gettempdir()) / "headstore-media-network.lock"
_NAME = re.compile(r"^[a-z][a-z0-9]{0,3}$")


class MediaTestError(RuntimeError):
    """The test network or the Janus process could not be set up."""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MediaTestError(f"{' '.join(argv)}: {error}") from error
    if check and result.returncode != 0:
        raise MediaTestError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


def media_unavailable_reason() -> str | None:
    """Why media tests cannot run on this machine, or None when they can."""
    if os.geteuid() != 0:
        return "media tests need root to create network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = _run("ip", "netns", "list", check=False)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.strip()}"
    return None


def require_media() -> None:
    """Fails the calling test when real-media tests cannot run here. `make test` installs
    what they need (scripts/bootstrap.sh), so a missing piece is a broken machine, not a reason
    to skip; HEADSTORE_ALLOW_SKIPS=1 turns the failure into a skip on a developer's laptop."""
    import pytest

    from devtools.no_skips import skips_allowed

    reason = media_unavailable_reason() or (
        None if janus_binary() else "janus is not installed: run `bash scripts/janus.sh`"
    )
    if reason is None:
        return
    if skips_allowed():
        pytest.skip(reason)
    pytest.fail(f"real-media tests cannot run: {reason}", pytrace=False)


def janus_binary() -> str | None:
    return shutil.which("janus") or ("/usr/bin/janus" if Path("/usr/bin/janus").exists() else None)


class MediaNetwork:
    """A network namespace `<name><6 hex>` joined to the root namespace by a veth pair.

    Inside: `lo` up and `<ns>a` with `10.77.X.1/24` (`inner_address`). Root side: `<ns>b` with
    `10.77.X.2/24` (`outer_address`), so the test process reaches services in the namespace and
    they reach the test. X is chosen so that no other interface here uses 10.77.X.0/24.
    Entering creates everything; leaving (also after an error) kills what still runs inside the
    namespace and deletes the namespace and both veth ends.
    """

    def __init__(self, name: str = "hs") -> None:
        if not _NAME.match(name):
            raise ValueError("name: 1-4 lowercase letters or digits, starting with a letter")
        self.namespace = f"{name}{secrets.token_hex(3)}"
        self.inner_interface = f"{self.namespace}a"
        self.outer_interface = f"{self.namespace}b"
        self.subnet = -1
        self._created = False

    @property
    def inner_address(self) -> str:
        return f"10.77.{self.subnet}.1"

    @property
    def outer_address(self) -> str:
        return f"10.77.{self.subnet}.2"

    def exec_argv(self, *argv: str) -> list[str]:
        """The command line that runs `argv` inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def _free_subnet(self) -> int:
        used = _run("ip", "-o", "-4", "addr", "show").stdout + _run("ip", "-4", "route").stdout
        taken = {int(x) for x in re.findall(r"\b10\.77\.(\d+)\.", used)}
        choices = [x for x in range(1, 255) if x not in taken]
        if not choices:
            raise MediaTestError("no free 10.77.X.0/24 subnet")
        return secrets.choice(choices)

    def __enter__(self) -> MediaNetwork:
        try:
            # Serialise subnet choice and set-up between concurrent test runs on this machine.
            with open(_LOCK_FILE, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self.subnet = self._free_subnet()
                ns, inner, outer = self.namespace, self.inner_interface, self.outer_interface
                _run("ip", "netns", "add", ns)
                self._created = True
                _run("ip", "-n", ns, "link", "set", "lo", "up")
                _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
                _run("ip", "-n", ns, "addr", "add", f"{self.inner_address}/24", "dev", inner)
                _run("ip", "-n", ns, "link", "set", inner, "up")
                _run("ip", "addr", "add", f"{self.outer_address}/24", "dev", outer)
                _run("ip", "link", "set", outer, "up")
            self._wait_link()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_link(self, timeout: float = 5.0) -> None:
        """Until both veth ends report carrier (LOWER_UP)."""
        deadline = time.monotonic() + timeout
        while True:
            outer = _run("ip", "-o", "link", "show", "dev", self.outer_interface).stdout
            inner = _run(
                "ip", "-n", self.namespace, "-o", "link", "show", "dev", self.inner_interface
            ).stdout
            if "LOWER_UP" in outer and "LOWER_UP" in inner:
                return
            if time.monotonic() > deadline:
                raise MediaTestError(f"veth {self.namespace} has no carrier after {timeout}s")
            time.sleep(0.02)  # polling interval of a bounded wait

    def close(self) -> None:
        if not self._created:
            return
        pids = _run("ip", "netns", "pids", self.namespace, check=False).stdout.split()
        for pid in pids:  # only processes inside this run's own namespace
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        _run("ip", "link", "del", self.outer_interface, check=False)
        _run("ip", "netns", "del", self.namespace, check=False)
        self._created = False

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class JanusProcess:
    """Janus inside a `MediaNetwork`, with a private copy of /etc/janus.

    Only the VideoRoom plugin and the HTTP transport are loaded; ICE uses the namespace's veth
    only (no STUN, no mDNS); the admin API is on with a random `admin_secret`; the Janus API
    wants the random `api_secret` or a token added through the admin API; VideoRoom rooms can
    be created only with the random `admin_key`. With `event_backend`, the `sampleevh` event
    handler POSTs every event (one JSON object per request) to that URL, as user `janus` with
    the random `events_password` (basic auth).
    """

    HTTP_PORT = 8088
    ADMIN_PORT = 7088

    def __init__(
        self,
        network: MediaNetwork,
        *,
        event_backend: str | None = None,
        binary: str | None = None,
        debug_level: int = 4,
        start_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        source_config: Path = Path("/etc/janus"),
    ) -> None:
        self.network = network
        self.event_backend = event_backend
        self.binary = binary or janus_binary() or "janus"
        self.debug_level = debug_level
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.source_config = source_config
        self.admin_secret = secrets.token_urlsafe(24)
        self.api_secret = secrets.token_urlsafe(24)
        self.admin_key = secrets.token_urlsafe(24)
        self.events_user = "janus"
        self.events_password = secrets.token_urlsafe(24)
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log = ""
        self.started_in: float | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.network.inner_address}:{self.HTTP_PORT}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://{self.network.inner_address}:{self.ADMIN_PORT}/admin"

    @property
    def config_folder(self) -> Path:
        assert self.folder is not None, "not started"
        return self.folder / "conf"

    # -- configuration ---------------------------------------------------------------------
    def write_config(self) -> None:
        write_janus_config(
            self.config_folder,
            self.source_config,
            ip=self.network.inner_address,
            http_port=self.HTTP_PORT,
            admin_port=self.ADMIN_PORT,
            admin_secret=self.admin_secret,
            api_secret=self.api_secret,
            admin_key=self.admin_key,
            event_backend=self.event_backend,
            event_backend_user=self.events_user,
            event_backend_password=self.events_password,
            ice_enforce_list=self.network.inner_interface,
            debug_level=self.debug_level,
            server_name=f"headstore-test-{self.network.namespace}",
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> JanusProcess:
        self.folder = Path(tempfile.mkdtemp(prefix=f"hs-janus-{self.network.namespace}-"))
        try:
            self.write_config()
            log = open(self.folder / "janus.log", "wb")  # noqa: SIM115 - closed below
            started = time.monotonic()
            self.process = subprocess.Popen(
                self.network.exec_argv(self.binary, "-F", str(self.config_folder), "-o"),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()
            self._wait_ready()
            self.started_in = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise MediaTestError(
                        f"janus exited with {self.process.returncode}:\n{self.read_log()[-3000:]}"
                    )
                try:
                    if client.get(f"{self.api_url}/info").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise MediaTestError(
                        f"janus API not up after {self.start_timeout}s:\n{self.read_log()[-3000:]}"
                    )
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=0.05)  # wakes early if janus dies

    def cpu_seconds(self) -> float:
        """User plus system CPU time Janus has used so far (from /proc)."""
        assert self.process is not None, "not running"
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def read_log(self) -> str:
        if self.folder is not None and (self.folder / "janus.log").exists():
            return (self.folder / "janus.log").read_text(errors="replace")
        return self.log

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.stop_timeout)
        if self.folder is not None:
            self.log = self.read_log()
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> JanusProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def only_ice_addresses(*addresses: str) -> Iterator[None]:
    """Make in-process aiortc peers offer host candidates on `addresses` only.

    aioice gathers a candidate on every non-loopback interface, the machine's external one
    included; in media tests the peers must use the test's own veth address.
    """
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def restricted(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in original(use_ipv4, use_ipv6) if a in addresses] or list(addresses)

    aioice.ice.get_host_addresses = restricted
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])
