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

from headstore.payouts.v1 import payouts_pb2 as api
from headstore.stripe_api import StripeSettings
from services.payouts.adapters.stripe import ConnectGateway
from services.payouts.service import PayoutsService

from .conftest import FakeConnect

SECRET = "whsec_test_connect"


def signed(payload: bytes, secret: str = SECRET) -> str:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def account_updated(stripe_account_id: str, account_id: str, transfers: str) -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
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
    worker = worker_factory(PayoutsService, store=app, connect=gateway)
    # Stripe's calls (opening accounts) go to the fake; webhooks are checked by the real adapter.
    worker.fake_connect = connect
    return worker


def test_a_signed_account_updated_activates_the_account(service, app, connect):
    account, _ = app.activate_payout(
        connect, account_id="e1", email="", country="US", return_url="r", refresh_url="f"
    )
    payload = account_updated(account.stripe_account_id, "e1", "active")
    answer = service.HandleStripeWebhook(
        api.HandleStripeWebhookRequest(payload=payload, signature=signed(payload)), None
    )
    assert (answer.event_type, answer.handled) == ("account.updated", True)
    assert app.payout_account("e1").active


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
