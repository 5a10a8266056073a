"""Reconcile on the ledger's own figures: a consistent replay has no difference, a row altered
by hand is listed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from finance.cli import main
from finance.reconcile import reconcile
from finance.replay import replay
from finance.tests.scenario import Books
from finance.tests.test_replay import sources
from headstore.settings import Settings


@pytest.fixture
def ledger(standard: Books, tmp_path: Path) -> Path:
    out = tmp_path / "ledger"
    replay(
        Settings(persistence="memory"), out, quiet=True, projection=False, sources=sources(standard)
    )
    return out


def alter(path: Path, match: dict[str, str], **changes: str) -> None:
    """Change the first row of the CSV file that matches `match`, as a person would."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    row = next(r for r in rows if all(r[k] == v for k, v in match.items()))
    row.update(changes)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header or [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_a_consistent_ledger_has_zero_differences(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = reconcile(ledger, with_stripe=False)
    assert report.differences == []
    assert main(["reconcile", "--ledger", str(ledger), "--no-stripe"]) == 0
    assert capsys.readouterr().out == "reconciled: 5 sessions, 7 transfers, zero differences\n"


def test_an_altered_captured_amount_is_listed(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alter(ledger / "sessions.csv", {"session_id": "s-01"}, captured_minor="9100")
    assert main(["reconcile", "--ledger", str(ledger), "--no-stripe"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "sessions.csv line 2 (session s-01): captured_minor 9100 != total_minor 9000" in out
    assert (
        "sessions.csv line 2 (session s-01): captured_minor 9100 != "
        "expert_share_minor + commission_minor 9000" in out
    )
    assert (
        "currencies.csv line 3 (USD): captured_minor 11700 != "
        "sum of sessions.csv captured_minor 11800" in out
    )
    assert out[-1] == f"{len(out) - 1} differences"


def test_an_altered_commission_split_is_listed(ledger: Path) -> None:
    alter(ledger / "sessions.csv", {"session_id": "s-02"}, platform_net_minor="300")
    differences = reconcile(ledger, with_stripe=False).differences
    assert (
        "sessions.csv line 3 (session s-02): commission_minor 325 != "
        "ambassador_share_minor + platform_net_minor 349" in differences
    )


def test_a_transfer_larger_than_the_credits_is_a_negative_balance(ledger: Path) -> None:
    alter(ledger / "transfers.csv", {"payee_id": "expert-1"}, amount_minor="20000")
    alter(ledger / "expert_weeks.csv", {"payee_id": "expert-1"}, transferred_minor="20000")
    differences = reconcile(ledger, with_stripe=False).differences
    assert (
        "payee expert-1 USD: transfers sent through week 0 (20000) exceed the credits through "
        "week 0 (10530): the balance is negative" in differences
    )
    assert any(
        d.startswith("currencies.csv line 3 (USD): transferred_minor 10530") for d in differences
    )


def test_a_transfer_missing_from_the_weeks_is_listed(ledger: Path) -> None:
    alter(ledger / "expert_weeks.csv", {"payee_id": "expert-2", "week": "2"}, transfer_ids="")
    differences = reconcile(ledger, with_stripe=False).differences
    assert differences == [
        "expert_weeks.csv line 8 (payee expert-2, week 2, EUR): transfer_ids '' != "
        "transfers.csv 'tr_expert-2_2_EUR'"
    ]


def test_a_number_that_is_not_a_whole_number_is_listed(ledger: Path) -> None:
    alter(ledger / "currencies.csv", {"currency": "EUR"}, commission_minor="13.45")
    differences = reconcile(ledger, with_stripe=False).differences
    assert differences == [
        "currencies.csv line 2: commission_minor is not a whole number: '13.45'",
        "currencies.csv: no row for EUR, which the other files have",  # the row left out
    ]


def test_a_missing_file_is_listed(ledger: Path) -> None:
    (ledger / "transfers.csv").unlink()
    differences = reconcile(ledger, with_stripe=False).differences
    assert differences[0] == f"{ledger / 'transfers.csv'}: missing"


@pytest.fixture
def refunded_ledger(books: Books, tmp_path: Path) -> Path:
    books.refer("expert-1", "ambassador-1", 1000)
    refunded, lost, won = (books.session(s) for s in ("s-refunded", "s-lost", "s-won"))
    for bill in (refunded, lost, won):
        books.credit(bill)
    books.refund(refunded)
    books.dispute(lost, "dp_lost", "lost")
    books.dispute(won, "dp_won", "won")
    out = tmp_path / "ledger"
    replay(
        Settings(persistence="memory"), out, quiet=True, projection=False, sources=sources(books)
    )
    return out


def test_refunds_and_disputes_reconcile_with_zero_differences(refunded_ledger: Path) -> None:
    assert reconcile(refunded_ledger, with_stripe=False).differences == []


def test_a_refund_whose_split_or_debits_were_altered_is_listed(refunded_ledger: Path) -> None:
    alter(refunded_ledger / "adjustments.csv", {"reference": "refund:s-refunded"},
          expert_share_minor="8000")  # fmt: skip
    alter(refunded_ledger / "debits.csv", {"reference": "dispute:dp_lost",
          "payee_id": "ambassador-1"}, amount_minor="91")  # fmt: skip
    differences = reconcile(refunded_ledger, with_stripe=False).differences
    assert any(
        "(refund:s-refunded): amount_minor 9000 != expert_share_minor + commission_minor 8900" in d
        for d in differences
    ), differences
    assert any(
        "(refund:s-refunded): expert_share_minor 8000 != the expert's debits.csv rows 8100" in d
        for d in differences
    ), differences
    assert any(
        "(dispute:dp_lost): ambassador_share_minor 90 != the ambassadors' debits.csv rows 91" in d
        for d in differences
    ), differences
