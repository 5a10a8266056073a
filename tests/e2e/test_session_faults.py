"""Faults in the middle of a paid session: kill -9 billing, then calls, then restart
RabbitMQ. Afterwards every minute is billed exactly once, captured once, and no card hold is
left open."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from typing import Any

import pytest

from devtools.testing import wait_until
from headstore.settings import Settings
from services.billing.application import BillingApplication
from services.billing.domain import Bill
from tests.e2e.test_expert_journey import bearer
from tests.e2e.test_paid_session import STEP_TIMEOUT, LiveView
from tests.e2e.test_session_money import accepted, captured, client_with_card, expert_at, talk

pytestmark = [pytest.mark.e2e, pytest.mark.media, pytest.mark.timeout(300)]

CLI = ("-m", "cli.main")


def restart(platform: Any, name: str, *args: str) -> None:
    platform.processes.kill(name)  # SIGKILL: no chance to tidy up
    platform.processes.start(name, *CLI, *args)


def restart_rabbitmq() -> None:
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=60)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=60)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, timeout=60)


def billed_minutes(settings: Settings, session_id: str) -> list[int]:
    """The minutes billed for the session in billing's store, less those taken back."""
    app = BillingApplication(settings)
    try:
        events = (
            app.mapper.to_domain_event(n)
            for n in app.recorder.select_notifications(start=1, limit=1_000_000)
        )
        minutes: list[int] = []
        for event in events:
            if getattr(event, "session_id", None) != session_id:
                continue
            if isinstance(event, Bill.MinuteBilled):
                minutes.append(event.minute)
            elif isinstance(event, Bill.MinuteBillingReversed):
                # A minute the timer billed after the session had ended, taken back.
                minutes.remove(event.minute)
        return minutes
    finally:
        app.close()


def test_crashes_and_a_broker_restart_bill_each_minute_once(platform, settings):
    expert = expert_at(platform, "steady@example.com", "1.00", 0)
    client, customer = client_with_card(platform, "storm@example.com")
    session_id = accepted(platform, client, expert)

    async def through_faults(live: LiveView, api: Any) -> None:
        async def minute(k: int) -> None:
            await live.wait_for(
                lambda m: m["type"] == "minute" and m["minute"] >= k,
                f"minute {k}",
                timeout=STEP_TIMEOUT + k,
            )

        await minute(3)
        await asyncio.to_thread(restart, platform, "billing", "run", "billing")
        await minute(7)
        await asyncio.to_thread(restart, platform, "calls", "run", "calls")
        await minute(11)
        await asyncio.to_thread(restart_rabbitmq)
        await minute(16)
        answer = await asyncio.to_thread(
            api.post, f"/v1/sessions/{session_id}/hangup", headers=bearer(client)
        )
        assert answer.status_code == 200, answer.text

    talk(platform, session_id, client, expert, through_faults)

    bill = wait_until(
        lambda: (
            (
                b := platform.api.get(
                    f"/v1/sessions/{session_id}/bill", headers=bearer(client)
                ).json()
            )["state"]
            == "charged"
            and b
        ),
        timeout=STEP_TIMEOUT,
        what="the bill to be charged",
    )
    minutes = billed_minutes(settings, session_id)
    assert [m for m, n in Counter(minutes).items() if n > 1] == [], "a minute billed twice"
    assert sorted(minutes) == list(range(1, len(minutes) + 1)), "a minute went missing"
    assert bill["billed_minutes"] == len(minutes) >= 16
    total, statuses = wait_until(
        lambda: (c := captured(platform, customer))[1] and "requires_capture" not in c[1] and c,
        timeout=STEP_TIMEOUT,
        what="captures to settle",
    )
    assert total == bill["total"]["minor"] == 100 * len(minutes)
    assert set(statuses) <= {"succeeded", "canceled"}, statuses
