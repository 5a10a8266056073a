"""The card on file and Stripe's webhooks: BillingService requests with the caller's id from the
token; webhook bodies and signatures forwarded byte for byte."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from contracts.billing.v1 import billing_pb2
from services.gateway.tests.conftest import bearer
from services.gateway.tests.fakes_calls_billing import CLIENT_ID, Fakes, running_gateway
from services.gateway.webhooks import MAX_WEBHOOK_BYTES

pytestmark = pytest.mark.anyio

SIGNATURE = "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
# Stripe signs the exact bytes: odd spacing, key order, non-ASCII text and the trailing newline
# must all reach billing as they came.
PAYLOAD = (
    b'{\n  "id": "evt_1",  "type":"payment_intent.succeeded",\n'
    b'  "data": {"object": {"description": "Beratung \xc3\xbcber Steuern \xe2\x80\x94 30 min",'
    b' "amount": 9000}}\n}\n'
)


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fakes]:
    async with running_gateway(monkeypatch) as fakes:
        yield fakes


# -- the card on file --------------------------------------------------------------------------


async def test_a_setup_intent_is_for_the_caller(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/me/card/setup-intent", headers=bearer("client", sub=CLIENT_ID)
    )
    assert response.status_code == 200
    assert response.json() == {
        "setup_intent_id": "seti_1",
        "client_secret": "seti_1_secret_x",
        "customer_id": "cus_1",
    }
    assert gateway.billing.last("CreateSetupIntent").request == (
        billing_pb2.CreateSetupIntentRequest(client_id=CLIENT_ID)
    )


async def test_saving_a_card_sends_the_payment_method_for_the_caller(gateway: Fakes) -> None:
    response = await gateway.client.put(
        "/v1/me/card",
        json={"payment_method_id": "pm_card_visa"},
        headers=bearer("expert", sub="acc-77"),  # an expert can be a client too
    )
    assert response.status_code == 200
    assert response.json() == {
        "brand": "visa",
        "last4": "4242",
        "country": "US",
        "exp_month": 12,
        "exp_year": 2030,
    }
    assert gateway.billing.last("SaveCard").request == billing_pb2.SaveCardRequest(
        client_id="acc-77", payment_method_id="pm_card_visa"
    )


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "invalid_request", "payment_method_id"),
        ({"payment_method_id": ""}, "payment_method_id_too_short", "payment_method_id"),
        ({"payment_method_id": 42}, "invalid_request", "payment_method_id"),
        (
            {"payment_method_id": "pm_1", "client_id": "someone-else"},
            "invalid_request",
            "client_id",
        ),
    ],
)
async def test_a_bad_card_request_is_422_naming_the_field(
    gateway: Fakes, body: dict[str, object], code: str, field: str
) -> None:
    response = await gateway.client.put("/v1/me/card", json=body, headers=bearer("client"))
    assert response.status_code == 422
    assert set(response.json()) == {"code", "message", "field"}
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert gateway.billing.calls == []


async def test_a_card_brand_billing_refuses_keeps_its_code(gateway: Fakes) -> None:
    body = {
        "code": "card_brand_not_accepted",
        "message": "JCB cards are accepted in the US only.",
        "field": "payment_method_id",
    }
    gateway.billing.fail("SaveCard", grpc.StatusCode.INVALID_ARGUMENT, body)
    response = await gateway.client.put(
        "/v1/me/card", json={"payment_method_id": "pm_card_jcb"}, headers=bearer("client")
    )
    assert (response.status_code, response.json()) == (422, body)


async def test_the_callers_card(gateway: Fakes) -> None:
    response = await gateway.client.get("/v1/me/card", headers=bearer("client", sub=CLIENT_ID))
    assert response.status_code == 200
    assert (response.json()["brand"], response.json()["last4"]) == ("amex", "0005")
    assert gateway.billing.last("GetCard").request.client_id == CLIENT_ID


async def test_no_card_on_file_is_404_card_not_found(gateway: Fakes) -> None:
    body = {"code": "card_not_found", "message": "You have no card on file.", "field": None}
    gateway.billing.fail("GetCard", grpc.StatusCode.NOT_FOUND, body)
    response = await gateway.client.get("/v1/me/card", headers=bearer("client"))
    assert (response.status_code, response.json()) == (404, body)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/me/card/setup-intent"), ("PUT", "/v1/me/card"), ("GET", "/v1/me/card")],
)
async def test_card_routes_need_a_signed_in_caller(gateway: Fakes, method: str, path: str) -> None:
    response = await gateway.client.request(
        method, path, json={"payment_method_id": "pm_1"} if method == "PUT" else None
    )
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")
    assert gateway.billing.calls == []


# -- Stripe's webhooks -------------------------------------------------------------------------


async def test_a_webhook_reaches_billing_byte_for_byte_with_its_signature(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/stripe/webhooks",
        content=PAYLOAD,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": SIGNATURE,
        },
    )
    assert (response.status_code, response.json()) == (200, {"received": True})
    request = gateway.billing.last("HandleStripeWebhook").request
    assert request.payload == PAYLOAD
    assert request.signature == SIGNATURE


async def test_a_webhook_body_that_is_not_json_is_still_billings_to_judge(
    gateway: Fakes,
) -> None:
    payload = b"\x00\xffnot json\r\n"
    response = await gateway.client.post(
        "/v1/stripe/webhooks",
        content=payload,
        headers={"Content-Type": "text/plain", "stripe-signature": "t=1,v1=ab"},
    )
    assert response.status_code == 200
    request = gateway.billing.last("HandleStripeWebhook").request
    assert (request.payload, request.signature) == (payload, "t=1,v1=ab")


async def test_a_bad_signature_is_400_with_billings_code(gateway: Fakes) -> None:
    body = {
        "code": "invalid_webhook",
        "message": "The webhook's signature does not match.",
        "field": "Stripe-Signature",
    }
    gateway.billing.fail("HandleStripeWebhook", grpc.StatusCode.INVALID_ARGUMENT, body)
    response = await gateway.client.post(
        "/v1/stripe/webhooks", content=PAYLOAD, headers={"Stripe-Signature": "t=1,v1=bad"}
    )
    assert (response.status_code, response.json()) == (400, body)


async def test_a_webhook_without_a_signature_is_400_and_not_forwarded(gateway: Fakes) -> None:
    response = await gateway.client.post("/v1/stripe/webhooks", content=PAYLOAD)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == (
        "invalid_webhook",
        "Stripe-Signature",
    )
    assert gateway.billing.calls == []


async def test_a_webhook_too_big_to_be_stripes_is_413_and_not_forwarded(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/stripe/webhooks",
        content=b"{" + b" " * MAX_WEBHOOK_BYTES + b"}",
        headers={"Stripe-Signature": SIGNATURE},
    )
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert gateway.billing.calls == []


async def test_while_billing_is_down_stripe_is_told_to_retry(gateway: Fakes) -> None:
    gateway.billing.fail("HandleStripeWebhook", grpc.StatusCode.UNAVAILABLE, "connection refused")
    response = await gateway.client.post(
        "/v1/stripe/webhooks", content=PAYLOAD, headers={"Stripe-Signature": SIGNATURE}
    )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "billing" in response.json()["message"]
