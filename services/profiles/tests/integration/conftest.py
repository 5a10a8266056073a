from __future__ import annotations

import grpc
import pytest

from cli.main import migrate
from cli.registry import SERVICES
from contracts.profiles.v1 import profiles_pb2_grpc
from devtools.testing import free_port
from headstore.store import drop_database


@pytest.fixture
def profiles(settings, processes, monkeypatch):
    """A running profiles service on a fresh database; yields a gRPC stub."""
    drop_database("profiles", settings)
    migrate(settings, [SERVICES["profiles"]])
    port = free_port()
    processes.env.update(
        PROFILES_GRPC_PORT=str(port),
        PROFILES_METRICS_PORT="0",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="8192",
    )
    processes.start("profiles", "-m", "cli.main", "run", "profiles")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    yield profiles_pb2_grpc.ProfilesServiceStub(channel)
    channel.close()
