"""A simulated payout week through the public API, with real voice sessions through Janus:
three experts (one brought by an ambassador) activate payout with Stripe Connect, hold
sessions in USD and EUR, and the weekly run sends one transfer per payee and currency, exact
to the cent. The run is killed with kill -9 half-way and restarted: each transfer is sent
once. The next week's run sends nothing. Finance's replay and reconcile then agree with Stripe
to the cent, and a hand-altered ledger row is reported.

A payout week lasts WEEK_SECONDS here and a billed minute two seconds."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.media_testing import only_ice_addresses
from devtools.testing import ROOT, wait_until
from headstore.settings import Settings
from headstore.topics import stored_topics
from services.payouts.application import PayoutsApplication
from services.payouts.domain import PayoutRun
from tests.e2e.test_expert_journey import PROFILE, bearer, staff
from tests.e2e.test_paid_session import STEP_TIMEOUT, join_details, request_session
from tests.e2e.test_session_faults import restart
from tests.e2e.test_session_money import (
    _talk,
    accepted,
    charge,
    client_with_card,
    expert_at,
    hang_up_at_minute,
)

WEEK_SECONDS = 75
SESSIONS_NEED_SECONDS = 45  # both rounds of sessions, charged, with room to spare

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.media,
    pytest.mark.minute_seconds(2),
    pytest.mark.payout_week_seconds(WEEK_SECONDS),
    pytest.mark.stripe_transfer_delay(1.0),
    pytest.mark.timeout(600),
]


# -- steps of the week ---------------------------------------------------------------------------


def activate_payout(platform: Any, payee: dict[str, Any], country: str) -> None:
    """'Activate payout', then Stripe's onboarding in the browser, which sends the payee back
    to our page; Stripe's account.updated webhook makes the account active."""
    api = platform.api
    answer = api.post("/v1/me/payout", json={"country": country}, headers=bearer(payee))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "pending"
    page = httpx.get(answer.json()["onboarding_url"], follow_redirects=True, timeout=10)
    assert page.status_code == 200 and "Payout set up" in page.text
    wait_until(
        lambda: api.get("/v1/me/payout", headers=bearer(payee)).json()["status"] == "active",
        timeout=STEP_TIMEOUT,
        what="the account.updated webhook to activate payout",
    )
    wait_until(
        lambda: api.get("/v1/me", headers=bearer(payee)).json()["payout_active"],
        timeout=STEP_TIMEOUT,
        what="profiles to hear that payout is active",
    )


def accepted_at_rate(platform: Any, client: dict, expert: dict, currency: str) -> str:
    """A session accepted at the expert's new rate. Calls learns of a rate change from profiles'
    events: until it has, a request still carries the old rate, and the expert declines it."""

    def requested() -> str | None:
        session = request_session(platform, client, expert["account"]["account_id"], "voice")
        accept = session["rate_per_minute"]["currency"] == currency
        answered = platform.api.post(
            f"/v1/sessions/{session['session_id']}/answer",
            json={"accept": accept},
            headers=bearer(expert),
        )
        assert answered.status_code == 200, answered.text
        return str(session["session_id"]) if accept else None

    session_id: str = wait_until(requested, timeout=STEP_TIMEOUT, what=f"a rate in {currency}")
    return session_id


def run_sessions(
    platform: Any, sessions: list[tuple[dict, dict, int]], currency: str | None = None
) -> list[dict[str, Any]]:
    """Each (client, expert, minutes) talks at the same time; returns each `charged` message,
    with its session's id.
    With `currency`, each session waits for calls to know the expert's rate in it."""
    accepted_ids = [
        accepted_at_rate(platform, client, expert, currency)
        if currency
        else accepted(platform, client, expert)
        for client, expert, _ in sessions
    ]
    joins = []
    for session_id, (client, expert, _) in zip(accepted_ids, sessions, strict=True):
        tokens = {"client": client, "expert": expert}
        joins.append(
            {
                role: wait_until(
                    partial(join_details, platform, session_id, t),
                    timeout=STEP_TIMEOUT,
                    what=f"join details for the {role}",
                )
                for role, t in tokens.items()
            }
        )

    async def everyone() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(
            *(
                _talk(
                    platform,
                    session_id,
                    {"client": client, "expert": expert},
                    join,
                    hang_up_at_minute(minutes, client, session_id),
                )
                for session_id, join, (client, expert, minutes) in zip(
                    accepted_ids, joins, sessions, strict=True
                )
            )
        )

    with only_ice_addresses(platform.network.outer_address):
        seen = asyncio.run(everyone())
    charges = [
        {**charge(messages), "session_id": session_id}
        for messages, session_id in zip(seen, accepted_ids, strict=True)
    ]
    for charged, (_, _, minutes) in zip(charges, sessions, strict=True):
        assert charged["minutes"] == minutes
    return charges


def commission(total_minor: int) -> int:
    return (total_minor + 5) // 10  # 10%, half up


def finished_run_weeks(settings: Settings) -> list[int]:
    app = PayoutsApplication(settings)
    try:
        weeks = []
        for notification in app.notifications_after(0, stored_topics(PayoutRun.Finished)):
            finished = app.mapper.to_domain_event(notification)
            assert isinstance(finished, PayoutRun.Finished)
            weeks.append(finished.week)
        return weeks
    finally:
        app.close()


def transfers(platform: Any) -> list[Any]:
    return list(platform.stripe.v1.transfers.list(params={"limit": 100}).data)


def finance(platform: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "finance", *args],
        cwd=ROOT,
        env={**os.environ, **platform.processes.env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- the week --------------------------------------------------------------------------------------


def test_a_week_of_sessions_is_paid_out_once_exactly_and_reconciles(platform, settings, tmp_path):
    api = platform.api
    anchor = datetime.fromisoformat(platform.processes.env["PAYOUTS_WEEK_ANCHOR"])
    week_length = timedelta(seconds=WEEK_SECONDS)

    # An admin appoints an ambassador, whose referral code brings an expert.
    admin = staff(platform, "admin@example.com", "admin")
    ambassador = staff(platform, "amy@example.com", "client")
    appointed = api.post(
        "/v1/admin/ambassadors",
        json={"account_id": ambassador["account"]["account_id"]},
        headers=bearer(admin),
    )
    assert appointed.status_code == 201, appointed.text
    ambassador = staff(platform, "amy@example.com", "client")  # logs in again, now ambassador
    code = api.get("/v1/ambassadors/me", headers=bearer(ambassador)).json()["referral_code"]

    ada = expert_at(platform, "ada@example.com", "3.00", 0, "USD")
    bruno = expert_at(platform, "bruno@example.com", "2.00", 0, "EUR")
    chloe = expert_at(platform, "chloe@example.com", "1.55", 0, "USD", referral_code=code)
    referred = api.get("/v1/ambassadors/me", headers=bearer(ambassador)).json()
    assert [e["expert_id"] for e in referred["referred_experts"]] == [
        chloe["account"]["account_id"]
    ]

    # Payout outside the FAQ's countries is refused and opens nothing.
    refused = api.post("/v1/me/payout", json={"country": "IN"}, headers=bearer(ada))
    assert refused.status_code == 422 and refused.json()["code"] == "unsupported_payout_country"
    assert api.get("/v1/me/payout", headers=bearer(ada)).json()["status"] == "not_activated"
    for payee, country in ((ada, "US"), (bruno, "DE"), (chloe, "FR"), (ambassador, "GB")):
        activate_payout(platform, payee, country)

    clients = [client_with_card(platform, f"client{n}@example.com")[0] for n in range(1, 5)]

    # Every session falls in one payout week: start them early in a week.
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

    first = run_sessions(
        platform, [(clients[0], ada, 4), (clients[1], bruno, 3), (clients[2], chloe, 5)]
    )
    euros = {**PROFILE, "currency": "EUR", "rate_per_minute": "2.50", "free_minutes": 0}
    assert api.patch("/v1/experts/me/profile", json=euros, headers=bearer(ada)).status_code == 200
    second = run_sessions(platform, [(clients[3], ada, 3)], currency="EUR")
    assert week_of(datetime.now(anchor.tzinfo)) == week, "the sessions outlasted the payout week"

    totals = [(c["total"]["currency"], c["total"]["minor"]) for c in (*first, *second)]
    assert totals == [("USD", 1200), ("EUR", 600), ("USD", 775), ("EUR", 750)]

    def earned(currency: str, total: int) -> int:
        return total - commission(total)

    ids = {name: p["account"]["account_id"] for name, p in
           (("ada", ada), ("bruno", bruno), ("chloe", chloe), ("amy", ambassador))}  # fmt: skip
    expected = {
        (ids["ada"], "usd"): earned("USD", 1200),  # 10.80
        (ids["ada"], "eur"): earned("EUR", 750),  # 6.75
        (ids["bruno"], "eur"): earned("EUR", 600),  # 5.40
        (ids["chloe"], "usd"): earned("USD", 775),  # 6.97 (commission 0.775 → 0.78)
        (ids["amy"], "usd"): (commission(775) + 5) // 10,  # 10% of 0.78 → 0.08
    }
    assert expected[(ids["chloe"], "usd")] == 697 and expected[(ids["amy"], "usd")] == 8

    # The week ends; the run starts (Stripe answers each transfer slowly here) and is killed
    # with kill -9 after its first transfer, then restarted.
    group = f"payouts-week-{week}"
    wait_until(
        lambda: any(t.transfer_group == group for t in transfers(platform)),
        timeout=WEEK_SECONDS + STEP_TIMEOUT,
        interval=0.05,
        what="the week's first transfer",
    )
    restart(platform, "payouts", "run", "payouts")
    assert len(transfers(platform)) < len(expected), "the run was over before it was killed"

    def all_sent() -> list[Any] | None:
        sent = transfers(platform)
        return sent if len(sent) >= len(expected) else None

    sent = wait_until(all_sent, timeout=STEP_TIMEOUT * 2, what="every transfer of the week")
    by_payee = {
        (t.metadata["account_id"], t.currency): t.amount for t in sent
    }  # one per payee and currency, each exact to the cent:
    assert Counter((t.metadata["account_id"], t.currency) for t in sent) == Counter(list(expected))
    assert by_payee == expected
    assert {t.transfer_group for t in sent} == {group}

    # Everyone gets a statement, and the statistics show the week.
    for email in ("ada@example.com", "bruno@example.com", "chloe@example.com", "amy@example.com"):
        platform.wait_for_mail(email, "payout")
    statement = platform.wait_for_mail("ada@example.com", "payout")["text"]
    assert "10.80 USD" in statement and "6.75 EUR" in statement
    stats = api.get("/v1/me/payout/statistics", headers=bearer(ada)).json()
    assert (stats["sessions"], stats["minutes"]) == (2, 7)
    assert {b["balance"]["minor"] for b in stats["balances"]} == {0}

    # The next week's run finds nothing due and sends nothing.
    wait_until(
        lambda: week + 1 in finished_run_weeks(settings),
        timeout=WEEK_SECONDS + STEP_TIMEOUT,
        what="the next week's run",
    )
    assert len(transfers(platform)) == len(expected)

    # Finance replays the stores twice into identical files and reconciles them with Stripe.
    runs = [tmp_path / "one", tmp_path / "two"]
    for out in runs:
        replayed = finance(platform, "replay", "--out", str(out), "--quiet")
        assert replayed.returncode == 0, replayed.stderr
    names = sorted(p.name for p in runs[0].iterdir())
    assert names and names == sorted(p.name for p in runs[1].iterdir())
    for name in names:
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    reconciled = finance(platform, "reconcile", "--ledger", str(runs[0]))
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr

    altered = alter_first_session_capture(runs[1] / "sessions.csv")
    reported = finance(platform, "reconcile", "--ledger", str(runs[1]))
    assert reported.returncode == 1
    assert altered in reported.stdout


def alter_first_session_capture(path: Path) -> str:
    """Adds a cent to the first session's captured amount; returns that session's id."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["captured_minor"] = str(int(rows[0]["captured_minor"]) + 1)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows[0]["session_id"]
