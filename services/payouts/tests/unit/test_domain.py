from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application

from headstore.errors import Conflict, InvalidInput, PreconditionFailed
from services.payouts.domain import (
    EARNINGS,
    KEPT_WEEKS,
    PAYOUT_COUNTRIES,
    RECIPIENT,
    ExpertStatistics,
    Payee,
    PayoutWeeks,
    Referral,
    check_country,
    payout_countries,
    service_agreement,
    share_of,
)

ANCHOR = datetime(2026, 1, 5, tzinfo=UTC)
WEEKS = PayoutWeeks(ANCHOR, timedelta(days=7))


def credited_payee(*amounts_by_week: tuple[int, int], currency: str = "USD") -> Payee:
    payee = Payee.open("expert-1")
    for index, (week, amount) in enumerate(amounts_by_week):
        payee.credit(
            entry=EARNINGS,
            session_id=f"s{index}",
            expert_id="expert-1",
            currency=currency,
            amount_minor=amount,
            commission_minor=amount // 9,
            earned_at=WEEKS.start(week),
            week=week,
        )
    return payee


def test_the_faqs_23_payout_countries_are_accepted_and_others_refused():
    assert len(PAYOUT_COUNTRIES) == 23
    for code in PAYOUT_COUNTRIES:
        assert check_country(code.lower()) == code
    with pytest.raises(InvalidInput) as refused:
        check_country("IN")
    assert refused.value.code == "unsupported_payout_country"
    assert "Switzerland" in refused.value.message


def test_weeks_count_from_the_anchor():
    assert WEEKS.week_of(ANCHOR) == 0
    assert WEEKS.week_of(ANCHOR + timedelta(days=6, hours=23)) == 0
    assert WEEKS.week_of(ANCHOR + timedelta(days=7)) == 1
    assert WEEKS.week_of(ANCHOR - timedelta(seconds=1)) == -1
    assert WEEKS.last_finished(ANCHOR + timedelta(days=7, seconds=1)) == 0
    assert WEEKS.end(0) == WEEKS.start(1) == ANCHOR + timedelta(days=7)


def test_a_share_rounds_half_up_in_integers():
    assert share_of(900, 1000) == 90
    assert share_of(15, 1000) == 2  # 1.5 → 2
    assert share_of(14, 1000) == 1
    assert share_of(0, 1000) == 0


def test_a_session_is_credited_once():
    payee = credited_payee((0, 8100))
    again = payee.credit(
        entry=EARNINGS,
        session_id="s0",
        expert_id="expert-1",
        currency="USD",
        amount_minor=8100,
        commission_minor=900,
        earned_at=ANCHOR,
        week=0,
    )
    assert again is False and payee.balance("USD") == 8100


def test_only_earnings_up_to_the_week_are_due():
    payee = credited_payee((0, 1000), (1, 500))
    assert payee.due("USD", 0) == 1000
    assert payee.due("USD", 1) == 1500


def test_a_transfer_above_the_due_balance_is_refused_before_it_is_sent():
    payee = credited_payee((0, 1000), (1, 500))
    with pytest.raises(PreconditionFailed) as refused:
        payee.check_transfer(0, "USD", 1500)
    assert refused.value.code == "transfer_exceeds_balance"
    payee.check_transfer(0, "USD", 1000)
    payee.record_transfer_sent(
        week=0, currency="USD", amount_minor=1000, transfer_id="tr_1", transfer_group="g",
        destination="acct_1",
    )  # fmt: skip
    assert payee.balance("USD") == 500 and payee.due("USD", 0) == 0
    with pytest.raises(Conflict):
        payee.record_transfer_failed(week=0, currency="USD", amount_minor=1, reason="x")


def test_a_failed_transfer_leaves_the_balance_due():
    payee = credited_payee((0, 1000))
    payee.record_transfer_failed(week=0, currency="USD", amount_minor=1000, reason="no")
    assert payee.due("USD", 1) == 1000


def test_a_referral_names_someone_else_and_a_share_within_100_percent():
    with pytest.raises(InvalidInput):
        Referral.record("expert-1", "expert-1", 1000)
    with pytest.raises(InvalidInput):
        Referral.record("expert-1", "amb-1", 0)
    assert Referral.record("expert-1", "amb-1", 1000).share(900) == 90


def test_average_rating_is_kept_in_hundredths():
    stats = ExpertStatistics.open("expert-1")
    for session, stars in (("a", 5), ("b", 4), ("c", 4), ("a", 1)):
        stats.count_rating(session, stars)
    assert stats.average_rating_hundredths == 433  # (5+4+4)/3, the repeat ignored


def round_trips(aggregate) -> None:
    """Saved, read back and read back from a snapshot (JSON), the state is the same."""
    app: Application[UUID] = Application(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    app.save(aggregate)
    assert vars(app.repository.get(aggregate.id)) == vars(aggregate)
    app.take_snapshot(aggregate.id)
    assert vars(app.repository.get(aggregate.id)) == vars(aggregate)


def test_payee_and_statistics_round_trip_through_a_snapshot():
    payee = credited_payee((0, 1000), (11, 500))
    payee.record_transfer_sent(
        week=11, currency="USD", amount_minor=1500, transfer_id="tr_1", transfer_group="g",
        destination="acct_1",
    )  # fmt: skip
    payee.issue_statement(11, WEEKS, ["USD"])
    round_trips(payee)
    stats = ExpertStatistics.open("expert-1")
    stats.count_session("s1", "USD", 30, 3)
    stats.count_rating("s1", 5)
    round_trips(stats)


def test_a_platform_in_europe_pays_out_in_europe_only_and_says_so():
    assert set(payout_countries("DE")) == {
        "AT", "BE", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "LU", "NL", "NO",
        "PT", "SE",
    }  # fmt: skip
    assert check_country("fr", "DE") == "FR"
    with pytest.raises(InvalidInput) as refused:
        check_country("BR", "DE")
    assert refused.value.code == "unsupported_payout_country"
    assert refused.value.field == "country"
    assert "Brazil (BR)" in refused.value.message and "Germany" in refused.value.message
    assert set(payout_countries("US")) == set(PAYOUT_COUNTRIES)
    assert set(payout_countries("JP")) == {"JP"}


def test_an_account_abroad_takes_the_recipient_service_agreement():
    assert service_agreement("FR", "US") == RECIPIENT
    assert service_agreement("us", "US") == "full"


def test_money_taken_back_can_take_the_balance_below_zero_and_nothing_is_due():
    payee = credited_payee((0, 1000))
    assert payee.debit(reference="re_1", currency="USD", amount_minor=1500, reason="refund", week=0)
    assert payee.balance("USD") == -500
    assert payee.due("USD", 0) == 0
    with pytest.raises(PreconditionFailed):
        payee.check_transfer(0, "USD", 1)
    assert not payee.debit(reference="re_1", currency="USD", amount_minor=1500, reason="", week=0)
    payee.credit(
        entry=EARNINGS, session_id="s9", expert_id="expert-1", currency="USD", amount_minor=800,
        commission_minor=88, earned_at=WEEKS.start(1), week=1,
    )  # fmt: skip
    assert payee.balance("USD") == 300 and payee.due("USD", 0) == 0 and payee.due("USD", 1) == 300


def test_a_debit_is_a_positive_amount_with_a_reference():
    payee = credited_payee((0, 1000))
    with pytest.raises(InvalidInput) as refused:
        payee.debit(reference="re_1", currency="USD", amount_minor=0, reason="", week=0)
    assert refused.value.code == "invalid_debit"
    with pytest.raises(InvalidInput):
        payee.debit(reference="", currency="USD", amount_minor=5, reason="", week=0)


def test_a_payees_state_stays_the_same_size_however_long_it_earns():
    import json

    def size_after(weeks: int) -> tuple[int, Payee]:
        payee = credited_payee(*[(week, 100) for week in range(weeks) for _ in range(20)])
        for week in range(weeks):
            payee.record_transfer_sent(
                week=week, currency="USD", amount_minor=2000, transfer_id=f"tr_{week}",
                transfer_group="g", destination="acct_1",
            )  # fmt: skip
            payee.issue_statement(week, WEEKS, ["USD"])
        state = {key: value for key, value in payee.__dict__.items() if not key.startswith("_")}
        return len(json.dumps(state, default=str)), payee

    short, _ = size_after(KEPT_WEEKS + 2)
    long, payee = size_after(60)
    assert long < short * 1.2
    assert len(payee.recent) == 20 * KEPT_WEEKS
    assert len(payee.weeks["USD"]) == KEPT_WEEKS
    assert len(payee.outcomes) == KEPT_WEEKS and len(payee.statements) == KEPT_WEEKS
    assert payee.totals["USD"] == {"credited": 60 * 2000, "debited": 0, "paid": 60 * 2000}
    assert payee.balance("USD") == 0


def test_a_snapshot_of_a_payee_that_kept_every_credit_loads_as_totals():
    old: dict[str, Any] = {
        "account_id": "e1",
        "credits": {
            f"earnings:s{week}": {
                "entry": EARNINGS, "session_id": f"s{week}", "expert_id": "e1", "currency": "USD",
                "amount": 100, "commission": 11, "week": week,
            }
            for week in range(12)
        },
        "credited": {"USD": {str(week): 100 for week in range(12)}},
        "paid": {"USD": 1000},
        "outcomes": {
            f"{w}:USD": {"status": "sent", "amount": 100, "transfer_id": "t", "reason": ""}
            for w in range(10)
        },
        "statements": list(range(10)),
    }  # fmt: skip
    Payee.upcast_v1_v2(old)
    Payee.upcast_v2_v3(old)  # the library upcasts a snapshot one version after another
    assert old["totals"] == {"USD": {"credited": 1200, "debited": 0, "paid": 1000}}
    assert sorted(int(w) for w in old["weeks"]["USD"]) == list(range(12 - KEPT_WEEKS, 12))
    assert "credits" not in old and old["newest_week"] == 11
    payee = Payee.__new__(Payee)
    payee.__dict__.update(old)
    assert payee.balance("USD") == 200 and payee.due("USD", 10) == 100
    assert payee.holds == {}
    payee.holds["dispute:dp_1"] = "s11"  # a kept credit keeps its amount: it can be held
    assert payee.held("USD") == 100 and payee.due("USD", 11) == 100
