"""Test support for the Stripe stand-in (devtools/stripe_server.py), used only through the
official `stripe` SDK: a client, the stand-in's dev routes (clock, network), money moved the way
billing and payouts move it, and a receiver of signed webhook deliveries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe


def client_of(url: str, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key="sk_test_x", base_addresses={"api": url}, max_network_retries=retries
    )


def dev_call(client: stripe.StripeClient, method: str, path: str, **params: Any) -> Any:
    """A dev route of the stand-in (`/_config/...`, `/_dev/...`), its JSON answer as a dict."""
    response = client.raw_request(method, path, **params)
    return json.loads(response.body)


def advance_clock(client: stripe.StripeClient, seconds: float) -> None:
    dev_call(client, "post", "/_config/clock", advance_seconds=seconds)


def balance(client: stripe.StripeClient, currency: str = "usd") -> tuple[int, int]:
    """(available, pending) in `currency`."""
    got = client.v1.balance.retrieve()

    def amount(funds: Any) -> int:
        return sum(f.amount for f in funds if f.currency == currency)

    return amount(got.available), amount(got.pending)


def hold(
    client: stripe.StripeClient, amount: int, currency: str = "usd", method: str = "pm_card_visa"
) -> Any:
    """A hold (manual capture, confirmed), as billing places it."""
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": currency,
            "payment_method": method,
            "capture_method": "manual",
            "confirm": True,
        }
    )


def captured(
    client: stripe.StripeClient, amount: int, currency: str = "usd", method: str = "pm_card_visa"
) -> Any:
    """The charge of a captured hold of `amount`."""
    intent = client.v1.payment_intents.capture(hold(client, amount, currency, method).id)
    return client.v1.charges.retrieve(str(intent.latest_charge))


def payee(client: stripe.StripeClient, country: str = "US") -> str:
    """An onboarded Express account that can receive transfers."""
    params: Any = {
        "type": "express",
        "country": country,
        "capabilities": {"transfers": {"requested": True}},
    }
    if country != "US":  # abroad, from a US platform: cross-border payouts
        params["tos_acceptance"] = {"service_agreement": "recipient"}
    account = client.v1.accounts.create(params)
    client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
    return account.id


def events(client: stripe.StripeClient, type: str, object_id: str) -> list[Any]:
    """The events of `type` about the object `object_id`, oldest first."""
    found = [
        e
        for e in client.v1.events.list({"limit": 100}).auto_paging_iter()
        if e.type == type and e.data.object.id == object_id
    ]
    return list(reversed(found))


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("Stripe-Signature", "")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Webhooks:
    """Deliveries to one webhook endpoint, verified with its secret by the SDK."""

    def __init__(self, received: list[tuple[bytes, str]], secret: str) -> None:
        self.received = received
        self.secret = secret

    def events(self) -> list[Any]:
        return [
            stripe.Webhook.construct_event(payload.decode(), signature, self.secret)
            for payload, signature in list(self.received)
        ]

    def wait_for(self, type: str, object_id: str, timeout: float = 10.0) -> Any:
        """The first delivered event of `type` about `object_id`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if event.type == type and event.data.object.id == object_id:
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no {type} about {object_id} delivered in {timeout}s")


@contextmanager
def webhooks(
    client: stripe.StripeClient, events: list[str], connect: bool = False
) -> Iterator[Webhooks]:
    """A webhook endpoint registered at the stand-in for `events`, receiving in this process."""
    received: list[tuple[bytes, str]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    endpoint = client.v1.webhook_endpoints.create(
        {
            "url": f"http://127.0.0.1:{httpd.server_address[1]}/stripe",
            "enabled_events": events,  # type: ignore[typeddict-item]
            "connect": connect,
        }
    )
    try:
        yield Webhooks(received, str(endpoint.secret))
    finally:
        client.v1.webhook_endpoints.delete(endpoint.id)
        httpd.shutdown()
        httpd.server_close()
