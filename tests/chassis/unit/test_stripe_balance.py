"""The Stripe stand-in's balance, as Stripe keeps it: captured funds net of Stripe's fee, in the
settlement currency, pending for a while, then available; transfers drawing on what is
available (or on their source charge), refused beyond it; reversals bringing funds back.
Driven through the official `stripe` SDK against a running stand-in whose clock tests move."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from devtools import stripe_server
from devtools.stripe_server import Ledger
from devtools.testing import ROOT, stripe_stand_in

TWO_DAYS = 2 * 24 * 3600


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("stripe-balance") / "server.log"
    with stripe_stand_in(log, "--available-after-seconds", str(TWO_DAYS)) as url:
        yield url


@pytest.fixture
def client(server_url: str) -> stripe.StripeClient:
    return client_of(server_url)


def client_of(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key="sk_test_x", base_addresses={"api": url}, max_network_retries=0
    )


def advance_clock(client: stripe.StripeClient, seconds: int) -> None:
    client.raw_request("post", "/_config/clock", advance_seconds=seconds)


def balance(client: stripe.StripeClient, currency: str = "usd") -> tuple[int, int]:
    """(available, pending) in `currency`."""
    got = client.v1.balance.retrieve()

    def amount(funds: Any) -> int:
        return sum(f.amount for f in funds if f.currency == currency)

    return amount(got.available), amount(got.pending)


def captured(
    client: stripe.StripeClient, amount: int, currency: str = "usd", method: str = "pm_card_visa"
) -> Any:
    """The charge of a captured hold of `amount`."""
    intent = client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": currency,
            "payment_method": method,
            "capture_method": "manual",
            "confirm": True,
        }
    )
    intent = client.v1.payment_intents.capture(intent.id)
    return client.v1.charges.retrieve(str(intent.latest_charge))


def payee(client: stripe.StripeClient) -> str:
    account = client.v1.accounts.create(
        {"type": "express", "country": "US", "capabilities": {"transfers": {"requested": True}}}
    )
    client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
    return account.id


def drain(client: stripe.StripeClient, destination: str, currency: str = "usd") -> None:
    """Transfer out whatever is available, so a test starts from nothing available."""
    available, _ = balance(client, currency)
    if available > 0:
        client.v1.transfers.create(
            {"amount": available, "currency": currency, "destination": destination}
        )


def test_captured_funds_are_pending_net_of_fees_then_available(
    client: stripe.StripeClient,
) -> None:
    before = balance(client)
    charge = captured(client, 10000)
    txn = client.v1.balance_transactions.retrieve(str(charge.balance_transaction))
    # Stripe's standard card pricing: 2.9% + 30 cents
    assert (txn.type, txn.amount, txn.fee, txn.net, txn.currency) == (
        "charge",
        10000,
        320,
        9680,
        "usd",
    )
    assert [(d.type, d.amount, d.currency) for d in txn.fee_details] == [("stripe_fee", 320, "usd")]
    assert txn.exchange_rate is None and txn.source == charge.id
    assert txn.status == "pending" and txn.available_on - txn.created == TWO_DAYS
    assert balance(client) == (before[0], before[1] + 9680)

    advance_clock(client, TWO_DAYS - 60)
    assert client.v1.balance_transactions.retrieve(txn.id).status == "pending"
    advance_clock(client, 60)
    assert client.v1.balance_transactions.retrieve(txn.id).status == "available"
    assert balance(client) == (before[0] + 9680, before[1])


def test_a_charge_in_another_currency_is_settled_in_the_platforms(
    client: stripe.StripeClient,
) -> None:
    gbp_before = balance(client, "gbp")
    charge = captured(client, 10000, "gbp")
    assert charge.currency == "gbp"
    txn = client.v1.balance_transactions.retrieve(str(charge.balance_transaction))
    # the fixed table: 1 GBP = 1.27 USD; the fee on the settled amount
    assert (txn.currency, txn.exchange_rate, txn.amount) == ("usd", 1.27, 12700)
    assert (txn.fee, txn.net) == (398, 12302)
    assert balance(client, "gbp") == gbp_before


def test_the_bypass_pending_test_card_is_available_at_once(client: stripe.StripeClient) -> None:
    before = balance(client)
    charge = captured(client, 5000, method="pm_card_bypassPending")
    txn = client.v1.balance_transactions.retrieve(str(charge.balance_transaction))
    assert txn.status == "available" and txn.available_on == txn.created
    assert balance(client) == (before[0] + txn.net, before[1])


def test_a_transfer_beyond_the_available_balance_is_refused(client: stripe.StripeClient) -> None:
    destination = payee(client)
    drain(client, destination)
    captured(client, 20000)  # pending: not available for a transfer
    captured(client, 1000, method="pm_card_bypassPending")  # 941 available
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create({"amount": 942, "currency": "usd", "destination": destination})
    assert refused.value.http_status == 400 and refused.value.code == "balance_insufficient"
    assert refused.value.error is not None
    assert refused.value.error.type == "invalid_request_error"

    pending = balance(client)[1]
    transfer = client.v1.transfers.create(
        {"amount": 941, "currency": "usd", "destination": destination}
    )
    txn = client.v1.balance_transactions.retrieve(str(transfer.balance_transaction))
    assert (txn.type, txn.amount, txn.status) == ("transfer", -941, "available")
    assert balance(client) == (0, pending)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.transfers.create({"amount": 1, "currency": "usd", "destination": destination})
    assert again.value.code == "balance_insufficient"


def test_a_transfer_from_a_charge_draws_on_its_pending_funds(client: stripe.StripeClient) -> None:
    destination = payee(client)
    drain(client, destination)
    charge = captured(client, 6000)
    charge_txn = client.v1.balance_transactions.retrieve(str(charge.balance_transaction))
    _, pending = balance(client)

    transfer = client.v1.transfers.create(
        {
            "amount": 4000,
            "currency": "usd",
            "destination": destination,
            "source_transaction": charge.id,
        }
    )
    assert transfer.source_transaction == charge.id
    txn = client.v1.balance_transactions.retrieve(str(transfer.balance_transaction))
    assert txn.status == "pending" and txn.available_on == charge_txn.available_on
    assert balance(client) == (0, pending - 4000)

    with pytest.raises(stripe.InvalidRequestError):  # 4000 + 2001 > the charge's 6000
        client.v1.transfers.create(
            {
                "amount": 2001,
                "currency": "usd",
                "destination": destination,
                "source_transaction": charge.id,
            }
        )
    with pytest.raises(stripe.InvalidRequestError) as other_currency:
        client.v1.transfers.create(
            {
                "amount": 100,
                "currency": "eur",
                "destination": destination,
                "source_transaction": charge.id,
            }
        )
    assert "must be the same as the transfer currency" in str(other_currency.value)


def test_a_reversed_transfer_gives_its_funds_back(client: stripe.StripeClient) -> None:
    destination = payee(client)
    captured(client, 3000, method="pm_card_bypassPending")
    transfer = client.v1.transfers.create(
        {"amount": 1000, "currency": "usd", "destination": destination}
    )
    before = balance(client)
    reversal = client.v1.transfers.reversals.create(transfer.id, {"amount": 400})
    assert (reversal.object, reversal.amount, reversal.transfer) == (
        "transfer_reversal",
        400,
        transfer.id,
    )
    txn = client.v1.balance_transactions.retrieve(str(reversal.balance_transaction))
    assert (txn.type, txn.amount) == ("transfer_refund", 400)
    assert balance(client) == (before[0] + 400, before[1])
    partly = client.v1.transfers.retrieve(transfer.id)
    assert (partly.amount_reversed, partly.reversed) == (400, False)

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.reversals.create(transfer.id, {"amount": 601})
    client.v1.transfers.reversals.create(transfer.id)  # the rest
    fully = client.v1.transfers.retrieve(transfer.id)
    assert (fully.amount_reversed, fully.reversed) == (1000, True)
    assert [r.amount for r in client.v1.transfers.reversals.list(transfer.id).data] == [600, 400]


def test_settlement_currencies_fees_and_rates_are_configurable(tmp_path: Any) -> None:
    with stripe_stand_in(
        tmp_path / "stripe.log",
        "--settlement-currency",
        "gbp,eur",
        "--fee-percent",
        "1.5",
        "--fee-fixed",
        "20",
        "--exchange-rate",
        "gbp=1.25",
        "--opening-balance",
        "chf=5000",
    ) as url:
        client = client_of(url)
        euros = client.v1.balance_transactions.retrieve(
            str(captured(client, 10000, "eur").balance_transaction)
        )
        # held in euros (a second settlement currency), 1.5% + 20
        assert (euros.currency, euros.exchange_rate, euros.amount, euros.fee) == (
            "eur",
            None,
            10000,
            170,
        )
        dollars = client.v1.balance_transactions.retrieve(
            str(captured(client, 10000, "usd").balance_transaction)
        )
        # converted into pounds: 1 / 1.25
        assert (dollars.currency, dollars.exchange_rate, dollars.amount, dollars.fee) == (
            "gbp",
            0.8,
            8000,
            140,
        )
        got = client.v1.balance.retrieve()
        assert sorted((b.currency, b.amount) for b in got.available) == [
            ("chf", 5000),  # the opening balance, a top-up
            ("eur", 9830),
            ("gbp", 7860),
        ]
        # settling in pounds, GBP's own minimum (0.30) is the one that counts
        with pytest.raises(stripe.InvalidRequestError) as too_small:
            captured(client, 29, "gbp")
        assert too_small.value.code == "amount_too_small"
        assert captured(client, 30, "gbp").amount_captured == 30
        topups = client.v1.balance_transactions.list({"type": "topup"}).data
        assert [(t.amount, t.currency, t.status) for t in topups] == [(5000, "chf", "available")]


@pytest.mark.parametrize(
    "flags",
    [
        ["--settlement-currency", "dollars"],
        ["--exchange-rate", "gbp=nothing"],
        ["--settlement-currency", "xyz"],
        ["--opening-balance", "usd=lots"],
    ],
)
def test_bad_settlement_flags_are_refused_at_start_up(flags: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.stripe_server", "--port", "0", *flags],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr


class _Txn:
    """A balance transaction that counts how often its `net` is read."""

    nets_read = 0

    def __init__(self, net: int, currency: str, available_on: int) -> None:
        self._net, self.currency, self.available_on = net, currency, available_on

    @property
    def net(self) -> int:
        _Txn.nets_read += 1
        return self._net


def _nets_read_by_reads(held: int, reads: int) -> int:
    ledger = Ledger()
    now = stripe_server._now()
    for _ in range(held):
        ledger.noted(_Txn(100, "usd", now))
    ledger.balances()
    _Txn.nets_read = 0
    for _ in range(reads):
        ledger.noted(_Txn(-1, "usd", now))
        ledger.balances()
    return _Txn.nets_read


def test_reading_the_balance_costs_the_same_however_many_transactions_are_kept() -> None:
    assert _nets_read_by_reads(5_000, 200) == _nets_read_by_reads(100, 200) == 200


def test_the_ledger_moves_pending_funds_to_available_at_their_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = Ledger()
    now = stripe_server._now()
    ledger.noted(_Txn(500, "eur", now))
    ledger.noted(_Txn(300, "eur", now + 10))
    ledger.noted(_Txn(200, "eur", now + 20))
    available, pending = ledger.balances()
    assert (available["eur"], pending["eur"]) == (500, 500)
    monkeypatch.setattr(stripe_server.clock, "offset", stripe_server.clock.offset + 15)
    available, pending = ledger.balances()
    assert (available["eur"], pending["eur"]) == (800, 200)
    monkeypatch.setattr(stripe_server.clock, "offset", stripe_server.clock.offset + 10)
    available, pending = ledger.balances()
    assert (available["eur"], pending["eur"]) == (1000, 0)
