from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from headstore.errors import Conflict, InvalidInput, PreconditionFailed
from headstore.money import Money
from services.billing.domain import MAX_SESSION_MINUTES, Bill, HoldStatus, Operation, bill_id

from .conftest import START

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _clock(clock):
    return clock


def opened(
    rate: int = 300,
    free_minutes: int = 0,
    free_session: bool = False,
    currency: str = "USD",
    block_minutes: int = 10,
) -> Bill:
    """A bill with holds per block of 10 minutes, unless told: most tests here prove the
    block mechanism, which one hold per session (the default) is the simplest case of."""
    return Bill.open(
        session_id="session-1",
        client_id="client-1",
        expert_id="expert-1",
        rate=Money(currency, rate),
        free_minutes=free_minutes,
        free_session=free_session,
        block_minutes=block_minutes,
    )


def place_pending(bill: Bill) -> None:
    hold = bill.pending_hold()
    if hold is not None:
        bill.record_hold_placed(hold["block"], hold["attempt"], f"pi_{hold['block']}")


def started(rate: int = 300, free_minutes: int = 0, free_session: bool = False) -> Bill:
    bill = opened(rate, free_minutes, free_session)
    place_pending(bill)
    bill.start(START, 60, 90)
    return bill


def run(bill: Bill, until: datetime, step: timedelta = timedelta(seconds=10)) -> None:
    """The timer and a card that always says yes: holds requested when due and placed at once,
    minutes billed as they start."""
    now = START
    while now < until:
        bill.request_next_hold(now)
        place_pending(bill)
        bill.bill_minutes_started_by(now)
        now += step


def settle(bill: Bill) -> None:
    """Make every planned capture and cancellation, as the payment run does."""
    while (step := bill.next_payment()) is not None:
        if step.operation == Operation.CAPTURE:
            bill.record_capture(step.block)
        else:
            bill.record_cancel(step.block)


def session(
    minutes_long: timedelta, rate: int = 300, free_minutes: int = 0, free_session: bool = False
) -> Bill:
    bill = started(rate, free_minutes, free_session)
    run(bill, START + minutes_long)
    bill.close(START + minutes_long, "client_hung_up")
    settle(bill)
    return bill


def of(bill: Bill, kind: type) -> list:
    return [e for e in bill.collect_events() if isinstance(e, kind)]


def settlement_plan(bill: Bill) -> list[dict[str, Any]]:
    """The captures and cancellations that settle the bill, made once it can be settled."""
    assert bill.plan is not None
    return bill.plan


def test_the_bill_of_a_session_has_a_stable_id():
    assert opened().id == bill_id("session-1")


def test_faq_example_30_minutes_at_3_usd():
    bill = session(30 * MINUTE)
    [charged] = of(bill, Bill.Charged)
    assert (charged.minutes, charged.billed_minutes) == (30, 30)
    assert (charged.total_minor, charged.expert_share_minor, charged.platform_share_minor) == (
        9000,
        8100,
        900,
    )
    assert charged.currency == "USD"


def test_free_minutes_are_not_charged():
    bill = session(10 * MINUTE, rate=200, free_minutes=3)
    events = bill.collect_events()
    charged = [e for e in events if isinstance(e, Bill.Charged)][0]
    assert charged.total_minor == 1400
    assert charged.billed_minutes == 7
    assert [e.minute for e in events if isinstance(e, Bill.MinuteBilled)] == list(range(4, 11))


def test_a_free_session_charges_nothing_and_takes_no_hold():
    bill = session(20 * MINUTE, free_session=True)
    events = bill.collect_events()
    assert not [e for e in events if isinstance(e, Bill.HoldRequested | Bill.MinuteBilled)]
    [placed] = [e for e in events if isinstance(e, Bill.HoldPlaced)]
    assert (placed.amount_minor, placed.payment_intent_id) == (0, "")
    assert placed.covers_minutes_to == MAX_SESSION_MINUTES
    [charged] = [e for e in events if isinstance(e, Bill.Charged)]
    assert (charged.minutes, charged.total_minor) == (20, 0)
    assert not [e for e in events if isinstance(e, Bill.EarningsAccrued)]


def test_a_block_of_free_minutes_needs_no_card_call():
    bill = opened(rate=200, free_minutes=10)
    assert bill.pending_hold() is None
    assert bill.holds[0]["status"] == HoldStatus.PLACED and bill.holds[0]["amount"] == 0


def test_no_91st_minute_even_if_the_session_ended_at_95_minutes():
    bill = started(rate=100)
    run(bill, START + 95 * MINUTE)
    bill.close(START + 95 * MINUTE, "time_limit")
    settle(bill)
    events = bill.collect_events()
    minutes = [e.minute for e in events if isinstance(e, Bill.MinuteBilled)]
    assert minutes == list(range(1, 91))
    [charged] = [e for e in events if isinstance(e, Bill.Charged)]
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (90, 90, 9000)
    assert not [e for e in events if isinstance(e, Bill.HoldRequested) and e.block > 9]


def test_minute_91_is_refused():
    bill = started()
    with pytest.raises(InvalidInput) as error:
        bill.bill_minute(91)
    assert error.value.code == "minute_beyond_limit"


def test_billing_an_already_billed_minute_changes_nothing():
    bill = started()
    assert bill.bill_minute(1) is True
    assert bill.bill_minute(1) is False
    assert bill.bill_minutes_started_by(START + timedelta(seconds=30)) == 0
    assert [e.minute for e in of(bill, Bill.MinuteBilled)] == [1]


def test_each_started_minute_is_billed_once_however_often_the_timer_runs():
    bill = started()
    for seconds in (0, 0, 1, 59, 60, 60, 61, 119, 120, 120):
        bill.bill_minutes_started_by(START + timedelta(seconds=seconds))
    assert [e.minute for e in of(bill, Bill.MinuteBilled)] == [1, 2, 3]


def test_a_minute_is_billed_whole_as_it_starts():
    bill = started()
    run(bill, START + 10 * MINUTE)
    bill.close(START + 10 * MINUTE + timedelta(seconds=1), "client_hung_up")
    settle(bill)
    [charged] = of(bill, Bill.Charged)
    assert (charged.minutes, charged.total_minor) == (11, 3300)


def test_a_session_that_ended_before_it_started_bills_nothing():
    bill = opened()
    place_pending(bill)
    bill.close(START, "cancelled")
    settle(bill)
    events = bill.collect_events()
    assert not [e for e in events if isinstance(e, Bill.MinuteBilled)]
    assert [e.block for e in events if isinstance(e, Bill.HoldCancelled)] == [1]
    [charged] = [e for e in events if isinstance(e, Bill.Charged)]
    assert (charged.minutes, charged.total_minor) == (0, 0)


def test_minutes_started_after_the_end_are_not_charged():
    bill = started()
    run(bill, START + 5 * MINUTE)  # the timer billed minute 6 before the end arrived
    bill.close(START + 4 * MINUTE + timedelta(seconds=30), "client_hung_up")
    settle(bill)
    [charged] = of(bill, Bill.Charged)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (5, 5, 1500)


@pytest.mark.parametrize(
    ("total", "platform", "expert"),
    [(5, 1, 4), (15, 2, 13), (105, 11, 94), (9000, 900, 8100), (4, 0, 4), (14, 1, 13)],
)
def test_the_commission_is_rounded_half_up(total, platform, expert):
    bill = session(timedelta(seconds=30), rate=total)
    events = bill.collect_events()
    [charged] = [e for e in events if isinstance(e, Bill.Charged)]
    assert (charged.total_minor, charged.platform_share_minor) == (total, platform)
    assert charged.expert_share_minor == expert
    [minute] = [e for e in events if isinstance(e, Bill.MinuteBilled)]
    assert minute.earnings_so_far_minor == expert


def test_live_earnings_match_the_final_split():
    bill = session(7 * MINUTE, rate=105)
    events = bill.collect_events()
    minutes = [e for e in events if isinstance(e, Bill.MinuteBilled)]
    assert [e.cost_so_far_minor for e in minutes] == [105 * k for k in range(1, 8)]
    assert [e.earnings_so_far_minor for e in minutes] == [
        105 * k - (105 * k * 10 + 50) // 100 for k in range(1, 8)
    ]
    [charged] = [e for e in events if isinstance(e, Bill.Charged)]
    [earned] = [e for e in events if isinstance(e, Bill.EarningsAccrued)]
    assert minutes[-1].earnings_so_far_minor == charged.expert_share_minor == earned.amount_minor


def test_each_block_has_its_own_hold_for_the_billable_minutes_in_it():
    bill = opened(rate=200, free_minutes=3)
    assert bill.block_amount(1) == Money("USD", 1400)
    assert bill.block_amount(2) == Money("USD", 2000)
    assert bill.block_range(9) == (81, 90)
    step = bill.next_payment()
    assert step is not None and step.operation == Operation.HOLD
    assert (step.block, step.amount, step.covers_minutes_to) == (1, Money("USD", 1400), 10)
    assert step.idempotency_key == "session-1:1:hold"


def test_the_next_blocks_hold_is_due_at_the_lead_time():
    bill = started()
    assert bill.next_hold_due(START + 8 * MINUTE - timedelta(microseconds=1)) is None
    assert bill.next_hold_due(START + 8 * MINUTE) == 2
    assert bill.request_next_hold(START + 8 * MINUTE) == 2
    assert bill.next_hold_due(START + 9 * MINUTE) is None  # requested: waiting for the card
    bill.record_hold_placed(2, 1, "pi_2")
    assert bill.next_hold_due(START + 18 * MINUTE - timedelta(seconds=1)) is None
    assert bill.next_hold_due(START + 18 * MINUTE) == 3


def test_no_hold_is_due_before_the_start_or_after_the_end():
    bill = opened()
    place_pending(bill)
    assert bill.next_hold_due(START + 50 * MINUTE) is None
    bill.start(START, 60, 90)
    bill.close(START + 5 * MINUTE, "client_hung_up")
    assert bill.next_hold_due(START + 50 * MINUTE) is None


def test_minutes_no_hold_covers_are_not_billed():
    bill = started()
    bill.request_next_hold(START + 8 * MINUTE)  # requested, but the card has not answered
    assert bill.bill_minutes_started_by(START + 12 * MINUTE) == 10
    bill.record_hold_placed(2, 1, "pi_2")
    assert bill.bill_minutes_started_by(START + 12 * MINUTE) == 3


def test_a_failed_later_hold_warns_then_a_second_failure_ends_the_session():
    bill = started()
    bill.request_next_hold(START + 8 * MINUTE)
    bill.record_hold_declined(2, 1, "Your card was declined.")
    assert bill.next_hold_due(START + 8 * MINUTE + timedelta(seconds=59)) is None
    assert bill.request_next_hold(START + 9 * MINUTE) == 2
    step = bill.next_payment()
    assert step is not None and step.idempotency_key == "session-1:2:hold-2"
    bill.record_hold_declined(2, 2, "Your card was declined.")
    failures = of(bill, Bill.HoldFailed)
    assert [(f.block, f.attempt, f.ends_session) for f in failures] == [(2, 1, False), (2, 2, True)]
    assert bill.next_hold_due(START + 20 * MINUTE) is None


def test_a_failed_first_hold_ends_the_session_at_once():
    bill = opened()
    bill.record_hold_declined(1, 1, "Your card was declined.")
    [failed] = of(bill, Bill.HoldFailed)
    assert failed.ends_session is True


def test_a_retried_hold_that_succeeds_keeps_the_session_going():
    bill = started()
    bill.request_next_hold(START + 8 * MINUTE)
    bill.record_hold_declined(2, 1, "Insufficient funds.")
    bill.request_next_hold(START + 9 * MINUTE)
    bill.record_hold_placed(2, 2, "pi_2b")
    assert bill.covered_to == 20
    assert bill.next_hold_due(START + 18 * MINUTE) == 3


def test_recording_a_hold_answer_twice_changes_nothing():
    bill = opened()
    assert bill.record_hold_placed(1, 1, "pi_1") is True
    assert bill.record_hold_placed(1, 1, "pi_1") is False
    assert bill.record_hold_declined(1, 1, "late") is False


def test_the_captures_take_exactly_the_charge_from_the_holds_in_order_and_cancel_the_rest():
    bill = started()
    run(bill, START + 24 * MINUTE)  # holds for blocks 1, 2, 3 placed
    bill.close(START + 14 * MINUTE + timedelta(seconds=5), "client_hung_up")
    assert bill.plan is not None
    assert [(s["block"], s["operation"], s["amount"]) for s in bill.plan] == [
        (1, "capture", 3000),
        (2, "capture", 1500),
        (3, "cancel", 0),
    ]
    settle(bill)
    [charged] = of(bill, Bill.Charged)
    assert charged.total_minor == bill.captured_minor == 4500


def test_a_settlement_waits_for_a_hold_still_being_asked():
    bill = started()
    run(bill, START + 7 * MINUTE)
    bill.request_next_hold(START + 8 * MINUTE)
    bill.close(START + 10 * MINUTE + timedelta(seconds=30), "client_hung_up")
    assert bill.plan is None
    bill.record_hold_placed(2, 1, "pi_2")
    assert [(s["block"], s["operation"], s["amount"]) for s in settlement_plan(bill)] == [
        (1, "capture", 3000),
        (2, "capture", 300),
    ]


def test_a_capture_already_recorded_is_not_planned_again():
    bill = session(5 * MINUTE)
    assert bill.charged and bill.next_payment() is None
    assert bill.record_capture(1) is False


def test_closing_twice_changes_nothing():
    bill = started()
    assert bill.close(START + MINUTE, "client_hung_up") is True
    assert bill.close(START + 2 * MINUTE, "client_hung_up") is False
    assert bill.used_minutes == 1


def test_a_close_carrying_the_start_records_it():
    bill = opened()
    place_pending(bill)
    bill.close(START + 3 * MINUTE, "client_hung_up", started_at=START)
    settle(bill)
    [charged] = of(bill, Bill.Charged)
    assert (charged.minutes, charged.total_minor) == (3, 900)


def test_a_second_different_start_is_refused():
    bill = started()
    assert bill.start(START, 60, 90) is False
    with pytest.raises(Conflict) as error:
        bill.start(START + MINUTE, 60, 90)
    assert error.value.code == "session_already_started"


def test_no_minute_is_billed_before_the_start():
    bill = opened()
    place_pending(bill)
    with pytest.raises(PreconditionFailed) as error:
        bill.bill_minute(1)
    assert error.value.code == "session_not_started"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"rate": Money("USD", -1)}, "invalid_rate"),
        ({"free_minutes": -1}, "invalid_free_minutes"),
        ({"session_id": " "}, "session_id_required"),
        ({"client_id": ""}, "client_id_required"),
        ({"max_minutes": 91}, "invalid_max_minutes"),
    ],
)
def test_a_bill_with_bad_terms_is_refused(kwargs, code):
    terms = {
        "session_id": "s",
        "client_id": "c",
        "expert_id": "e",
        "rate": Money("USD", 100),
        "free_minutes": 0,
        "free_session": False,
        **kwargs,
    }
    with pytest.raises(InvalidInput) as error:
        Bill.open(**terms)
    assert error.value.code == code


def test_a_bill_rebuilt_from_its_events_is_the_same():
    from eventsourcing.application import Application

    app: Application = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    bill = started()
    run(bill, START + 12 * MINUTE)
    app.save(bill)
    copy: Bill = app.repository.get(bill.id)
    assert (copy.last_billed_minute, copy.cost_minor, copy.holds) == (
        bill.last_billed_minute,
        bill.cost_minor,
        bill.holds,
    )


def test_an_end_with_started_minutes_no_hold_covers_asks_the_late_hold_and_waits():
    bill = started()
    run(bill, START + 7 * MINUTE)  # the timer stopped before block 2's hold was due
    bill.close(START + 10 * MINUTE + timedelta(seconds=30), "client_hung_up")
    assert bill.plan is None and bill.last_billed_minute == 10
    step = bill.next_payment()
    assert step is not None and step.operation == Operation.HOLD
    assert (step.idempotency_key, step.amount) == ("session-1:2:hold", Money("USD", 3000))
    bill.record_hold_placed(2, 1, "pi_2")
    assert [e.minute for e in of(bill, Bill.MinuteBilled)] == list(range(1, 12))
    assert [(s["block"], s["operation"], s["amount"]) for s in settlement_plan(bill)] == [
        (1, "capture", 3000),
        (2, "capture", 300),
    ]


def test_a_hold_refused_once_before_the_end_is_asked_again_at_the_end():
    bill = started()
    run(bill, START + 7 * MINUTE)
    bill.request_next_hold(START + 8 * MINUTE)
    bill.record_hold_declined(2, 1, "Insufficient funds.")  # a warning: one retry to come
    bill.close(START + 10 * MINUTE + timedelta(seconds=30), "client_hung_up")
    step = bill.next_payment()
    assert step is not None and step.idempotency_key == "session-1:2:hold-2"
    bill.record_hold_declined(2, 2, "Insufficient funds.")
    settle(bill)
    [charged] = of(bill, Bill.Charged)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (11, 10, 3000)


def test_started_minutes_that_are_free_need_no_late_hold():
    bill = started(rate=200, free_minutes=25)
    run(bill, START + 7 * MINUTE)
    bill.close(START + 24 * MINUTE + timedelta(seconds=30), "client_hung_up")
    events = bill.collect_events()
    assert bill.pending_hold() is None
    assert not [e for e in events if isinstance(e, Bill.HoldRequested)]
    assert [e.block for e in events if isinstance(e, Bill.HoldPlaced)] == [1]
    [charged] = [e for e in events if isinstance(e, Bill.Charged)]
    assert (charged.minutes, charged.total_minor) == (25, 0)


def test_a_late_block_of_only_free_minutes_is_authorised_without_the_card():
    bill = started(rate=200, free_minutes=20)
    run(bill, START + 7 * MINUTE)
    bill.close(START + 21 * MINUTE + timedelta(seconds=30), "client_hung_up")
    events = bill.collect_events()
    placed = [(e.block, e.amount_minor) for e in events if isinstance(e, Bill.HoldPlaced)]
    assert placed == [(1, 0), (2, 0)]
    step = bill.next_payment()
    assert step is not None and (step.block, step.amount) == (3, Money("USD", 2000))
    bill.record_hold_placed(3, 1, "pi_3")
    settle(bill)
    [charged] = of(bill, Bill.Charged)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (22, 2, 400)
    assert bill.captured_minor == 400


@pytest.mark.parametrize(
    "free_minutes, declines", [(0, ()), (3, ()), (0, (2,)), (15, (3,))], ids=str
)
def test_nothing_is_due_before_next_due_at_and_something_is_at_it(free_minutes, declines):
    """The timer looks at a bill only from `next_due_at`: before it neither a minute nor a hold
    is due; at it, one is. Followed through a whole session, with free minutes and a later
    block's first refusal (retried once)."""
    bill = started(free_minutes=free_minutes)
    refuse = list(declines)
    steps = 0
    while (due := bill.next_due_at()) is not None:
        steps += 1
        assert steps < 500
        before = due - timedelta(microseconds=1)
        assert bill.next_hold_due(before) is None
        assert bill.bill_minutes_started_by(before) == 0
        acted = bill.request_next_hold(due) is not None
        acted = bill.bill_minutes_started_by(due) > 0 or acted
        assert acted, f"nothing was due at {due}"
        hold = bill.pending_hold()
        if hold is not None and refuse and hold["block"] == refuse[0]:
            refuse.pop(0)
            bill.record_hold_declined(hold["block"], hold["attempt"], "insufficient funds")
        place_pending(bill)
    assert bill.last_billed_minute == MAX_SESSION_MINUTES
    assert bill.next_due_at() is None


def test_a_bill_not_started_ended_or_awaiting_its_hold_is_never_due():
    bill = opened()
    assert bill.next_due_at() is None  # not started
    place_pending(bill)
    bill.start(START, 60, 90)
    assert bill.next_due_at() == START  # minute 1
    bill.bill_minutes_started_by(START + 8 * MINUTE)
    assert bill.next_due_at() == START + 8 * MINUTE  # block 2's hold (minute 10 at 9)
    bill.request_next_hold(START + 8 * MINUTE)
    assert bill.next_due_at() == START + 9 * MINUTE  # minute 10: block 1 covers it
    bill.bill_minutes_started_by(START + 10 * MINUTE)
    assert bill.next_due_at() is None  # minute 11 waits for block 2's hold
    place_pending(bill)
    assert bill.next_due_at() == START + 10 * MINUTE
    bill.close(START + 10 * MINUTE + timedelta(seconds=5), "client_hung_up")
    assert bill.next_due_at() is None
