"""Reconcile against the Stripe stand-in (`python -m devtools.stripe_server`, a subprocess on a
free port): the holds, captures and transfers are real objects there, made through the official
SDK while the real aggregates record them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe

from devtools.testing import stripe_stand_in
from finance.cli import main
from finance.reconcile import reconcile
from finance.replay import replay
from finance.tests.scenario import Books, standard_books
from finance.tests.test_reconcile import alter
from finance.tests.test_replay import sources
from headstore.settings import Settings


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[str]:
    # The history is paid in USD and EUR, and experts are paid in both: the platform settles
    # in each (Stripe's multi-currency settlement), as it must to transfer euros.
    with stripe_stand_in(tmp_path / "stripe.log", "--settlement-currency", "usd,eur") as url:
        yield url


@pytest.fixture
def client(stand_in: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key="sk_test_finance", base_addresses={"api": stand_in}, max_network_retries=0
    )


def paid_through(client: stripe.StripeClient, books: Books) -> Books:
    """Holds, captures and transfers made at the stand-in for the standard history."""
    accounts: dict[str, str] = {}

    def hold(session: str, block: int, amount: int, currency: str) -> str:
        intent = client.v1.payment_intents.create(
            {
                "amount": amount,
                "currency": currency.lower(),
                "payment_method": "pm_card_visa",
                "capture_method": "manual",
                "confirm": True,
                "description": f"session {session}, block {block}",
            }
        )
        return intent.id

    def capture(intent: str, amount: int) -> None:
        client.v1.payment_intents.capture(intent, {"amount_to_capture": amount})

    def transfer(account_id: str, currency: str, amount: int) -> str:
        if account_id not in accounts:
            account = client.v1.accounts.create(
                {
                    "type": "express",
                    "country": "US",
                    "capabilities": {"transfers": {"requested": True}},
                }
            )
            client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
            accounts[account_id] = account.id
        made = client.v1.transfers.create(
            {"amount": amount, "currency": currency.lower(), "destination": accounts[account_id]}
        )
        return made.id

    books.hold, books.capture = hold, capture
    return standard_books(books, transfer)


@pytest.fixture
def ledger(client: stripe.StripeClient, books: Books, tmp_path: Path) -> Path:
    paid_through(client, books)
    out = tmp_path / "ledger"
    replay(
        Settings(persistence="memory"), out, quiet=True, projection=False, sources=sources(books)
    )
    return out


def test_a_ledger_of_what_stripe_booked_reconciles(
    ledger: Path,
    client: stripe.StripeClient,
    stand_in: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = reconcile(ledger, client=client)
    assert report.differences == [] and report.stripe_checked
    assert report.captures == 13  # with the first capture of s-06, which is not charged yet
    monkeypatch.setenv("STRIPE_API_BASE", stand_in)
    assert main(["reconcile", "--ledger", str(ledger)]) == 0
    assert capsys.readouterr().out == "reconciled: 5 sessions, 7 transfers, zero differences\n"


def test_differences_with_stripe_are_listed_both_ways(
    ledger: Path, client: stripe.StripeClient
) -> None:
    # At Stripe only: a capture and a transfer the ledger does not know.
    stray: Any = client.v1.payment_intents.create(
        {"amount": 1234, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    stray_charge = stray.latest_charge
    # In the ledger only, or different: a capture amount and a transfer id changed by hand.
    with (ledger / "captures.csv").open() as handle:
        first_capture = handle.read().splitlines()[1].split(",")
    session, intent = first_capture[0], first_capture[2]
    alter(ledger / "captures.csv", {"payment_intent_id": intent}, amount_minor="2999")
    with (ledger / "transfers.csv").open() as handle:
        transfer = [line.split(",") for line in handle.read().splitlines()[1:]][0]
    real_id = transfer[5]
    alter(ledger / "transfers.csv", {"transfer_id": real_id}, transfer_id="tr_invented")

    differences = reconcile(ledger, client=client).differences
    assert (
        f"capture of {intent} (session {session}): amounts differ: ledger 2999 USD, Stripe 3000"
        in [d.rsplit(" (", 1)[0] for d in differences]
    )
    assert any(
        d.startswith(f"charge {stray_charge} (PaymentIntent {stray.id}): at Stripe (1234 USD")
        and d.endswith("not in the ledger")
        for d in differences
    )
    assert any(
        d.startswith(
            f"transfer tr_invented (payee {transfer[0]}, week {transfer[1]}): in the ledger"
        )
        and d.endswith("not at Stripe")
        for d in differences
    )
    assert any(
        d.startswith(f"transfer {real_id}: at Stripe") and d.endswith("not in the ledger")
        for d in differences
    )


def test_since_and_until_limit_both_sides(ledger: Path, client: stripe.StripeClient) -> None:
    client.v1.payment_intents.create(
        {"amount": 500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    future = datetime.now(UTC) + timedelta(days=1)
    assert reconcile(ledger, client=client, since=future).differences == []
    assert reconcile(ledger, client=client).differences  # the stray capture


def test_stripe_out_of_reach_is_an_error_not_a_clean_bill(
    ledger: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from devtools.testing import free_port

    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    assert main(["reconcile", "--ledger", str(ledger)]) == 2
    assert "cannot read Stripe's balance transactions" in capsys.readouterr().err
