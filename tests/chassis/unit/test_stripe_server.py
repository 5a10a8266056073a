"""The local Stripe stand-in, driven only through the official `stripe` SDK.

The server runs as `python -m devtools.stripe_server --port 0` in a subprocess on 127.0.0.1;
webhooks are received by a small HTTP server in this process and verified with the SDK.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stripe

from devtools.stripe_server import IdempotencyCache, SavedResponse, card_details, luhn_valid
from devtools.testing import ROOT, stripe_stand_in
from headstore.stripe_api import StripeSettings
from services.billing.adapters.stripe import StripeGateway


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with stripe_stand_in(tmp_path_factory.mktemp("stripe") / "server.log") as url:
        yield url


@pytest.fixture
def client(server_url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key="sk_test_x", base_addresses={"api": server_url}, max_network_retries=0
    )


def card(number: str, cvc: str = "123") -> dict[str, Any]:
    return {
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": cvc},
    }


def hold(client: stripe.StripeClient, amount: int, number: str = "4242424242424242") -> Any:
    pm = client.v1.payment_methods.create(card(number))  # type: ignore[arg-type]
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "usd",
            "payment_method": pm.id,
            "capture_method": "manual",
            "confirm": True,
        }
    )


# --- Idempotency ---------------------------------------------------------------------------------


def test_idempotent_create_replays_the_first_payment_intent(client: stripe.StripeClient) -> None:
    key = f"pi-{uuid.uuid4()}"
    params: Any = {"amount": 1500, "currency": "usd", "metadata": {"session": "s1"}}
    first = client.v1.payment_intents.create(params, {"idempotency_key": key})
    again = client.v1.payment_intents.create(params, {"idempotency_key": key})
    assert again.id == first.id
    assert again.last_response is not None and first.last_response is not None
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None

    other: Any = dict(params, amount=1600)
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(other, {"idempotency_key": key})
    assert raised.value.http_status == 400
    assert "same parameters" in str(raised.value.user_message)
    # the same key on another endpoint is also a different request
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": key})


def test_concurrent_requests_with_one_key_execute_once(client: stripe.StripeClient) -> None:
    key = f"pi-{uuid.uuid4()}"
    marker = uuid.uuid4().hex
    params: Any = {"amount": 700, "currency": "usd", "metadata": {"marker": marker}}
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda _: client.v1.payment_intents.create(params, {"idempotency_key": key}),
                range(6),
            )
        )
    assert len({r.id for r in results}) == 1
    created = [
        pi
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("marker") == marker
    ]
    assert len(created) == 1


def test_a_declined_card_error_is_replayed_too(client: stripe.StripeClient) -> None:
    pm = client.v1.payment_methods.create(card("4000000000000002"))  # type: ignore[arg-type]
    key = f"pi-{uuid.uuid4()}"
    params: Any = {"amount": 900, "currency": "usd", "payment_method": pm.id, "confirm": True}
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as raised:
            client.v1.payment_intents.create(params, {"idempotency_key": key})
        errors.append(raised.value)
    assert errors[0].json_body == errors[1].json_body
    assert errors[1].headers is not None
    assert errors[1].headers.get("Idempotent-Replayed") == "true"


def test_idempotency_cache_forgets_after_24_hours() -> None:
    now = [1_000_000.0]
    cache = IdempotencyCache(clock=lambda: now[0])
    cache.put(("", "k"), SavedResponse("f", 200, b"{}", "application/json", "req_1", now[0]))
    now[0] += 24 * 3600 - 1
    assert cache.get(("", "k")) is not None
    now[0] += 1
    assert cache.get(("", "k")) is None


# --- Payment intents -----------------------------------------------------------------------------


def test_manual_capture_hold_then_partial_capture(client: stripe.StripeClient) -> None:
    pi = hold(client, 9000)
    assert pi.status == "requires_capture"
    assert pi.amount_capturable == 9000
    assert pi.amount_received == 0

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.capture(pi.id, {"amount_to_capture": 9001})
    assert raised.value.code == "amount_too_large"

    captured = client.v1.payment_intents.capture(pi.id, {"amount_to_capture": 6000})
    assert captured.status == "succeeded"
    assert captured.amount_received == 6000
    assert captured.amount_capturable == 0
    assert isinstance(captured.latest_charge, str)

    charge = client.v1.charges.retrieve(captured.latest_charge)
    assert charge.amount == 9000 and charge.amount_captured == 6000 and charge.captured
    txns = client.v1.balance_transactions.list({"source": charge.id}).data
    # Stripe's fee: 2.9% + 30 cents
    assert [(t.type, t.amount, t.fee, t.net) for t in txns] == [("charge", 6000, 204, 5796)]
    assert charge.balance_transaction == txns[0].id

    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.capture(pi.id)
    assert again.value.code == "payment_intent_unexpected_state"


def test_full_capture_and_automatic_capture_set_amount_received(
    client: stripe.StripeClient,
) -> None:
    pi = hold(client, 4200)
    assert client.v1.payment_intents.capture(pi.id).amount_received == 4200
    auto: Any = client.v1.payment_intents.create(
        {"amount": 1234, "currency": "gbp", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert auto.status == "succeeded"
    assert auto.amount_received == 1234 and auto.amount_capturable == 0
    assert auto.payment_method.startswith("pm_") and auto.payment_method != "pm_card_visa"


def test_cancel_releases_the_hold(client: stripe.StripeClient) -> None:
    pi = hold(client, 3000)
    canceled = client.v1.payment_intents.cancel(
        pi.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.amount_capturable == 0 and canceled.amount_received == 0
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.canceled_at is not None
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.capture(pi.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.cancel(pi.id)


@pytest.mark.parametrize(
    ("number", "decline_code"),
    [
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000341", "generic_decline"),
    ],
)
def test_declined_card_raises_card_error(
    client: stripe.StripeClient, number: str, decline_code: str
) -> None:
    pm = client.v1.payment_methods.create(card(number))  # type: ignore[arg-type]
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            {
                "amount": 500,
                "currency": "usd",
                "payment_method": pm.id,
                "capture_method": "manual",
                "confirm": True,
            }
        )
    error = raised.value
    assert error.code == "card_declined"
    assert error.error is not None and error.error.type == "card_error"
    assert error.error.decline_code == decline_code
    assert error.error.payment_intent is not None
    failed: Any = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error.decline_code == decline_code


def test_declined_card_cannot_be_attached(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "d@example.com"})
    pm = client.v1.payment_methods.create(card("4000000000000002"))  # type: ignore[arg-type]
    with pytest.raises(stripe.CardError):
        client.v1.payment_methods.attach(pm.id, {"customer": customer.id})


def test_incorrect_number_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_methods.create(card("4242424242424241"))  # type: ignore[arg-type]
    assert raised.value.code == "incorrect_number"


# --- Cards ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "cvc", "brand", "country"),
    [
        ("4242424242424242", "123", "visa", "US"),
        ("5555555555554444", "123", "mastercard", "US"),
        ("378282246310005", "1234", "amex", "US"),
        ("6011111111111117", "123", "discover", "US"),
        ("3566002020360505", "123", "jcb", "US"),
        ("3056930009020004", "123", "diners", "US"),
        ("36227206271667", "123", "diners", "US"),
        ("4000008260000000", "123", "visa", "GB"),
        ("4000007560000009", "123", "visa", "CH"),
        ("4000001240000000", "123", "visa", "CA"),
        ("4000002760000016", "123", "visa", "DE"),
    ],
)
def test_card_brand_and_country(
    client: stripe.StripeClient, number: str, cvc: str, brand: str, country: str
) -> None:
    pm = client.v1.payment_methods.create(card(number, cvc))  # type: ignore[arg-type]
    assert pm.card is not None
    assert (pm.card.brand, pm.card.country, pm.card.last4) == (brand, country, number[-4:])
    pi = client.v1.payment_intents.create(
        {"amount": 100, "currency": "usd", "payment_method": pm.id, "confirm": True}
    )
    assert pi.status == "succeeded"


def test_test_payment_method_ids(client: stripe.StripeClient) -> None:
    amex = client.v1.payment_methods.retrieve("pm_card_amex")
    assert amex.card is not None and amex.card.brand == "amex"
    gb = client.v1.payment_methods.retrieve("pm_card_gb")
    assert gb.card is not None and gb.card.country == "GB"


def test_card_number_helpers() -> None:
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424241")
    assert card_details("4111111111111111") == ("visa", "US", "credit")
    assert card_details("5105105105105100")[2] == "prepaid"
    assert card_details("3530111333300000")[0] == "jcb"


# --- Connect -------------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers.get("Stripe-Signature", "")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    received: list[tuple[bytes, str]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/stripe/webhook", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def onboarded_account(client: stripe.StripeClient, email: str) -> Any:
    account = client.v1.accounts.create(
        {
            "type": "express",
            "country": "GB",
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
            "tos_acceptance": {"service_agreement": "recipient"},  # abroad, from a US platform
        }
    )
    client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
    return account


def test_connect_onboarding_sends_a_verified_account_updated_webhook(
    client: stripe.StripeClient, webhook_receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    url, received = webhook_receiver
    endpoint = client.v1.webhook_endpoints.create(
        {"url": url, "enabled_events": ["account.updated"], "connect": True}
    )
    assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")
    try:
        account = client.v1.accounts.create(
            {
                "type": "express",
                "country": "CH",
                "email": "expert@example.com",
                "capabilities": {"transfers": {"requested": True}},
                "tos_acceptance": {"service_agreement": "recipient"},
            }
        )
        assert account.object == "account" and account.id.startswith("acct_")
        assert (account.charges_enabled, account.payouts_enabled) == (False, False)
        assert account.details_submitted is False
        assert account.default_currency == "chf"
        assert account.capabilities is not None
        assert account.capabilities.transfers == "inactive"
        assert account.requirements is not None and account.requirements.currently_due

        link = client.v1.account_links.create(
            {
                "account": account.id,
                "refresh_url": "https://headstore.test/reauth",
                "return_url": "https://headstore.test/return",
                "type": "account_onboarding",
            }
        )
        assert link.object == "account_link"
        assert link.url.startswith("http") and link.expires_at > link.created

        response = client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
        done: Any = client.deserialize(response, api_mode="V1")
        assert done.payouts_enabled is True

        fetched = client.v1.accounts.retrieve(account.id)
        # a recipient account takes no charges of its own
        assert (fetched.charges_enabled, fetched.payouts_enabled) == (False, True)
        assert fetched.details_submitted is True
        assert fetched.capabilities is not None and fetched.capabilities.transfers == "active"
        assert account.id in [a.id for a in client.v1.accounts.list({"limit": 100}).data]

        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(received) == 1
        payload, signature = received[0]
        event = stripe.Webhook.construct_event(payload.decode(), signature, endpoint.secret)
        assert event.type == "account.updated"
        assert event.account == account.id
        assert event.data.object.id == account.id
        assert event.data.object.payouts_enabled is True
        assert event.data.previous_attributes["payouts_enabled"] is False
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload.decode(), signature, "whsec_wrong")
    finally:
        client.v1.webhook_endpoints.delete(endpoint.id)


def test_unknown_account_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve("acct_doesnotexist")
    with pytest.raises(stripe.StripeError):
        client.v1.account_links.create(
            {
                "account": "acct_doesnotexist",
                "refresh_url": "https://headstore.test/reauth",
                "return_url": "https://headstore.test/return",
                "type": "account_onboarding",
            }
        )


def test_transfer_before_onboarding_is_refused(client: stripe.StripeClient) -> None:
    account = client.v1.accounts.create({"type": "express", "country": "US"})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.transfers.create({"amount": 100, "currency": "usd", "destination": account.id})
    assert raised.value.code == "insufficient_capabilities_for_transfer"


def fund(client: stripe.StripeClient, amount: int, currency: str = "usd") -> Any:
    """Funds available at once: a charge on Stripe's "bypass pending" test card."""
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": currency,
            "payment_method": "pm_card_bypassPending",
            "confirm": True,
        }
    )


def test_transfer_with_group_creates_a_balance_transaction(client: stripe.StripeClient) -> None:
    account = onboarded_account(client, "payee@example.com")
    fund(client, 10000)
    group = f"week-{uuid.uuid4().hex[:8]}"
    transfer: Any = client.v1.transfers.create(
        {
            "amount": 8100,
            "currency": "usd",
            "destination": account.id,
            "transfer_group": group,
            "metadata": {"expert": "e1"},
        }
    )
    assert transfer.object == "transfer" and transfer.id.startswith("tr_")
    assert (transfer.amount, transfer.currency, transfer.destination) == (8100, "usd", account.id)
    assert transfer.transfer_group == group and transfer.metadata["expert"] == "e1"
    assert transfer.amount_reversed == 0 and transfer.reversed is False
    assert client.v1.transfers.retrieve(transfer.id).id == transfer.id

    txn = client.v1.balance_transactions.retrieve(transfer.balance_transaction)
    assert (txn.type, txn.amount, txn.fee, txn.net) == ("transfer", -8100, 0, -8100)
    assert txn.source == transfer.id and txn.reporting_category == "transfer"

    other = client.v1.transfers.create(
        {"amount": 100, "currency": "usd", "destination": account.id}
    )
    grouped = client.v1.transfers.list({"transfer_group": group}).data
    assert [t.id for t in grouped] == [transfer.id]
    by_account = client.v1.transfers.list({"destination": account.id}).data
    assert [t.id for t in by_account] == [other.id, transfer.id]  # newest first


def test_balance_transaction_filters(client: stripe.StripeClient) -> None:
    account = onboarded_account(client, "filters@example.com")
    pi = hold(client, 2500)
    client.v1.payment_intents.capture(pi.id)
    charge_id: Any = client.v1.payment_intents.retrieve(pi.id).latest_charge
    transfer = client.v1.transfers.create(
        {"amount": 2250, "currency": "usd", "destination": account.id}
    )

    transfers = client.v1.balance_transactions.list({"type": "transfer", "limit": 100}).data
    assert transfers and {t.type for t in transfers} == {"transfer"}
    assert transfer.balance_transaction in [t.id for t in transfers]
    charges = client.v1.balance_transactions.list({"type": "charge", "limit": 100}).data
    assert charges and {t.type for t in charges} == {"charge"}
    by_source = client.v1.balance_transactions.list({"source": charge_id}).data
    assert [(t.type, t.amount, t.net) for t in by_source] == [("charge", 2500, 2397)]
    both = client.v1.balance_transactions.list({"type": "transfer", "source": transfer.id}).data
    assert [t.id for t in both] == [transfer.balance_transaction]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.balance_transactions.list({"type": "nonsense"})

    balance = client.v1.balance.retrieve()
    usd = [b for b in balance.available if b.currency == "usd"]
    assert len(usd) == 1
    everything = client.v1.balance_transactions.list({"currency": "usd", "limit": 100})
    assert usd[0].amount == sum(t.net for t in everything.auto_paging_iter())


def test_unknown_route_is_a_json_error(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.raw_request("get", "/v1/no_such_things")
    assert "Unrecognized request URL" in str(raised.value.user_message)
    assert (
        json.loads(json.dumps(raised.value.json_body))["error"]["type"] == "invalid_request_error"
    )


def test_account_link_page_finishes_onboarding_once(client: stripe.StripeClient) -> None:
    # The link is what a browser opens (no API key, no SDK): a plain GET, redirected back.
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    account = client.v1.accounts.create(
        {"type": "express", "country": "FR", "tos_acceptance": {"service_agreement": "recipient"}}
    )
    link = client.v1.account_links.create(
        {
            "account": account.id,
            "refresh_url": "https://headstore.test/reauth",
            "return_url": "https://headstore.test/return",
            "type": "account_onboarding",
        }
    )
    locations = []
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as raised:
            opener.open(link.url, timeout=10)
        assert raised.value.code == 302
        locations.append(raised.value.headers["Location"])
    assert locations == ["https://headstore.test/return", "https://headstore.test/reauth"]
    assert client.v1.accounts.retrieve(account.id).payouts_enabled is True


def test_an_off_session_hold_keeps_its_description(client):
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    customer = client.v1.customers.create(params={"email": "hold@example.com"})
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    intent = client.v1.payment_intents.create(
        params={
            "amount": 3000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": method.id,
            "capture_method": "manual",
            "confirm": True,
            "off_session": True,
            "description": "session s-1, minutes 1-10",
        },
        options={"idempotency_key": "s-1:1:hold"},
    )
    assert intent.status == "requires_capture"
    assert client.v1.payment_intents.retrieve(intent.id).description == (
        "session s-1, minutes 1-10"
    )


def test_each_captured_payment_intent_books_one_charge_transaction(
    client: stripe.StripeClient,
) -> None:
    # What finance reconciles: a captured PaymentIntent's `latest_charge` names a charge with
    # one balance transaction (type charge, the captured amount, source = the charge); a hold
    # that is cancelled books nothing.
    captured = [hold(client, 5000), hold(client, 3000)]
    client.v1.payment_intents.capture(captured[0].id, {"amount_to_capture": 4100})
    client.v1.payment_intents.capture(captured[1].id)
    cancelled = hold(client, 7000)
    client.v1.payment_intents.cancel(cancelled.id)

    booked: dict[str, list[Any]] = {}
    listing = client.v1.balance_transactions.list({"type": "charge", "limit": 2})
    for txn in listing.auto_paging_iter():
        booked.setdefault(str(txn.source), []).append(txn)
    for intent, amount in ((captured[0], 4100), (captured[1], 3000)):
        charge_id: Any = client.v1.payment_intents.retrieve(intent.id).latest_charge
        charge = client.v1.charges.retrieve(charge_id)
        assert charge.payment_intent == intent.id
        assert [(t.amount, t.currency, t.id) for t in booked[charge_id]] == [
            (amount, "usd", charge.balance_transaction)
        ]
    cancelled_charge: Any = client.v1.payment_intents.retrieve(cancelled.id).latest_charge
    assert cancelled_charge not in booked


# --- Webhook endpoints configured at start-up -------------------------------------------------


def receiver() -> tuple[ThreadingHTTPServer, str, list[tuple[bytes, str]]]:
    received: list[tuple[bytes, str]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/stripe/webhook", received


def event_types(received: list[tuple[bytes, str]], secret: str) -> list[str]:
    """The types of the deliveries, each verified with `secret` by the SDK."""
    return [
        stripe.Webhook.construct_event(payload.decode(), signature, secret).type
        for payload, signature in list(received)
    ]


def test_webhooks_given_at_start_up_get_platform_or_connect_events(tmp_path: Path) -> None:
    from devtools.testing import wait_until

    secrets = {
        "STRIPE_WEBHOOK_SECRET": f"whsec_platform_{uuid.uuid4().hex}",
        "STRIPE_CONNECT_WEBHOOK_SECRET": f"whsec_connect_{uuid.uuid4().hex}",
    }
    platform_httpd, platform_url, platform = receiver()
    connect_httpd, connect_url, connect = receiver()
    try:
        with stripe_stand_in(
            tmp_path / "stripe.log",
            "--webhook",
            platform_url,
            "--connect-webhook",
            connect_url,
            env=secrets,
        ) as url:
            client = stripe.StripeClient(
                api_key="sk_test_x", base_addresses={"api": url}, max_network_retries=0
            )
            endpoints = client.v1.webhook_endpoints.list().data
            assert sorted((e.url, e.enabled_events) for e in endpoints) == sorted(
                [(platform_url, ["*"]), (connect_url, ["*"])]
            )
            account = client.v1.accounts.create({"type": "express", "country": "US"})
            client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
            connect_secret = secrets["STRIPE_CONNECT_WEBHOOK_SECRET"]
            platform_secret = secrets["STRIPE_WEBHOOK_SECRET"]
            wait_until(
                lambda: "account.updated" in event_types(connect, connect_secret),
                timeout=15,
                what="account.updated at the connect endpoint",
            )
            client.v1.customers.create({"email": "platform@example.com"})
            wait_until(
                lambda: (
                    "customer.created" in event_types(platform, secrets["STRIPE_WEBHOOK_SECRET"])
                ),
                timeout=15,
                what="customer.created at the platform endpoint",
            )
            # Deliveries of one event go to the endpoints in the order they were given, so the
            # platform endpoint would have had account.updated before the connect one did.
            assert "account.updated" not in event_types(platform, platform_secret)
            assert "customer.created" not in event_types(connect, connect_secret)
            payload, signature = connect[0]
            with pytest.raises(stripe.SignatureVerificationError):
                stripe.Webhook.construct_event(payload.decode(), signature, platform_secret)
    finally:
        for httpd in (platform_httpd, connect_httpd):
            httpd.shutdown()
            httpd.server_close()


def test_webhook_secrets_default_to_the_services_dev_secrets() -> None:
    from devtools import stripe_server

    saved = {
        k: os.environ.pop(k, None)
        for k in ("STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET")
    }
    try:
        assert stripe_server.webhook_secret() == "whsec_headstore_dev"
        assert stripe_server.webhook_secret(connect=True) == "whsec_headstore_connect_dev"
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def test_a_bad_webhook_url_is_refused_at_start_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.stripe_server", "--port", "0", "--webhook", "nope"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"webhook: Invalid URL" in done.stderr


# --- What Stripe refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "minimum"), [("usd", 50), ("eur", 50), ("gbp", 40), ("jpy", 50), ("sek", 300)]
)
def test_a_charge_below_the_currencys_minimum_is_refused_as_stripe_refuses_it(
    client: stripe.StripeClient, currency: str, minimum: int
) -> None:
    pm = client.v1.payment_methods.create(card("4242424242424242"))  # type: ignore[arg-type]

    def hold_of(amount: int) -> Any:
        return client.v1.payment_intents.create(
            {
                "amount": amount,
                "currency": currency,
                "payment_method": pm.id,
                "capture_method": "manual",
                "confirm": True,
            }
        )

    with pytest.raises(stripe.InvalidRequestError) as refused:
        hold_of(minimum - 1)
    assert (refused.value.code, refused.value.param) == ("amount_too_small", "amount")
    assert currency in str(refused.value).lower()
    at_the_minimum = hold_of(minimum)
    assert at_the_minimum.status == "requires_capture"


def test_a_charge_must_convert_to_the_settlement_currencys_minimum(
    client: stripe.StripeClient,
) -> None:
    # GBP's own minimum is 0.30, but this platform settles in USD: at the stand-in's 1.27,
    # 0.35 GBP is 0.44 USD, under USD's minimum of 0.50 (0.39 GBP is 0.4953: refused too).
    for amount in (35, 39):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.payment_intents.create(
                {"amount": amount, "currency": "gbp", "payment_method": "pm_card_visa"}
            )
        assert refused.value.code == "amount_too_small"
    assert str(refused.value.user_message).startswith("Amount must convert to at least 0.50 USD.")
    with pytest.raises(stripe.InvalidRequestError) as first:
        client.v1.payment_intents.create(
            {"amount": 35, "currency": "gbp", "payment_method": "pm_card_visa"}
        )
    assert str(first.value.user_message) == (
        "Amount must convert to at least 0.50 USD. 0.35 GBP converts to approximately 0.44 USD."
    )


def test_billing_ends_a_hold_stripe_refuses_with_a_clear_reason_instead_of_retrying(
    client: stripe.StripeClient, server_url: str
) -> None:
    """A hold under the minimum is not a card decline, but asking again would be refused
    again: billing's adapter answers it as a refused hold, once, saying why."""
    gateway = StripeGateway(StripeSettings(api_key="sk_test_x", api_base=server_url))
    customer = gateway.customer_for(f"client-{uuid.uuid4()}")
    pm = client.v1.payment_methods.create(card("4242424242424242"))  # type: ignore[arg-type]
    refused = gateway.hold(f"hold-{uuid.uuid4()}", customer, pm.id, 49, "USD", "block 1")
    assert not refused.placed
    assert refused.declined_reason == (
        "This amount is below the smallest card payment Stripe takes in USD."
    )
    placed = gateway.hold(f"hold-{uuid.uuid4()}", customer, pm.id, 50, "USD", "block 1")
    assert placed.placed


class _CountedResponse(SavedResponse):
    """A saved response that counts how often its time is looked at."""

    looked_at = 0

    def __getattribute__(self, name: str) -> Any:
        if name == "saved_at":
            _CountedResponse.looked_at += 1
        return super().__getattribute__(name)


def _saved_responses_looked_at(kept: int, requests: int) -> int:
    now = [1_000_000.0]
    cache = IdempotencyCache(clock=lambda: now[0])
    for i in range(kept):
        cache.put(
            ("", f"kept-{i}"), _CountedResponse("f", 200, b"{}", "application/json", "r", now[0])
        )
        now[0] += 1
    _CountedResponse.looked_at = 0
    for i in range(requests):
        assert cache.get(("", f"new-{i}")) is None
        cache.put(
            ("", f"new-{i}"), _CountedResponse("f", 200, b"{}", "application/json", "r", now[0])
        )
    return _CountedResponse.looked_at


def test_a_keyed_request_costs_the_same_however_many_keys_are_kept() -> None:
    assert _saved_responses_looked_at(5_000, 200) == _saved_responses_looked_at(100, 200)


def test_expired_keys_are_forgotten_from_the_oldest() -> None:
    now = [1_000_000.0]
    cache = IdempotencyCache(clock=lambda: now[0])
    for i in range(3):
        cache.put(("", f"k{i}"), SavedResponse("f", 200, b"{}", "application/json", "r", now[0]))
        now[0] += 3600
    now[0] += 24 * 3600 - 2 * 3600  # k0 is 25 h old, k1 24 h, k2 23 h
    assert cache.get(("", "k2")) is not None
    assert cache.get(("", "k1")) is None
    assert cache.get(("", "k0")) is None
