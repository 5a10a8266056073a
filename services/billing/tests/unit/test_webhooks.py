"""Stripe's webhooks reach billing (through the gateway) and are believed only when signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from nameko.testing.services import worker_factory
from nameko_grpc.errors import GrpcError

from contracts.billing.v1 import billing_pb2 as api
from headstore.stripe_api import StripeSettings
from services.billing.adapters.stripe import StripeGateway
from services.billing.service import BillingService

SECRET = "whsec_test_billing"


def signed(payload: bytes, secret: str = SECRET) -> str:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@pytest.fixture
def service(app):
    gateway = StripeGateway(
        StripeSettings(api_key="sk_test_x", api_base="http://127.0.0.1:9", webhook_secret=SECRET)
    )
    return worker_factory(BillingService, stripe=gateway, store=app)


def event(kind: str, event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "data": {"object": {"id": "pi_1", "object": "payment_intent"}},
        }
    ).encode()


def test_a_signed_webhook_is_accepted(service):
    payload = event("payment_intent.succeeded")
    answer = service.HandleStripeWebhook(
        api.HandleStripeWebhookRequest(payload=payload, signature=signed(payload)), None
    )
    assert (answer.event_type, answer.handled) == ("payment_intent.succeeded", True)


@pytest.mark.parametrize("signature", ["", "t=1,v1=00", None])
def test_an_unsigned_or_forged_webhook_is_refused(service, signature):
    payload = event("payment_intent.succeeded")
    forged = signature if signature is not None else signed(payload, "whsec_someone_else")
    with pytest.raises(GrpcError) as refused:
        service.HandleStripeWebhook(
            api.HandleStripeWebhookRequest(payload=payload, signature=forged), None
        )
    assert json.loads(refused.value.message)["code"] == "invalid_webhook"


@pytest.mark.parametrize("kind", ["charge.dispute.created", "payment_intent.payment_failed"])
def test_webhooks_that_need_a_person_are_acknowledged_and_logged(service, kind, caplog):
    payload = event(kind)
    answer = service.HandleStripeWebhook(
        api.HandleStripeWebhookRequest(payload=payload, signature=signed(payload)), None
    )
    assert answer.handled and "pi_1" in caplog.text


def test_a_redelivered_webhook_changes_nothing_and_is_not_logged_again(service, app, caplog):
    payload = event("charge.dispute.created", event_id="evt_dispute_1")
    request = api.HandleStripeWebhookRequest(payload=payload, signature=signed(payload))
    first = service.HandleStripeWebhook(request, None)
    assert (first.handled, first.duplicate) == (True, False)
    position = app.head()
    caplog.clear()
    again = service.HandleStripeWebhook(request, None)
    assert (again.event_type, again.handled, again.duplicate) == (
        "charge.dispute.created",
        False,
        True,
    )
    assert app.head() == position
    assert "disputed" not in caplog.text
    other = event("charge.dispute.created", event_id="evt_dispute_2")
    assert service.HandleStripeWebhook(
        api.HandleStripeWebhookRequest(payload=other, signature=signed(other)), None
    ).handled
