"""The Stripe stand-in takes the parameters Stripe's published API takes on the endpoints
Headstore calls, and refuses any other as Stripe does (400 `parameter_unknown`); billing's and
payouts' own calls are accepted. Through the official SDK and the services' adapters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from devtools.stripe_testing import client_of, hold
from devtools.testing import ROOT, stripe_stand_in
from headstore.stripe_api import StripeSettings
from scripts.stripe_shapes import ENDPOINTS, request_parameters
from services.billing.adapters.stripe import StripeGateway
from services.payouts.adapters.stripe import ConnectGateway

SPEC = json.loads((ROOT / "devtools/stripe_openapi/shapes.json").read_text())


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with stripe_stand_in(tmp_path_factory.mktemp("stripe-params") / "server.log") as url:
        yield url


@pytest.fixture
def client(server_url: str) -> stripe.StripeClient:
    return client_of(server_url)


def test_an_unknown_parameter_is_refused_as_stripe_refuses_it(
    client: stripe.StripeClient,
) -> None:
    params: Any = {"amount": 1000, "currency": "usd", "colour": "blue"}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(params)
    error = refused.value
    assert (error.http_status, error.code, error.param) == (400, "parameter_unknown", "colour")
    assert error.user_message == "Received unknown parameter: colour"


def test_a_parameter_the_current_api_removed_is_refused(client: stripe.StripeClient) -> None:
    # `save_payment_method` left PaymentIntents in 2019 (now `setup_future_usage`)
    removed: Any = {"amount": 1000, "currency": "usd", "save_payment_method": True}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(removed)
    assert refused.value.param == "save_payment_method"
    current: Any = {"amount": 1000, "currency": "usd", "description": "kept"}
    assert client.v1.payment_intents.create(current).amount == 1000


def test_query_parameters_of_lists_are_checked_too(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        unknown: Any = {"recipient": "acct_1"}
        client.v1.transfers.list(unknown)
    assert refused.value.code == "parameter_unknown"
    assert client.v1.transfers.list({"limit": 3}).data is not None


def test_nested_parameters_count_by_their_top_level_name(client: stripe.StripeClient) -> None:
    intent = hold(client, 2000)  # card[number], card[cvc] and the like: `card`
    captured = client.v1.payment_intents.capture(
        intent.id, {"amount_to_capture": 1500, "metadata": {"block": "1"}}
    )
    assert captured.amount_received == 1500
    with pytest.raises(stripe.InvalidRequestError) as refused:
        wrong: Any = {"amount": 5}
        client.v1.payment_intents.capture(intent.id, wrong)
    assert refused.value.param == "amount"


def test_what_stripe_js_adds_is_taken(client: stripe.StripeClient) -> None:
    response = client.raw_request(
        "post",
        "/v1/payment_methods",
        type="card",
        card={"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        payment_user_agent="stripe.js/v3",
        referrer="https://headstore.test/card",
    )
    assert json.loads(response.body)["object"] == "payment_method"


def test_billings_and_payouts_own_calls_are_accepted(server_url: str) -> None:
    settings = StripeSettings(api_key="sk_test_x", api_base=server_url)
    billing = StripeGateway(settings)
    run = uuid.uuid4().hex[:8]
    customer = billing.customer_for(f"client-{run}")
    assert billing.setup_intent(customer).customer == customer
    card: Any = {
        "type": "card",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    }
    method = client_of(server_url).v1.payment_methods.create(card)
    assert billing.attach_card(customer, method.id).last4 == "4242"
    kept = billing.hold(f"s-{run}:1:hold", customer, method.id, 3000, "USD", "session, block 1")
    released = billing.hold(f"s-{run}:2:hold", customer, method.id, 2000, "USD", "block 2")
    assert kept.payment_intent_id and released.payment_intent_id
    billing.capture(f"s-{run}:1:capture", kept.payment_intent_id, 2500)
    billing.cancel(f"s-{run}:2:cancel", released.payment_intent_id)
    refunded = billing.refund(
        f"s-{run}:refund:{kept.payment_intent_id}", kept.payment_intent_id, 2500
    )
    # Asked again after the key was forgotten: looked up (refunds.list), not refunded twice.
    again = billing.refund(f"s-{run}:refund-again", kept.payment_intent_id, 2500)
    assert again == refunded
    # A dispute or a dashboard refund names the PaymentIntent; its metadata names the session.
    assert billing.session_of(kept.payment_intent_id) == f"s-{run}"

    payouts = ConnectGateway(settings)
    account = payouts.create_account(f"acct-{run}", f"expert-{run}", "e@example.com", "US", "full")
    link = payouts.onboarding_link(account, "https://h.test/return", "https://h.test/refresh")
    assert link.startswith("http")
    client_of(server_url).raw_request("post", f"/_dev/accounts/{account}/complete_onboarding")
    assert payouts.account_state(account).transfers_enabled
    sent = payouts.transfer(
        f"transfer-{run}",
        amount=1000,
        currency="usd",
        destination=account,
        transfer_group=f"week-{run}",
        metadata={"account_id": f"expert-{run}"},
    )
    assert sent.transfer_id, sent.refused_reason


def test_the_parameter_lists_come_from_stripes_spec() -> None:
    assert SPEC["source"]["repo"] == "stripe/openapi"
    assert set(SPEC["requests"]) == {f"{m.upper()} {p}" for m, p in ENDPOINTS}
    assert "amount_to_capture" in SPEC["requests"]["POST /v1/payment_intents/{intent}/capture"]
    operation = {
        "parameters": [{"in": "query", "name": "expand"}],
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"properties": {"amount": {}, "metadata": {}}}
                }
            }
        },
    }
    paths: dict[str, Any] = {}
    for method, path in ENDPOINTS:
        paths.setdefault(path, {})[method] = operation
    extracted = request_parameters({"paths": paths})
    assert extracted["POST /v1/refunds"] == ["amount", "expand", "metadata"]
