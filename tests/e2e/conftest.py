"""The whole platform as `make run` starts it (mailbox, services, relays, gateway), each a real
process on free ports, on an isolated database prefix and RabbitMQ vhost."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe
from kombu import Connection

from cli.main import migrate
from cli.registry import SERVICES, load
from devtools.media_testing import JanusProcess, MediaNetwork, require_media
from devtools.testing import ROOT, Processes, free_port, wait_until
from headstore.consume import handler_queues
from headstore.store import drop_database
from services.gateway.ratelimits import LIMITS as RATE_LIMITS


@dataclass
class Platform:
    api: httpx.Client
    mail: httpx.Client
    processes: Processes
    network: MediaNetwork
    janus: JanusProcess
    stripe: stripe.StripeClient

    def mails_to(self, address: str) -> list[dict[str, Any]]:
        response = self.mail.get("/api/messages", params={"to": address})
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages

    def wait_for_mail(self, address: str, subject_part: str, count: int = 1) -> dict[str, Any]:
        """The `count`-th mail to `address` whose subject mentions `subject_part`."""

        def found() -> dict[str, Any] | None:
            matching = [
                m for m in self.mails_to(address) if subject_part.lower() in m["subject"].lower()
            ]
            return matching[count - 1] if len(matching) >= count else None

        mail: dict[str, Any] = wait_until(found, timeout=30, what=f"mail {subject_part!r}")
        return mail

    def grant_role(self, email: str, role: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "cli.main", "grant-role", email, role],
            cwd=ROOT,
            env={**os.environ, **self.processes.env},
            check=True,
            capture_output=True,
        )


def link_token(mail: dict[str, Any], path: str) -> str:
    """The token of the link to `path` in a mail."""
    for link in mail["links"]:
        match = re.search(rf"{re.escape(path)}\?token=([^&\s]+)", link)
        if match:
            return match.group(1)
    raise AssertionError(f"no {path} link in {mail['links']}")


MINUTE_SECONDS = 1
"""A billed minute lasts a second here, so sessions of tens of minutes run in seconds."""


def minute_seconds(request: pytest.FixtureRequest) -> int:
    """A test marked `minute_seconds(n)` gets n-second minutes (for tighter timing margins)."""
    marker = request.node.get_closest_marker("minute_seconds")
    return int(marker.args[0]) if marker else MINUTE_SECONDS


def payout_week_seconds(request: pytest.FixtureRequest) -> int:
    """A test marked `payout_week_seconds(n)` gets n-second payout weeks, the first starting as
    the platform starts; others get a week of a day, so no run happens while they run."""
    marker = request.node.get_closest_marker("payout_week_seconds")
    return int(marker.args[0]) if marker else 24 * 3600


def transfer_delay_seconds(request: pytest.FixtureRequest) -> float:
    """A test marked `stripe_transfer_delay(s)` gets a Stripe stand-in that answers each transfer
    after s seconds, so it can interrupt a payout run half-way."""
    marker = request.node.get_closest_marker("stripe_transfer_delay")
    return float(marker.args[0]) if marker else 0.0


def opening_balance(request: pytest.FixtureRequest) -> list[str]:
    """A test marked `stripe_opening_balance("usd=5000", ...)` gets a platform that holds those
    funds before its first charge (a platform with history, whose balance a dispute's fee does
    not take below what a week's transfers need)."""
    marker = request.node.get_closest_marker("stripe_opening_balance")
    return (
        [arg for amount in marker.args for arg in ("--opening-balance", amount)] if marker else []
    )


@pytest.fixture
def media_network() -> Any:
    require_media()
    with MediaNetwork("hs") as network:
        yield network


def fresh_stores_and_queues(settings: Any) -> None:
    """Every test starts from empty stores and empty queues. A message left in a queue by the
    previous test would carry a position from the previous stores, and the consumer's tracking
    would then take this test's lower positions for repeats."""
    with Connection(settings.amqp_uri) as connection:
        for parts in SERVICES.values():
            for queue in handler_queues(load(parts.service_class)):
                queue.bind(connection.default_channel).delete()
    for name in SERVICES:
        drop_database(name, settings)


@pytest.fixture
def platform(request, settings, processes, media_network) -> Any:
    fresh_stores_and_queues(settings)
    ports = {
        name: free_port()
        for name in ("smtp", "mail_web", "gateway", "stripe", "janus_events", *SERVICES)
    }
    janus = JanusProcess(
        media_network,
        event_backend=f"http://{media_network.outer_address}:{ports['janus_events']}/janus/events",
    ).start()
    processes.env.update(
        SMTP_PORT=str(ports["smtp"]),
        PUBLIC_URL=f"http://127.0.0.1:{ports['gateway']}",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="8192",
        NOTIFICATIONS_SEND_INTERVAL_SECONDS="0.2",
        MINUTE_SECONDS=str(minute_seconds(request)),
        PAYOUTS_WEEK_SECONDS=str(payout_week_seconds(request)),
        PAYOUTS_WEEK_ANCHOR=datetime.now(UTC).isoformat(),
        PAYOUTS_TICK_SECONDS="0.2",
        STRIPE_API_BASE=f"http://127.0.0.1:{ports['stripe']}",
        JANUS_URL=janus.api_url,
        JANUS_PUBLIC_URL=janus.api_url,
        JANUS_ADMIN_URL=janus.admin_url,
        JANUS_ADMIN_SECRET=janus.admin_secret,
        JANUS_API_SECRET=janus.api_secret,
        JANUS_ROOM_ADMIN_KEY=janus.admin_key,
        CALLS_JANUS_EVENTS_PASSWORD=janus.events_password,
        CALLS_JANUS_EVENTS_HOST=media_network.outer_address,
        CALLS_JANUS_EVENTS_PORT=str(ports["janus_events"]),
        # Services require it and the gateway presents it, as in production.
        GRPC_AUTH_TOKEN=secrets.token_hex(32),
        GATEWAY_METRICS_PORT="0",
        # Every journey comes from 127.0.0.1: as a proxy, it may say which client it forwards
        # (X-Forwarded-For), as a load balancer does in production.
        GATEWAY_TRUSTED_PROXIES="127.0.0.1",
    )
    # Every journey shares one address, so what is limited per address is limited for all of
    # them together: those limits are lifted; per account and per e-mail they hold as shipped.
    for limit in RATE_LIMITS:
        if limit.name.endswith("_per_address"):
            processes.env[limit.variable] = "100000/minute"
    for name in SERVICES:
        processes.env[f"{name.upper()}_GRPC_PORT"] = str(ports[name])
        processes.env[f"{name.upper()}_METRICS_PORT"] = "0"
        processes.env[f"{name.upper()}_RELAY_METRICS_PORT"] = "0"
    migrate(settings, list(SERVICES.values()))
    cli = ("-m", "cli.main")
    processes.start(
        "mail",
        "-m",
        "devtools",
        "mail",
        "--smtp-port",
        str(ports["smtp"]),
        "--web-port",
        str(ports["mail_web"]),
    )
    gateway_url = f"http://127.0.0.1:{ports['gateway']}"
    processes.start(
        "stripe",
        "-m",
        "devtools",
        "stripe",
        "--port",
        str(ports["stripe"]),
        "--webhook",
        f"{gateway_url}/v1/stripe/webhooks",
        "--connect-webhook",
        f"{gateway_url}/v1/stripe/connect-webhooks",
        "--transfer-delay",
        str(transfer_delay_seconds(request)),
        # Experts are paid in the currencies clients pay in: the platform settles in each.
        "--settlement-currency",
        "usd,eur,gbp,cad,chf",
        *opening_balance(request),
    )
    for name in SERVICES:
        processes.start(name, *cli, "run", name)
        processes.start(f"{name}-relay", *cli, "relay", name)
    processes.start("gateway", *cli, "gateway", "--port", str(ports["gateway"]))
    api = httpx.Client(base_url=f"http://127.0.0.1:{ports['gateway']}", timeout=15)
    mail = httpx.Client(base_url=f"http://127.0.0.1:{ports['mail_web']}", timeout=5)
    stripe_client = stripe.StripeClient(
        api_key=processes.env["STRIPE_API_KEY"],
        base_addresses={"api": f"http://127.0.0.1:{ports['stripe']}"},
    )
    try:
        wait_until(lambda: api.get("/readyz").status_code == 200, timeout=60, what="gateway ready")
        wait_until(lambda: mail.get("/api/messages").status_code == 200, timeout=30, what="mailbox")
        yield Platform(
            api=api,
            mail=mail,
            processes=processes,
            network=media_network,
            janus=janus,
            stripe=stripe_client,
        )
    finally:
        api.close()
        mail.close()
        processes.stop_all()
        janus.stop()
