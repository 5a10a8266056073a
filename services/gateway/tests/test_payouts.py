"""Payouts through the gateway: only experts and ambassadors, for themselves; the return and
refresh pages of Stripe's onboarding are ours; Connect webhooks forwarded byte for byte."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from contracts.payouts.v1 import payouts_pb2
from services.gateway.tests.conftest import bearer
from services.gateway.tests.fakes_calls_billing import PUBLIC_URL, Fakes, running_gateway

pytestmark = pytest.mark.anyio

SIGNATURE = "t=1700000000,v1=abc"
PAYLOAD = b'{"id": "evt_1", "type": "account.updated",  "account": "acct_1"}\n'


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fakes]:
    async with running_gateway(monkeypatch) as fakes:
        yield fakes


async def test_activating_payout_asks_for_the_callers_account(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/me/payout", json={"country": "DE"}, headers=bearer("expert", sub="acc-77")
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "pending",
        "country": "DE",
        "onboarding_url": "https://connect.stripe.test/setup/acct_1",
    }
    assert gateway.payouts.last("ActivatePayout").request == payouts_pb2.ActivatePayoutRequest(
        account_id="acc-77",
        country="DE",
        return_url=f"{PUBLIC_URL}/payout/return",
        refresh_url=f"{PUBLIC_URL}/payout/refresh",
    )


async def test_a_client_cannot_activate_payout(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/me/payout", json={"country": "DE"}, headers=bearer("client")
    )
    assert response.status_code == 403
    assert gateway.payouts.calls == []


async def test_an_unsupported_country_is_a_clear_422(gateway: Fakes) -> None:
    body = {
        "code": "unsupported_payout_country",
        "message": "Payouts are not available in 'IN'.",
        "field": "country",
    }
    gateway.payouts.fail("ActivatePayout", grpc.StatusCode.INVALID_ARGUMENT, body)
    response = await gateway.client.post(
        "/v1/me/payout", json={"country": "IN"}, headers=bearer("ambassador")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unsupported_payout_country"


async def test_a_malformed_country_never_reaches_payouts(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/me/payout", json={"country": "Germany"}, headers=bearer("expert")
    )
    assert response.status_code == 422
    assert gateway.payouts.calls == []


async def test_statistics_show_money_for_people_and_programs(gateway: Fakes) -> None:
    response = await gateway.client.get("/v1/me/payout/statistics", headers=bearer("expert"))
    assert response.status_code == 200
    stats = response.json()
    assert stats["weeks"][0]["earnings"] == {"currency": "USD", "amount": "81.00", "minor": 8100}
    assert (stats["sessions"], stats["minutes"], stats["average_rating"]) == (1, 30, "4.67")
    assert [t["status"] for t in stats["transfers"]] == ["sent", "failed"]
    assert stats["transfers"][1]["reason"] == "No balance."


async def test_statistics_before_activation_are_refused(gateway: Fakes) -> None:
    body = {"code": "payout_not_activated", "message": "Activate payout.", "field": None}
    gateway.payouts.fail("GetPayoutStatistics", grpc.StatusCode.FAILED_PRECONDITION, body)
    response = await gateway.client.get("/v1/me/payout/statistics", headers=bearer("expert"))
    assert response.status_code == 409
    assert response.json()["code"] == "payout_not_activated"


async def test_connect_webhooks_reach_payouts_byte_for_byte(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/stripe/connect-webhooks",
        content=PAYLOAD,
        headers={"Stripe-Signature": SIGNATURE, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert gateway.payouts.last("HandleStripeWebhook").request == (
        payouts_pb2.HandleStripeWebhookRequest(payload=PAYLOAD, signature=SIGNATURE)
    )


async def test_the_onboarding_return_page_is_served(gateway: Fakes) -> None:
    for path in ("/payout/return", "/payout/refresh"):
        response = await gateway.client.get(path)
        assert response.status_code == 200 and "Activate payout" in response.text
