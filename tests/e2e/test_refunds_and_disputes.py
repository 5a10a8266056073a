"""A refund and a lost dispute, through the public API and the Stripe stand-in, flow through to
the next payout and to finance's reconciliation with zero difference.

Two experts activate payout. In one payout week Rae holds a session that its client asks back
and Rae grants (refunded through Stripe's refund API), and another that is not refunded; Sam's
client pays with Stripe's dispute test card, and the bank's dispute is lost. The week's run
pays Rae only the session that stood and Sam nothing; finance replays the stores and
reconciles them with Stripe to the cent.

A payout week lasts WEEK_SECONDS here and a billed minute two seconds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from devtools.testing import wait_until
from tests.e2e.test_expert_journey import bearer
from tests.e2e.test_paid_session import STEP_TIMEOUT, signed_up_client
from tests.e2e.test_payout_week import (
    activate_payout,
    finance,
    finished_run_weeks,
    run_sessions,
    transfers,
)
from tests.e2e.test_session_money import client_with_card, expert_at

WEEK_SECONDS = 100
SESSIONS_NEED_SECONDS = 70  # the sessions, the refund and the dispute, with room to spare
DISPUTE_CARD = {"number": "4000000000000259", "exp_month": 12, "exp_year": 2034, "cvc": "123"}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.media,
    pytest.mark.minute_seconds(2),
    pytest.mark.payout_week_seconds(WEEK_SECONDS),
    # A platform with history: the lost dispute's 15.00 fee leaves enough for the week.
    pytest.mark.stripe_opening_balance("usd=5000"),
    pytest.mark.timeout(600),
]


def client_with_dispute_card(platform: Any, email: str) -> dict[str, Any]:
    client = signed_up_client(platform, email, email.split("@")[0].title())
    method = platform.stripe.v1.payment_methods.create(
        params={"type": "card", "card": DISPUTE_CARD}
    )
    saved = platform.api.put(
        "/v1/me/card", json={"payment_method_id": method.id}, headers=bearer(client)
    )
    assert saved.status_code == 200, saved.text
    return client


def usd_balance(platform: Any, payee: dict[str, Any]) -> int | None:
    answer = platform.api.get("/v1/me/payout/statistics", headers=bearer(payee))
    assert answer.status_code == 200, answer.text
    for balance in answer.json()["balances"]:
        if balance["balance"]["currency"] == "USD":
            return int(balance["balance"]["minor"])
    return None


def test_a_refund_and_a_lost_dispute_reach_the_payout_and_reconcile(platform, settings, tmp_path):
    api = platform.api
    anchor = datetime.fromisoformat(platform.processes.env["PAYOUTS_WEEK_ANCHOR"])
    week_length = timedelta(seconds=WEEK_SECONDS)

    rae = expert_at(platform, "rae@example.com", "3.00", 0, "USD")
    sam = expert_at(platform, "sam@example.com", "3.00", 0, "USD")
    for payee in (rae, sam):
        activate_payout(platform, payee, "US")
    kim = client_with_card(platform, "kim@example.com")[0]
    lee = client_with_card(platform, "lee@example.com")[0]
    dan = client_with_dispute_card(platform, "dan@example.com")

    def week_of(moment: datetime) -> int:
        return (moment - anchor) // week_length

    def seconds_left(moment: datetime) -> float:
        return (anchor + week_length * (week_of(moment) + 1) - moment).total_seconds()

    if seconds_left(datetime.now(anchor.tzinfo)) < SESSIONS_NEED_SECONDS:
        boundary = week_of(datetime.now(anchor.tzinfo)) + 1
        wait_until(
            lambda: week_of(datetime.now(anchor.tzinfo)) >= boundary,
            timeout=WEEK_SECONDS,
            what="the next payout week",
        )
    week = week_of(datetime.now(anchor.tzinfo))

    refunded, disputed = run_sessions(platform, [(kim, rae, 4), (dan, sam, 3)])
    [stood] = run_sessions(platform, [(lee, rae, 2)])
    assert [c["total"]["minor"] for c in (refunded, disputed, stood)] == [1200, 900, 600]

    # Kim asks for the session back; Rae grants it; Stripe refunds it.
    session = refunded["session_id"]
    asked = api.post(
        f"/v1/sessions/{session}/refund",
        json={"reason": "The line kept dropping."},
        headers=bearer(kim),
    )
    assert asked.status_code == 201, asked.text
    platform.wait_for_mail("rae@example.com", "refund")
    granted = api.post(f"/v1/sessions/{session}/refund/grant", headers=bearer(rae))
    assert granted.status_code == 200, granted.text
    wait_until(
        lambda: (
            api.get(f"/v1/sessions/{session}/refund", headers=bearer(kim)).json()["state"]
            == "refunded"
        ),
        timeout=STEP_TIMEOUT,
        what="the refund to be made",
    )
    [charge] = [
        c for c in platform.stripe.v1.charges.list(params={"limit": 100}).data if c.amount_refunded
    ]
    assert (charge.amount_refunded, charge.refunded) == (1200, True)
    platform.wait_for_mail("kim@example.com", "refund")

    # Dan's bank disputes the charge, and the dispute is lost.
    [dispute] = wait_until(
        lambda: list(platform.stripe.v1.disputes.list(params={"limit": 10}).data),
        timeout=STEP_TIMEOUT,
        what="the dispute",
    )
    assert dispute.amount == 900
    platform.wait_for_mail("sam@example.com", "dispute")
    platform.stripe.raw_request("post", f"/_dev/disputes/{dispute.id}/close", outcome="lost")

    # What each is owed before the week ends: Rae the session that stood, Sam nothing.
    wait_until(
        lambda: (usd_balance(platform, rae), usd_balance(platform, sam)) == (540, 0),
        timeout=STEP_TIMEOUT,
        what="the refund and the lost dispute to reach payouts",
    )
    assert week_of(datetime.now(anchor.tzinfo)) == week, "the steps outlasted the payout week"

    # The week's run pays Rae 5.40 and Sam nothing.
    wait_until(
        lambda: week in finished_run_weeks(settings),
        timeout=WEEK_SECONDS + STEP_TIMEOUT,
        what="the week's run",
    )
    sent = [t for t in transfers(platform) if t.transfer_group == f"payouts-week-{week}"]
    assert [(t.metadata["account_id"], t.amount) for t in sent] == [
        (rae["account"]["account_id"], 540)
    ]

    # Finance's ledger has the refund and the lost dispute, and reconciles with Stripe.
    ledger = tmp_path / "ledger"
    replayed = finance(platform, "replay", "--out", str(ledger), "--quiet")
    assert replayed.returncode == 0, replayed.stderr
    adjustments = (ledger / "adjustments.csv").read_text()
    assert session in adjustments and disputed["session_id"] in adjustments
    reconciled = finance(platform, "reconcile", "--ledger", str(ledger))
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert "zero differences" in reconciled.stdout
