"""Stripe's Connect webhooks reach payouts (through the gateway), are believed only when signed,
and an account.updated with transfers active activates the payee's account."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from nameko.testing.services import worker_factory
from nameko_grpc.errors import GrpcError

from contracts.payouts.v1 import payouts_pb2 as api
from headstore.stripe_api import StripeSettings
from services.payouts.adapters.stripe import ConnectGateway
from services.payouts.service import PayoutsService

from .conftest import FakeConnect

SECRET = "whsec_test_connect"


def signed(payload: bytes, secret: str = SECRET) -> str:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def account_updated(
    stripe_account_id: str, account_id: str, transfers: str, event_id: str = "evt_1"
) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "account.updated",
            "account": stripe_account_id,
            "data": {
                "object": {
                    "id": stripe_account_id,
                    "object": "account",
                    "metadata": {"account_id": account_id},
                    "capabilities": {"transfers": transfers},
                    "requirements": {"currently_due": [], "disabled_reason": None},
                }
            },
        }
    ).encode()


@pytest.fixture
def service(app, connect: FakeConnect):
    gateway = ConnectGateway(
        StripeSettings(api_key="sk_test_x", api_base="http://127.0.0.1:9", webhook_secret=SECRET)
    )
    # Stripe's calls (accounts) go to the fake; webhooks are checked by the real adapter.
    connect.webhook_event = gateway.webhook_event  # type: ignore[attr-defined]
    return worker_factory(PayoutsService, store=app, connect=connect)


def deliver(service, payload: bytes):
    return service.HandleStripeWebhook(
        api.HandleStripeWebhookRequest(payload=payload, signature=signed(payload)), None
    )


def opened(app, connect: FakeConnect, account_id: str = "e1") -> str:
    account, _ = app.activate_payout(
        connect, account_id=account_id, email="", country="US", return_url="r", refresh_url="f"
    )
    return str(account.stripe_account_id)


def test_a_signed_account_updated_activates_the_account(service, app, connect):
    stripe_id = opened(app, connect)
    connect.finish_onboarding(stripe_id)
    answer = deliver(service, account_updated(stripe_id, "e1", "active"))
    assert (answer.event_type, answer.handled, answer.duplicate) == (
        "account.updated",
        True,
        False,
    )
    assert app.payout_account("e1").active


def test_account_updated_believes_stripe_not_the_events_copy(service, app, connect):
    stripe_id = opened(app, connect)  # onboarding not finished at Stripe
    deliver(service, account_updated(stripe_id, "e1", "active"))
    assert not app.payout_account("e1").active
    assert connect.asked == [stripe_id]


def test_an_older_account_updated_arriving_last_does_not_undo_a_newer_one(service, app, connect):
    stripe_id = opened(app, connect)
    connect.finish_onboarding(stripe_id)
    deliver(service, account_updated(stripe_id, "e1", "active", event_id="evt_2"))
    deliver(service, account_updated(stripe_id, "e1", "inactive", event_id="evt_1"))
    assert app.payout_account("e1").active


def test_a_redelivered_account_updated_changes_nothing(service, app, connect):
    stripe_id = opened(app, connect)
    connect.finish_onboarding(stripe_id)
    payload = account_updated(stripe_id, "e1", "active", event_id="evt_7")
    assert deliver(service, payload).handled
    connect.accounts[stripe_id]["on"] = False  # Stripe restricts it meanwhile
    position = app.head()
    asked = list(connect.asked)
    again = deliver(service, payload)
    assert (again.handled, again.duplicate) == (False, True)
    assert app.head() == position and connect.asked == asked  # Stripe not even asked
    assert app.payout_account("e1").active  # a new event, not a repeat, will say otherwise


def test_a_redelivered_transfer_event_is_recorded_once(service, app):
    payload = json.dumps(
        {
            "id": "evt_tr_1",
            "object": "event",
            "type": "transfer.created",
            "data": {"object": {"id": "tr_1", "object": "transfer"}},
        }
    ).encode()
    assert not deliver(service, payload).duplicate
    position = app.head()
    assert deliver(service, payload).duplicate
    assert app.head() == position


def test_an_account_updated_for_someone_elses_stripe_account_changes_nothing(service, app, connect):
    app.activate_payout(
        connect, account_id="e1", email="", country="US", return_url="r", refresh_url="f"
    )
    payload = account_updated("acct_not_theirs", "e1", "active")
    service.HandleStripeWebhook(
        api.HandleStripeWebhookRequest(payload=payload, signature=signed(payload)), None
    )
    assert not app.payout_account("e1").active


@pytest.mark.parametrize("signature", ["", "t=1,v1=00", None])
def test_an_unsigned_or_forged_webhook_is_refused(service, app, signature):
    payload = account_updated("acct_1", "e1", "active")
    forged = signature if signature is not None else signed(payload, "whsec_someone_else")
    position = app.head()
    with pytest.raises(GrpcError) as refused:
        service.HandleStripeWebhook(
            api.HandleStripeWebhookRequest(payload=payload, signature=forged), None
        )
    assert json.loads(refused.value.message)["code"] == "invalid_webhook"
    assert app.head() == position


def test_statistics_before_activation_are_a_clear_precondition_error(service):
    with pytest.raises(GrpcError) as refused:
        service.GetPayoutStatistics(api.GetPayoutStatisticsRequest(account_id="e1"), None)
    assert json.loads(refused.value.message)["code"] == "payout_not_activated"
