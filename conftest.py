"""Test fixtures shared by every tier.

Integration and end-to-end tests get their own PostgreSQL databases (a random prefix) and their
own RabbitMQ virtual host, so test runs never see each other's events, and both are removed
afterwards. The pytest process itself is never eventlet-patched: services run as real
subprocesses, exactly as `make run` starts them.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from xdist.scheduler import LoadScopeScheduling

from devtools.testing import Processes
from headstore import secrets
from headstore.postgres import connect
from headstore.settings import Settings

# `make test` fails when any test was skipped (devtools/no_skips.py).
pytest_plugins = ["devtools.no_skips"]

PLATFORM_TESTS = ("tests/e2e/", "services/calls/tests/integration/")
"""`make test` runs two pytest-xdist workers. The tests that start the platform or Janus (real
minutes, real media, fourteen processes each) run one at a time on one worker, first, since
they are the longest and mostly wait; the other worker takes everything else meanwhile."""


class PlatformTestsTogether(LoadScopeScheduling):
    """xdist's `loadgroup` marks groups by renaming test ids, which pytest 9 no longer allows;
    this scheduler groups by path instead (the largest group is handed out first)."""

    def _split_scope(self, nodeid: str) -> str:
        return "platform" if nodeid.startswith(PLATFORM_TESTS) else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling:
    return PlatformTestsTogether(config, log)


@pytest.fixture(scope="session")
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment variables for one test session: own database prefix and AMQP vhost, the
    development profile and one set of random secrets shared by every process it starts."""
    run = uuid.uuid4().hex[:8]
    prefix = f"hs_test_{run}_"
    vhost = f"hs-test-{run}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
    )
    env = {
        "DATABASE_PREFIX": prefix,
        "AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "LOG_LEVEL": "INFO",
        secrets.PROFILE_VARIABLE: secrets.DEVELOPMENT,
        **secrets.development_values({}),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
        settings = Settings.from_env()
        with connect(settings, autocommit=True) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)
                )
            ]
            for name in names:
                conn.execute(
                    psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        psycopg.sql.Identifier(name)
                    )
                )


@pytest.fixture(scope="session")
def settings(isolated_env: dict[str, str]) -> Settings:
    return Settings.from_env()


@pytest.fixture
def processes(isolated_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    group = Processes(dict(isolated_env), tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
