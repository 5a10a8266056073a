"""The live view: each participant sees their side of the session's events as they happen."""

from __future__ import annotations

from concurrent import futures
from datetime import UTC, datetime
from uuid import uuid4

import grpc
import jwt
import pytest
from fastapi.testclient import TestClient
from kombu import Connection, Producer
from starlette.websockets import WebSocketDisconnect

from contracts.calls.v1 import calls_pb2 as calls_api
from contracts.calls.v1 import calls_pb2_grpc
from contracts.events.v1 import billing_pb2, calls_pb2, money_pb2
from contracts.profiles.v1 import profiles_pb2 as profiles_api
from contracts.profiles.v1 import profiles_pb2_grpc
from devtools.testing import free_port
from headstore.envelope import Envelope, event_exchange
from headstore.settings import Settings
from services.gateway.app import create_app
from services.gateway.live import CLIENT, EXPERT, view

SECRET = "live-view-test-secret-0123456789abcdef0123"


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency="USD", minor=minor)


def minute(session_id: str = "s-1", k: int = 4) -> billing_pb2.MinuteBilled:
    return billing_pb2.MinuteBilled(
        session_id=session_id,
        client_id="client-1",
        expert_id="expert-1",
        minute=k,
        amount=usd(300),
        cost_so_far=usd(300),
        earnings_so_far=usd(270),
    )


def test_the_client_sees_cost_and_the_expert_earnings():
    assert view(minute(), CLIENT) == {
        "type": "minute",
        "minute": 4,
        "cost_so_far": {"currency": "USD", "amount": "3.00", "minor": 300},
    }
    assert view(minute(), EXPERT) == {
        "type": "minute",
        "minute": 4,
        "earnings_so_far": {"currency": "USD", "amount": "2.70", "minor": 270},
    }


def test_a_negative_amount_is_shown_with_its_sign_before_the_whole_amount():
    """-150 minor units read -1.50, never -2.50 (floor division would borrow a unit)."""
    taken_back = billing_pb2.MinuteBilled(session_id="s-1", minute=4, cost_so_far=usd(-150))
    shown = view(taken_back, CLIENT)
    assert shown is not None
    assert shown["cost_so_far"] == {
        "currency": "USD",
        "amount": "-1.50",
        "minor": -150,
    }


def test_warnings_and_the_end_are_shown_to_both():
    warning = calls_pb2.SessionTimeWarning(session_id="s-1", minutes_left=5)
    ended = calls_pb2.SessionEnded(session_id="s-1", reason="time_limit")
    for role in (CLIENT, EXPERT):
        assert view(warning, role) == {"type": "warning", "minutes_left": 5}
        assert view(ended, role) == {"type": "ended", "reason": "time_limit"}


class FakeCalls(calls_pb2_grpc.CallsServiceServicer):
    def GetSession(self, request, context):  # noqa: N802
        if request.session_id != "s-1" or request.participant_id not in ("client-1", "expert-1"):
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                '{"code": "session_not_found", "message": "No such session.", '
                '"field": "session_id"}',
            )
        return calls_api.Session(session_id="s-1", client_id="client-1", expert_id="expert-1")


class FakeProfiles(profiles_pb2_grpc.ProfilesServiceServicer):
    """Every account is a client at credentials version `version` (1 unless a test changes
    it, as a password change would)."""

    version = 1

    def GetAccessState(self, request, context):  # noqa: N802
        return profiles_api.AccessState(
            account_id=request.account_id, credentials_version=self.version, roles=["client"]
        )


def token(account_id: str, version: int = 1) -> str:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": Settings().jwt_issuer,
        "aud": Settings().jwt_audience,
        "sub": account_id,
        "ver": version,
        "roles": ["client"],
        "typ": "access",
        "iat": now,
        "exp": now + 300,
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture
def gateway(settings):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    # mypy-protobuf declares every servicer method abstract; the generated servicer answers the
    # ones a fake leaves out with UNIMPLEMENTED.
    calls_pb2_grpc.add_CallsServiceServicer_to_server(FakeCalls(), server)  # type: ignore[abstract]
    profiles = FakeProfiles()  # type: ignore[abstract]
    profiles_pb2_grpc.add_ProfilesServiceServicer_to_server(profiles, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    app = create_app(
        Settings(
            amqp_uri=settings.amqp_uri,
            jwt_secret=SECRET,
            grpc_ports={"calls": port, "profiles": port},
        ),
        live_events=True,
    )
    app.state.live_recheck_seconds = 0.2
    with TestClient(app) as client:
        assert app.state.live_consumer.ready.wait(10), "live consumer did not start"
        client.profiles = profiles
        yield client
    server.stop(grace=None)


def publish(settings, producer: str, payload, position: int) -> None:
    envelope = Envelope.wrap(
        payload,
        event_id=str(uuid4()),
        occurred_at=datetime.now(UTC),
        producer=producer,
        position=position,
        correlation_id="corr-live",
    )
    with Connection(settings.amqp_uri) as connection:
        Producer(connection.default_channel, exchange=event_exchange(producer)).publish(
            envelope.dumps(),
            routing_key=envelope.type,
            content_type="application/json",
        )


@pytest.mark.integration
def test_participants_get_their_view_over_the_websocket(gateway, settings):
    with (
        gateway.websocket_connect(
            f"/v1/sessions/s-1/live?access_token={token('client-1')}"
        ) as client_socket,
        gateway.websocket_connect(
            f"/v1/sessions/s-1/live?access_token={token('expert-1')}"
        ) as expert_socket,
    ):
        publish(settings, "billing", minute(), 1)
        publish(settings, "billing", minute("another-session", 1), 2)
        publish(
            settings, "calls", calls_pb2.SessionEnded(session_id="s-1", reason="client_hung_up"), 1
        )
        assert client_socket.receive_json()["cost_so_far"]["amount"] == "3.00"
        assert expert_socket.receive_json()["earnings_so_far"]["amount"] == "2.70"
        assert client_socket.receive_json() == {"type": "ended", "reason": "client_hung_up"}
        assert expert_socket.receive_json() == {"type": "ended", "reason": "client_hung_up"}


@pytest.mark.integration
def test_only_participants_may_watch(gateway):
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        gateway.websocket_connect(
            f"/v1/sessions/s-1/live?access_token={token('stranger')}"
        ) as socket,
    ):
        socket.receive_json()
    assert refused.value.code == 4404
    with (
        pytest.raises(WebSocketDisconnect) as unauthenticated,
        gateway.websocket_connect("/v1/sessions/s-1/live?access_token=not-a-token") as socket,
    ):
        socket.receive_json()
    assert unauthenticated.value.code == 4401


@pytest.mark.integration
def test_a_token_from_before_a_password_change_may_not_watch(gateway):
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        gateway.websocket_connect(
            f"/v1/sessions/s-1/live?access_token={token('client-1', version=0)}"
        ) as socket,
    ):
        socket.receive_json()
    assert refused.value.code == 4401
    assert "sign in again" in refused.value.reason


@pytest.mark.integration
def test_a_live_view_open_before_a_password_change_is_closed(gateway):
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        gateway.websocket_connect(
            f"/v1/sessions/s-1/live?access_token={token('client-1')}"
        ) as socket,
    ):
        gateway.profiles.version = 2  # the password changed
        socket.receive_json()
    assert closed.value.code == 4401
    assert "sign in again" in closed.value.reason
