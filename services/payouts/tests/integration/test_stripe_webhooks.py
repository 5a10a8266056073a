"""Connect webhooks from the Stripe stand-in, signed as Stripe signs them, through payouts'
entrypoint to its store on PostgreSQL: account.updated asks Stripe (through the SDK) for the
account as it is now, and a redelivered event changes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe
from nameko.testing.services import worker_factory

from cli.main import migrate
from cli.registry import SERVICES
from contracts.payouts.v1 import payouts_pb2 as api
from devtools.testing import stripe_stand_in
from headstore.store import drop_database
from headstore.stripe_api import StripeSettings
from services.payouts.adapters.stripe import ConnectGateway
from services.payouts.application import PayoutsApplication
from services.payouts.service import PayoutsService

pytestmark = pytest.mark.integration


@pytest.fixture
def stand_in(tmp_path) -> Iterator[str]:
    # As Stripe: an account abroad (GB here, the platform in the US) is refused unless it is
    # opened under the recipient service agreement, which payouts asks for.
    with stripe_stand_in(tmp_path / "stripe.log") as url:
        yield url


@pytest.fixture
def app(settings) -> Iterator[PayoutsApplication]:
    drop_database("payouts", settings)
    migrate(settings, [SERVICES["payouts"]])
    application = PayoutsApplication(settings)
    yield application
    application.close()


@pytest.fixture
def received() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    """Where the stand-in posts its webhooks: (url, [(body, Stripe-Signature)])."""
    bodies: list[tuple[bytes, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            bodies.append((body, self.headers.get("Stripe-Signature", "")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/connect-webhooks", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_account_updated_from_the_stand_in_activates_once_and_a_redelivery_changes_nothing(
    stand_in, app, received
):
    url, bodies = received
    client = stripe.StripeClient(api_key="sk_test_x", base_addresses={"api": stand_in})
    endpoint = client.v1.webhook_endpoints.create(
        {"url": url, "enabled_events": ["account.updated"], "connect": True}
    )
    assert endpoint.secret
    connect = ConnectGateway(
        StripeSettings(api_key="sk_test_x", api_base=stand_in, webhook_secret=endpoint.secret)
    )
    service = worker_factory(PayoutsService, store=app, connect=connect)
    account, _ = app.activate_payout(
        connect,
        account_id="e1",
        email="e1@example.com",
        country="GB",
        return_url="https://headstore.test/return",
        refresh_url="https://headstore.test/refresh",
    )
    client.raw_request("post", f"/_dev/accounts/{account.stripe_account_id}/complete_onboarding")
    deadline = time.monotonic() + 10
    while not bodies and time.monotonic() < deadline:
        time.sleep(0.05)
    [(payload, signature)] = bodies
    request = api.HandleStripeWebhookRequest(payload=payload, signature=signature)

    first = service.HandleStripeWebhook(request, None)
    assert (first.event_type, first.handled, first.duplicate) == ("account.updated", True, False)
    assert app.payout_account("e1").active
    position = app.head()
    again = service.HandleStripeWebhook(request, None)
    assert (again.handled, again.duplicate) == (False, True)
    assert app.head() == position


@pytest.fixture
def stand_in_out_of_order(tmp_path) -> Iterator[str]:
    with stripe_stand_in(tmp_path / "stripe.log", "--account-updates-out-of-order") as url:
        yield url


def test_account_updates_delivered_out_of_order_leave_the_account_active(
    stand_in_out_of_order, app, received
):
    """Onboarding through the link sends two account.updated (details submitted, then
    verified); delivered last first, the older one must not undo the activation."""
    import urllib.error
    import urllib.request

    stand_in = stand_in_out_of_order
    url, bodies = received
    client = stripe.StripeClient(api_key="sk_test_x", base_addresses={"api": stand_in})
    endpoint = client.v1.webhook_endpoints.create(
        {"url": url, "enabled_events": ["account.updated"], "connect": True}
    )
    secret = str(endpoint.secret)
    connect = ConnectGateway(
        StripeSettings(api_key="sk_test_x", api_base=stand_in, webhook_secret=secret)
    )
    service = worker_factory(PayoutsService, store=app, connect=connect)
    account, link = app.activate_payout(
        connect,
        account_id="e2",
        email="e2@example.com",
        country="US",
        return_url="https://headstore.test/return",
        refresh_url="https://headstore.test/refresh",
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError):  # the holder goes through onboarding
        urllib.request.build_opener(NoRedirect).open(link, timeout=10)
    deadline = time.monotonic() + 15
    while len(bodies) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bodies) == 2
    arrived = [stripe.Webhook.construct_event(b.decode(), s, secret) for b, s in bodies]
    assert [e.data.object.payouts_enabled for e in arrived] == [True, False]  # last first
    for payload, signature in bodies:
        request = api.HandleStripeWebhookRequest(payload=payload, signature=signature)
        assert service.HandleStripeWebhook(request, None).handled
    assert app.payout_account("e2").active
