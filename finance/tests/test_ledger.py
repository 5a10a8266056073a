"""The ledgers folded from events the real aggregates stored (in memory)."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.utils import get_topic

from finance import events as ev
from finance.ledger import (
    ADJUSTMENTS,
    CAPTURES,
    COLUMNS,
    CURRENCIES,
    DEBITS,
    EXPERT_WEEKS,
    SESSIONS,
    TRANSFERS,
    Ledger,
)
from finance.replay import fold
from finance.source import RecorderStore
from finance.tests.scenario import WEEKS, Books
from services.billing.domain import Bill


def tables(books: Books, page_size: int | None = None) -> dict[str, list[dict[str, Any]]]:
    sources = [
        RecorderStore(books.billing.recorder, "billing"),
        RecorderStore(books.payouts.recorder, "payouts"),
    ]
    if page_size is not None:
        ledger = Ledger()
        for source in sources:
            for page in source.pages(source.head(), page_size=page_size):
                ledger.fold(page)
    else:
        ledger, _ = fold(sources)
    return {
        name: [dict(zip(COLUMNS[name], row, strict=True)) for row in rows]
        for name, rows in ledger.tables().items()
    }


def by(rows: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [row for row in rows if all(row[k] == v for k, v in match.items())]


def test_the_faq_example_is_one_session_row(books: Books) -> None:
    books.session("s-faq", seconds=30 * 60)  # 30 minutes at 3.00 USD
    (row,) = tables(books)[SESSIONS]
    assert row["total_minor"] == row["captured_minor"] == 9000
    assert (row["expert_share_minor"], row["commission_minor"]) == (8100, 900)
    assert (row["minutes"], row["billed_minutes"], row["rate_minor"]) == (30, 30, 300)
    assert row["ambassador_id"] == "" and row["ambassador_share_minor"] == 0
    assert row["platform_net_minor"] == 900
    assert row["payment_intents"].count(";") == 2  # three 10-minute holds, each captured
    assert row["charged_at"].endswith("+00:00")


def test_the_minute_billed_after_the_end_is_not_charged(books: Books) -> None:
    bill = books.session("s-race", seconds=8 * 60 + 59, race=True)
    billed = [
        n
        for n in books.billing.recorder.select_notifications(1, 1000)
        if n.topic.endswith("Bill.MinuteBilled")
    ]
    assert len(billed) == 10 and bill.used_minutes == 9
    (row,) = tables(books)[SESSIONS]
    assert (row["minutes"], row["billed_minutes"], row["total_minor"]) == (9, 9, 2700)
    assert row["captured_minor"] == 2700


def test_free_minutes_are_not_charged(books: Books) -> None:
    books.session("s-free", currency="EUR", free_minutes=3, seconds=7 * 60)
    (row,) = tables(books)[SESSIONS]
    assert (row["currency"], row["minutes"], row["billed_minutes"]) == ("EUR", 7, 4)
    assert row["total_minor"] == row["captured_minor"] == 1200


def test_a_session_still_settling_has_captures_but_no_row(books: Books) -> None:
    bill = books.session("s-open", seconds=24 * 60, settle=False)
    books.settle(bill, steps=1)
    found = tables(books)
    assert found[SESSIONS] == []
    (capture,) = found[CAPTURES]
    assert (capture["session_id"], capture["block"], capture["amount_minor"]) == ("s-open", 1, 3000)
    assert found[CURRENCIES] == []


def test_the_ambassador_gets_a_share_of_the_commission_and_the_platform_the_rest(
    books: Books,
) -> None:
    books.refer("expert-2", "ambassador-1", 1500)
    bill = books.session("s-ref", expert_id="expert-2", rate=250, currency="EUR", seconds=754)
    books.credit(bill)
    found = tables(books)
    (row,) = found[SESSIONS]
    assert row["commission_minor"] == 325
    assert (row["ambassador_id"], row["ambassador_share_minor"]) == ("ambassador-1", 49)
    assert row["platform_net_minor"] == 325 - 49
    (currency,) = found[CURRENCIES]
    assert currency["ambassador_shares_minor"] == 49
    assert currency["unpaid_minor"] == 2925 + 49  # credited, nothing transferred yet
    weeks = {(w["payee_id"], w["week"]): w for w in found[EXPERT_WEEKS]}
    week = WEEKS.week_of(books.clock.now())
    assert weeks[("expert-2", week)]["earnings_minor"] == 2925
    assert weeks[("ambassador-1", week)]["ambassador_shares_minor"] == 49


def test_transfers_by_payee_week_and_currency(standard: Books) -> None:
    found = tables(standard)
    sent = by(found[TRANSFERS], payee_id="expert-2", status="sent")
    failed = by(found[TRANSFERS], payee_id="expert-2", status="failed")
    assert [(t["week"], t["amount_minor"]) for t in sent] == [(0, 4005), (2, 8100)]
    assert [(t["week"], t["amount_minor"], t["reason"]) for t in failed] == [
        (1, 8100, "account restricted")
    ]
    assert sent[0]["transfer_group"] == "payouts-week-0"
    weeks = by(found[EXPERT_WEEKS], payee_id="expert-2")
    assert [
        (w["week"], w["earnings_minor"], w["transferred_minor"], w["failed_minor"]) for w in weeks
    ] == [(0, 4005, 4005, 0), (1, 8100, 0, 8100), (2, 0, 8100, 0)]
    assert weeks[2]["transfer_ids"] == "tr_expert-2_2_EUR"
    assert [w["week_start"] for w in weeks] == [
        "2026-01-05T00:00:00.000000+00:00",
        "2026-01-12T00:00:00.000000+00:00",
        "2026-01-19T00:00:00.000000+00:00",
    ]
    usd, eur = sorted(found[CURRENCIES], key=lambda c: c["currency"], reverse=True)
    assert (usd["currency"], usd["sessions"], usd["transferred_minor"]) == ("USD", 2, 10530)
    assert eur["transferred_minor"] == 67 + 135 + 4005 + 8100 and eur["unpaid_minor"] == 0


def test_week_starts_follow_from_two_known_weeks() -> None:
    ledger = Ledger()
    ledger.week_starts = {3: WEEKS.start(3), 5: WEEKS.start(5)}
    assert ledger.week_start(9) == WEEKS.start(9).isoformat(timespec="microseconds")
    assert Ledger().week_start(9) == ""


def test_other_topics_are_skipped_unread(books: Books) -> None:
    ledger = Ledger()
    ledger.fold(
        [
            (1, "c0ffee00-0000-0000-0000-000000000000", "services.calls.domain:X.Y", b"not json"),
            (2, "c0ffee00-0000-0000-0000-000000000000", get_topic(Bill.MinuteBilled), None),
        ]
    )
    assert (ledger.events, ledger.used) == (2, 0)


def test_events_stored_under_the_former_module_paths_fold_the_same(standard: Books) -> None:
    """A store written before the stable topics holds `services.billing.domain:Bill.Opened`
    and the like: the same ledgers come out of it."""
    ledger, former = Ledger(), Ledger()
    for source in (
        RecorderStore(standard.billing.recorder, "billing"),
        RecorderStore(standard.payouts.recorder, "payouts"),
    ):
        for page in source.pages(source.head()):
            ledger.fold(page)
            renamed = [
                (
                    n,
                    originator,
                    ev.former_topic(topic) if topic in ev.DATETIME_FIELDS else topic,
                    state,
                )
                for n, originator, topic, state in page
            ]
            assert any(row[2].startswith("services.") for row in renamed)
            former.fold(renamed)
    assert former.tables() == ledger.tables()
    assert (former.events, former.used) == (ledger.events, ledger.used) and ledger.used > 0


def test_small_pages_fold_to_the_same_tables(standard: Books) -> None:
    assert tables(standard, page_size=7) == tables(standard)


def test_a_refund_flows_to_the_adjustments_and_the_payees_debits(books: Books) -> None:
    books.refer("expert-1", "ambassador-1", 1000)
    bill = books.session("s-r", seconds=30 * 60)  # 90.00 USD: 81.00 and 9.00
    books.credit(bill)
    books.run_week(WEEKS.week_of(books.clock.now()))  # 81.00 and 0.90 paid out
    books.refund(bill)
    found = tables(books)
    (adjustment,) = found[ADJUSTMENTS]
    assert (adjustment["kind"], adjustment["reference"], adjustment["amount_minor"]) == (
        "refund",
        "refund:s-r",
        9000,
    )
    assert (adjustment["expert_share_minor"], adjustment["commission_minor"]) == (8100, 900)
    assert (adjustment["ambassador_share_minor"], adjustment["platform_net_minor"]) == (90, 810)
    assert adjustment["payment_intents"] == found[SESSIONS][0]["payment_intents"]
    assert adjustment["refund_ids"] == ";".join(
        f"re_{intent}" for intent in adjustment["payment_intents"].split(";")
    )
    assert sorted((d["payee_id"], d["amount_minor"]) for d in found[DEBITS]) == [
        ("ambassador-1", 90),
        ("expert-1", 8100),
    ]
    # the payout figures: what was paid out is owed back, carried as a negative balance
    assert books.payees["expert-1"].balance("USD") == -8100
    assert books.run_week(WEEKS.week_of(books.clock.now())) == []


def test_a_lost_dispute_is_an_adjustment_and_a_won_one_is_not(books: Books) -> None:
    lost, won = books.session("s-lost"), books.session("s-won")
    books.credit(lost)
    books.credit(won)
    books.dispute(lost, "dp_lost", "lost")
    books.dispute(won, "dp_won", "won")
    found = tables(books)
    (adjustment,) = found[ADJUSTMENTS]
    assert (adjustment["kind"], adjustment["reference"]) == ("dispute_lost", "dispute:dp_lost")
    assert (adjustment["amount_minor"], adjustment["expert_share_minor"]) == (9000, 8100)
    assert [(d["payee_id"], d["reference"]) for d in found[DEBITS]] == [
        ("expert-1", "dispute:dp_lost")
    ]


def test_a_stored_money_event_the_ledger_does_not_know_stops_the_fold() -> None:
    ledger = Ledger()
    ledger.fold([(1, "id", "headstore:StripeEventReceipt.Recorded", b"{}")])  # not billing's
    ledger.fold([(2, "id", "billing:Refund.Granted", b"{}")])  # known to carry no money
    with pytest.raises(ev.UnknownMoneyEvent) as stopped:
        ledger.fold([(3, "id", "payouts:Payee.Bonused", b"{}")])
    assert stopped.value.code == "unknown_money_event"
    assert "payouts:Payee.Bonused" in str(stopped.value) and "notification 3" in str(stopped.value)
    with pytest.raises(ev.UnknownMoneyEvent):
        ledger.fold([(4, "id", "services.billing.domain:Bill.Refunded", b"{}")])
