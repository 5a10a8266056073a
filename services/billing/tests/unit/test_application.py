from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast
from unittest.mock import Mock

import pytest
from nameko.testing.services import worker_factory

from contracts.events.v1 import calls_pb2
from headstore.money import Money
from headstore.settings import Settings
from services.billing.application import (
    NO_CARD_REASON,
    BillingApplication,
    BillingConfig,
    BillNotOpenYet,
)
from services.billing.domain import Bill, bill_id
from services.billing.service import BillingService, PaymentCalls

from .conftest import (
    CLIENT,
    CONFIG,
    START,
    Calls,
    Crash,
    FakeGateway,
    money,
    run_until,
    stored_events,
)

MINUTE = timedelta(minutes=1)


def rebuilt(app: BillingApplication) -> BillingApplication:
    """A new process on the same store: the application rebuilt from its events."""
    fresh = BillingApplication(Settings(persistence="memory"), config=app.config)
    fresh.recorder.insert_events(app.recorder.select_notifications(start=1, limit=10_000_000))
    return fresh


def begin(app, calls, gateway, clock, rate=300, free_minutes=0, free_session=False):
    """Accepted, block 1 held, started at START."""
    calls.accepted(rate, free_minutes, free_session)
    app.execute_payments(gateway)
    clock.advance(START - clock.now())
    calls.started(START, rate, free_minutes, free_session)


def the_charge(app: BillingApplication) -> Bill.Charged:
    [charged] = stored_events(app, Bill.Charged)
    return charged


def test_the_faq_example_end_to_end(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 29 * MINUTE + timedelta(seconds=30))
    calls.ended(clock.now())
    app.execute_payments(gateway)
    charged = the_charge(app)
    assert (charged.total_minor, charged.expert_share_minor, charged.platform_share_minor) == (
        9000,
        8100,
        900,
    )
    assert [e.minute for e in stored_events(app, Bill.MinuteBilled)] == list(range(1, 31))
    [earned] = stored_events(app, Bill.EarningsAccrued)
    assert (earned.expert_id, earned.amount_minor) == ("expert-1", 8100)
    assert app.open_bills() == 0


def test_by_default_one_authorization_and_one_capture_pay_for_a_session(
    whole_session_app, gateway, clock
):
    app, calls = whole_session_app, Calls(whole_session_app)
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 29 * MINUTE + timedelta(seconds=30))
    calls.ended(clock.now())
    app.execute_payments(gateway)
    assert the_charge(app).total_minor == 9000
    [intent] = gateway.intents.values()
    assert (intent["amount"], intent["captured"], intent["status"]) == (90 * 300, 9000, "succeeded")
    assert [operation for operation, _ in gateway.calls] == ["hold", "capture"]


def test_a_session_limited_by_a_spending_cap_is_authorized_for_what_the_cap_buys(
    whole_session_app, gateway, clock
):
    app, calls = whole_session_app, Calls(whole_session_app)
    calls.accepted(rate=250, free_minutes=2, max_minutes=2 + 12)
    app.execute_payments(gateway)
    [intent] = gateway.intents.values()
    assert intent["amount"] == 12 * 250


def test_the_captures_equal_the_charge_and_no_hold_stays_open(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 24 * MINUTE)
    calls.ended(START + 14 * MINUTE + timedelta(seconds=1))
    app.execute_payments(gateway)
    assert gateway.open_intents() == []
    captured = sum(i["captured"] for i in gateway.intents.values())
    assert captured == the_charge(app).total_minor == 15 * 300
    assert [i["status"] for i in gateway.intents.values()] == ["succeeded", "succeeded", "canceled"]
    assert [i["captured"] for i in gateway.intents.values()] == [3000, 1500, 0]


def test_three_free_minutes_at_2_usd_for_10_minutes_charge_14_usd(app, calls, gateway, clock):
    begin(app, calls, gateway, clock, rate=200, free_minutes=3)
    run_until(app, gateway, clock, START + 10 * MINUTE)
    calls.ended(clock.now())
    app.execute_payments(gateway)
    assert the_charge(app).total_minor == 1400
    assert gateway.intents["pi_1"]["captured"] == 1400
    assert gateway.open_intents() == []


def test_a_free_session_charges_nothing_and_makes_no_card_call(app, calls, gateway, clock):
    begin(app, calls, gateway, clock, free_session=True)
    run_until(app, gateway, clock, START + 45 * MINUTE)
    calls.ended(clock.now())
    app.execute_payments(gateway)
    assert gateway.calls == []
    charged = the_charge(app)
    assert (charged.minutes, charged.total_minor) == (45, 0)
    assert stored_events(app, Bill.MinuteBilled) == []
    [authorized] = stored_events(app, Bill.HoldPlaced)
    assert authorized.amount_minor == 0


def test_no_91st_minute_even_if_the_end_says_95(app, calls, gateway, clock):
    begin(app, calls, gateway, clock, rate=100)
    run_until(app, gateway, clock, START + 95 * MINUTE, step=timedelta(seconds=30))
    calls.ended(clock.now(), reason="time_limit")
    app.execute_payments(gateway)
    minutes = [e.minute for e in stored_events(app, Bill.MinuteBilled)]
    assert minutes == list(range(1, 91))
    charged = the_charge(app)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (90, 90, 9000)
    assert gateway.open_intents() == []


def test_holds_are_taken_per_block_at_the_lead_time(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    assert [key for op, key in gateway.calls] == ["session-1:1:hold"]
    app.tick(START + 8 * MINUTE - timedelta(seconds=1))
    assert app.pending_holds() == []
    [hold] = app.tick(START + 8 * MINUTE)
    assert (hold.block, hold.amount, hold.covers_minutes_to) == (2, Money("USD", 3000), 20)
    assert hold.idempotency_key == "session-1:2:hold"
    report = app.execute_payments(gateway)
    assert report.holds_placed == 1 and app.pending_holds() == []
    placed = stored_events(app, Bill.HoldPlaced)
    assert [(e.block, e.amount_minor, e.covers_minutes_to) for e in placed] == [
        (1, 3000, 10),
        (2, 3000, 20),
    ]


def test_a_failed_later_hold_warns_then_ends_the_session(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    gateway.declines = ["Your card was declined.", "Your card was declined."]
    run_until(app, gateway, clock, START + 8 * MINUTE + timedelta(seconds=30))
    [warning] = stored_events(app, Bill.HoldFailed)
    assert (warning.block, warning.ends_session) == (2, False)
    run_until(app, gateway, clock, START + 12 * MINUTE)
    failures = stored_events(app, Bill.HoldFailed)
    assert [(f.block, f.ends_session) for f in failures] == [(2, False), (2, True)]
    assert ("hold", "session-1:2:hold-2") in gateway.calls
    # calls ends the session; minutes no hold covers are not charged
    calls.ended(START + 11 * MINUTE + timedelta(seconds=30), reason="payment_failed")
    app.execute_payments(gateway)
    assert the_charge(app).total_minor == 3000
    assert gateway.open_intents() == []


def test_a_declined_first_hold_ends_the_session(app, calls, gateway, clock):
    gateway.declines = ["Your card was declined."]
    calls.accepted()
    app.execute_payments(gateway)
    [failed] = stored_events(app, Bill.HoldFailed)
    assert (failed.block, failed.ends_session, failed.reason) == (
        1,
        True,
        "Your card was declined.",
    )
    calls.ended(clock.now(), started_at=None, reason="payment_failed")
    app.execute_payments(gateway)
    assert the_charge(app).total_minor == 0 and app.open_bills() == 0


def test_a_client_without_a_card_is_declined_without_a_call(app, gateway, clock):
    Calls(app, "session-2").deliver(
        calls_pb2.SessionAccepted(
            session_id="session-2",
            client_id="client-without-card",
            expert_id="expert-1",
            rate_per_minute=money(300),
        )
    )
    app.execute_payments(gateway)
    [failed] = stored_events(app, Bill.HoldFailed)
    assert failed.reason == NO_CARD_REASON and gateway.calls == []


def test_each_minute_once_when_the_timer_runs_repeatedly(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    for _ in range(5):
        app.tick(START + 3 * MINUTE)
    app.tick(START + 2 * MINUTE)  # a late tick from an earlier timer run
    assert [e.minute for e in stored_events(app, Bill.MinuteBilled)] == [1, 2, 3, 4]


def test_each_minute_once_when_the_timer_runs_during_the_end(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 5 * MINUTE + timedelta(seconds=30))
    stop = threading.Event()
    errors: list[BaseException] = []

    def timer() -> None:
        try:
            tick = 0
            while not stop.is_set() or tick < 50:
                app.tick(START + 5 * MINUTE + timedelta(seconds=30 + tick % 60))
                tick += 1
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=timer) for _ in range(3)]
    for thread in threads:
        thread.start()
    calls.ended(START + 6 * MINUTE + timedelta(seconds=10))
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    app.execute_payments(gateway)
    minutes = [e.minute for e in stored_events(app, Bill.MinuteBilled)]
    assert minutes == list(range(1, 8))
    charged = the_charge(app)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (7, 7, 2100)


def test_a_crash_between_two_captures_resumes_without_capturing_twice(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 25 * MINUTE)
    calls.ended(clock.now())
    gateway.crash_after = "session-1:2:capture"  # Stripe captured block 2; billing never heard
    with pytest.raises(Crash):
        app.execute_payments(gateway)
    assert [e.block for e in stored_events(app, Bill.CaptureRecorded)] == [1]

    gateway.crash_after = None
    restarted = rebuilt(app)
    assert restarted.open_bills() == 1
    report = restarted.execute_payments(gateway)
    assert (report.captures, report.cancels, report.errors) == (2, 0, 0)
    captures = [key for op, key in gateway.calls if op == "capture"]
    assert captures == [
        "session-1:1:capture",
        "session-1:2:capture",
        "session-1:2:capture",  # the same key again: Stripe replays, nothing is captured twice
        "session-1:3:capture",
    ]
    assert [i["captured"] for i in gateway.intents.values()] == [3000, 3000, 1500]
    assert the_charge(restarted).total_minor == 7500
    assert gateway.open_intents() == [] and restarted.open_bills() == 0
    assert restarted.execute_payments(gateway).captures == 0


def test_a_crash_after_a_hold_was_placed_takes_no_second_hold(app, calls, gateway, clock):
    calls.accepted()
    restarted = rebuilt(app)
    app.execute_payments(gateway)  # the first process placed the hold, then died unrecorded
    restarted.execute_payments(gateway)
    assert len(gateway.intents) == 1
    [placed] = stored_events(restarted, Bill.HoldPlaced)
    assert placed.payment_intent_id == "pi_1"


def fall_behind(app, calls, gateway, clock, ended_at):
    """The timer ran until 10 s before block 2's hold was due (minute 8), then billing was
    down until the session ended at `ended_at`."""
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 8 * MINUTE - timedelta(seconds=10))
    assert stored_events(app, Bill.HoldRequested)[-1].block == 1
    clock.advance(ended_at - clock.now())
    calls.ended(ended_at)


def test_a_session_that_ends_before_its_next_hold_is_requested_bills_every_started_minute(
    app, calls, gateway, clock
):
    fall_behind(app, calls, gateway, clock, START + 23 * MINUTE + timedelta(seconds=30))
    assert stored_events(app, Bill.SettlementPlanned) == []  # waiting for the late holds
    [late] = app.pending_holds()
    assert (late.block, late.idempotency_key) == (2, "session-1:2:hold")
    report = app.execute_payments(gateway)
    assert (report.holds_placed, report.holds_declined, report.errors) == (2, 0, 0)
    holds = [key for op, key in gateway.calls if op == "hold"]
    assert holds == ["session-1:1:hold", "session-1:2:hold", "session-1:3:hold"]
    assert [e.minute for e in stored_events(app, Bill.MinuteBilled)] == list(range(1, 25))
    charged = the_charge(app)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (24, 24, 7200)
    assert [i["captured"] for i in gateway.intents.values()] == [3000, 3000, 1200]
    assert gateway.open_intents() == [] and app.open_bills() == 0


def test_a_late_hold_declined_at_the_end_charges_only_the_covered_minutes(
    app, calls, gateway, clock
):
    fall_behind(app, calls, gateway, clock, START + 12 * MINUTE + timedelta(seconds=30))
    gateway.declines = ["Your card was declined."]
    report = app.execute_payments(gateway)
    assert (report.holds_placed, report.holds_declined, report.captures) == (0, 1, 1)
    [failed] = stored_events(app, Bill.HoldFailed)
    assert (failed.block, failed.attempt, failed.ends_session) == (2, 1, True)
    assert [e.minute for e in stored_events(app, Bill.MinuteBilled)] == list(range(1, 11))
    charged = the_charge(app)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (13, 10, 3000)
    assert [i["captured"] for i in gateway.intents.values()] == [3000]
    assert gateway.open_intents() == [] and app.open_bills() == 0
    assert app.execute_payments(gateway) == type(report)()  # nothing left to do


def test_a_crash_between_the_end_and_the_late_holds_placement_bills_each_minute_once(
    app, calls, gateway, clock
):
    fall_behind(app, calls, gateway, clock, START + 10 * MINUTE + timedelta(seconds=30))
    gateway.crash_after = "session-1:2:hold"  # Stripe placed block 2's hold; billing never heard
    with pytest.raises(Crash):
        app.execute_payments(gateway)
    assert stored_events(app, Bill.HoldPlaced)[-1].block == 1

    gateway.crash_after = None
    restarted = rebuilt(app)
    assert restarted.open_bills() == 1
    restarted.tick()
    report = restarted.execute_payments(gateway)
    assert (report.holds_placed, report.captures, report.errors) == (1, 2, 0)
    holds = [key for op, key in gateway.calls if op == "hold"]
    assert holds == ["session-1:1:hold", "session-1:2:hold", "session-1:2:hold"]  # a replay
    assert len(gateway.intents) == 2
    assert [e.minute for e in stored_events(restarted, Bill.MinuteBilled)] == list(range(1, 12))
    assert the_charge(restarted).total_minor == 3300
    assert [i["captured"] for i in gateway.intents.values()] == [3000, 300]
    assert gateway.open_intents() == [] and restarted.open_bills() == 0
    assert restarted.execute_payments(gateway).holds_placed == 0


def test_a_payment_call_that_fails_is_retried_on_the_next_run(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 5 * MINUTE)
    calls.ended(clock.now())

    class Down(FakeGateway):
        def capture(self, *args, **kwargs):
            raise ConnectionError("Stripe is unreachable")

    assert app.execute_payments(Down()).errors == 1
    assert app.open_bills() == 1
    assert app.execute_payments(gateway).captures == 1
    assert app.open_bills() == 0


def test_the_open_bills_are_rebuilt_from_the_store(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    Calls(app, "session-2").accepted()
    restarted = rebuilt(app)
    assert restarted.open_bills() == 2
    restarted.tick(START + 2 * MINUTE)
    assert [e.minute for e in stored_events(restarted, Bill.MinuteBilled)] == [1, 2, 3]


def test_a_redelivered_event_changes_nothing(app, calls, gateway, clock):
    calls.accepted()
    message = calls_pb2.SessionAccepted(session_id="session-1", client_id=CLIENT, expert_id="e")
    assert calls.deliver(message, position=calls.position) == "duplicate"
    assert len(stored_events(app, Bill.Opened)) == 1


def test_an_end_that_races_another_writer_is_applied_again(app, calls, gateway, clock, monkeypatch):
    begin(app, calls, gateway, clock)
    attempts = []
    close_bill = app.close_bill

    def racing(processing, close):
        closed = close_bill(processing, close)  # read the bill, closed it, not yet stored
        attempts.append(close)
        if len(attempts) == 1:  # meanwhile another process bills minutes 2 and 3
            other = app.repository.get(bill_id("session-1"))
            other.bill_minutes_started_by(START + 2 * MINUTE)
            app.save(other)
        return closed

    monkeypatch.setattr(app, "close_bill", racing)

    message = calls_pb2.SessionEnded(session_id="session-1", client_id=CLIENT, expert_id="e")
    message.started_at.FromDatetime(START)
    message.ended_at.FromDatetime(START + 2 * MINUTE + timedelta(seconds=30))
    assert calls.deliver(message) == "processed"
    assert len(attempts) == 2
    app.execute_payments(gateway)
    assert [e.minute for e in stored_events(app, Bill.MinuteBilled)] == [1, 2, 3]
    assert the_charge(app).total_minor == 900


def test_a_start_before_the_acceptance_opens_the_bill(app, calls, gateway, clock):
    clock.advance(START - clock.now())
    calls.started(START)
    calls.accepted()
    assert len(stored_events(app, Bill.Opened)) == 1
    app.execute_payments(gateway)
    app.tick(START + MINUTE)
    assert [e.minute for e in stored_events(app, Bill.MinuteBilled)] == [1, 2]


def test_an_end_before_the_acceptance_voids_the_bill_and_takes_no_hold(app, calls, gateway, clock):
    calls.ended(clock.now(), started_at=None, reason="cancelled")
    calls.accepted()
    app.execute_payments(gateway)
    assert gateway.calls == [] and app.open_bills() == 0
    assert len(stored_events(app, Bill.Voided)) == 1


def test_an_end_of_a_started_session_before_its_bill_is_retried_later(app, calls, clock):
    with pytest.raises(BillNotOpenYet):
        calls.ended(START + MINUTE)
    assert stored_events(app, Bill) == []


def test_a_card_is_saved_replaced_and_refused_by_region(app):
    card = app.save_card(CLIENT, "cus_1", "pm_2", "mastercard", "4444", "GB", 8, 2030)
    assert (card.payment_method_id, card.country) == ("pm_2", "GB")
    with pytest.raises(Exception) as error:
        app.save_card("client-9", "cus_9", "pm_9", "jcb", "0000", "FR", 8, 2030)
    assert getattr(error.value, "code", "") == "card_brand_not_accepted"
    assert app.card("client-9") is None


def test_config_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MINUTE_SECONDS", "2")
    monkeypatch.setenv("HOLD_BLOCK_MINUTES", "5")
    monkeypatch.setenv("HOLD_LEAD_MINUTES", "1")
    monkeypatch.setenv("MAX_SESSION_MINUTES", "90")
    monkeypatch.setenv("COMMISSION_PERCENT", "10")
    config = BillingConfig.from_env()
    assert (config.minute_seconds, config.hold_block_minutes, config.hold_lead_minutes) == (
        2,
        5,
        1,
    )
    monkeypatch.setenv("MAX_SESSION_MINUTES", "91")
    with pytest.raises(ValueError):
        BillingConfig.from_env()


def test_a_tick_over_20000_open_bills_completes(clock):
    app = BillingApplication(Settings(persistence="memory"), config=CONFIG)
    bills = []
    for i in range(20_000):
        bill = Bill.open(
            session_id=f"session-{i}",
            client_id=f"client-{i}",
            expert_id="expert-1",
            rate=Money("USD", 300),
            free_minutes=0,
            free_session=False,
            block_minutes=1,
            lead_minutes=1,  # block 2's hold is due at the start
        )
        bill.record_hold_placed(1, 1, f"pi_{i}")
        bill.start(START, 60, 90)
        bills.append(bill)
    for start in range(0, len(bills), 1000):
        app.save(*bills[start : start + 1000])
    assert app.open_bills() == 20_000  # found in the notification log

    holds = app.tick(START + timedelta(seconds=30))
    assert len(holds) == 20_000 and {hold.block for hold in holds} == {2}
    assert app.tick(START + timedelta(seconds=31)) == holds  # nothing new is due
    for i in (0, 9_999, 19_999):
        bill = app.bill(f"session-{i}")
        pending_hold = bill.pending_hold()
        assert pending_hold is not None
        assert (bill.last_billed_minute, pending_hold["block"]) == (1, 2)
    app.close()


def metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_minutes_revenue_and_lateness_are_measured(app, calls, gateway, clock):
    minutes_before = metric("billing_minutes_billed_total", currency="USD")
    revenue_before = metric("billing_revenue_minor_total", currency="USD")
    late_before = metric("billing_minute_lateness_seconds_count")
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 4 * MINUTE + timedelta(seconds=30))
    calls.ended(clock.now())
    app.execute_payments(gateway)
    assert metric("billing_minutes_billed_total", currency="USD") - minutes_before == 5
    assert metric("billing_revenue_minor_total", currency="USD") - revenue_before == 1500
    assert metric("billing_minute_lateness_seconds_count") - late_before == 5


def test_a_minute_billed_after_the_end_is_reversed_and_not_charged(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    # The timer bills minute 5 at 4:10; the session had ended at 3:50, which billing hears next.
    run_until(app, gateway, clock, START + 4 * MINUTE + timedelta(seconds=10))
    assert [e.minute for e in stored_events(app, Bill.MinuteBilled)] == [1, 2, 3, 4, 5]
    calls.ended(START + 3 * MINUTE + timedelta(seconds=50))
    app.execute_payments(gateway)
    [reversed_minute] = stored_events(app, Bill.MinuteBillingReversed)
    assert (reversed_minute.minute, reversed_minute.amount_minor) == (5, 300)
    assert reversed_minute.cost_so_far_minor == 1200
    charged = the_charge(app)
    assert (charged.minutes, charged.billed_minutes, charged.total_minor) == (4, 4, 1200)
    billed = sum(e.amount_minor for e in stored_events(app, Bill.MinuteBilled))
    taken_back = sum(e.amount_minor for e in stored_events(app, Bill.MinuteBillingReversed))
    assert billed - taken_back == charged.total_minor
    assert app.bill("session-1").billed_minutes == 4


def test_no_minute_is_reversed_when_billing_heard_of_the_end_in_time(app, calls, gateway, clock):
    begin(app, calls, gateway, clock)
    run_until(app, gateway, clock, START + 3 * MINUTE + timedelta(seconds=50))
    calls.ended(clock.now())
    app.execute_payments(gateway)
    assert stored_events(app, Bill.MinuteBillingReversed) == []
    assert the_charge(app).total_minor == 1200


def test_a_tick_looks_only_at_the_bills_due(clock, monkeypatch):
    """A tick over many open bills with none due makes no step; with some due, one step each
    (the timer's work follows what is due, not how many bills are open)."""
    app = BillingApplication(Settings(persistence="memory"), config=CONFIG)
    bills = []
    for i in range(2_000):
        bill = Bill.open(
            session_id=f"session-{i}",
            client_id=f"client-{i}",
            expert_id="expert-1",
            rate=Money("USD", 300),
            free_minutes=0,
            free_session=False,
        )
        bill.record_hold_placed(1, 1, f"pi_{i}")
        # Staggered as on a running platform: session i started i × 30 ms before START.
        bill.start(START - timedelta(milliseconds=30 * i), 60, 90)
        bill.bill_minutes_started_by(START)
        bills.append(bill)
    app.save(*bills)
    assert app.open_bills() == 2_000
    app.tick(START)
    stepped: list[str] = []
    advance = BillingApplication._advance

    def counted(bill: Bill, now: Any) -> bool:
        stepped.append(bill.session_id)
        return advance(bill, now)

    monkeypatch.setattr(BillingApplication, "_advance", staticmethod(counted))
    app.tick(START + timedelta(milliseconds=20))
    assert stepped == []  # 2,000 open, none due
    # Minute 2 of sessions 1,984 … 1,999 (started 59.52 … 59.97 s before) is due by +0.5 s.
    app.tick(START + timedelta(milliseconds=500))
    assert sorted(stepped) == sorted(f"session-{i}" for i in range(1984, 2000))
    assert all(app.bill(f"session-{i}").last_billed_minute == 2 for i in range(1984, 2000))
    assert app.bill("session-1983").last_billed_minute == 1
    stepped.clear()
    app.tick(START + timedelta(milliseconds=500))
    assert stepped == []  # billed: due again a minute later
    app.close()


class SlowGateway(FakeGateway):
    """Stripe at a distance: each call waits (for `release`, or `seconds`), and a session's
    calls are checked never to overlap."""

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__()
        self.seconds = seconds
        self.release = threading.Event()
        if seconds:
            self.release.set()
        self.busy: set[str] = set()
        self.overlaps: list[str] = []
        self.guard = threading.Lock()

    def _wait(self, key: str) -> None:
        session = key.split(":")[0]
        with self.guard:
            if session in self.busy:
                self.overlaps.append(key)
            self.busy.add(session)
        self.release.wait(5)
        time.sleep(self.seconds)
        with self.guard:
            self.busy.discard(session)

    def hold(self, idempotency_key: str, *args: Any) -> Any:
        self._wait(idempotency_key)
        with self.guard:
            return super().hold(idempotency_key, *args)

    def capture(self, idempotency_key: str, payment_intent_id: str, amount: int) -> None:
        self._wait(idempotency_key)
        with self.guard:
            super().capture(idempotency_key, payment_intent_id, amount)

    def cancel(self, idempotency_key: str, payment_intent_id: str) -> None:
        self._wait(idempotency_key)
        with self.guard:
            super().cancel(idempotency_key, payment_intent_id)


def settle(app: BillingApplication, pool: ThreadPoolExecutor, gateway: FakeGateway) -> None:
    """The timer, every 5 ms, until nothing is in flight or left to hand over."""
    deadline = time.monotonic() + 10
    while app.dispatch_payments(gateway, pool) or app.payments_in_flight():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_the_timer_hands_payment_calls_over_and_never_waits_for_them(app, calls, clock):
    gateway = SlowGateway()  # holds every call until released
    pool = ThreadPoolExecutor(4)
    calls.accepted()
    began = time.monotonic()
    assert app.dispatch_payments(gateway, pool) == 1
    assert app.bill_due(START) == 0  # the timer goes on while the hold is under way
    assert app.dispatch_payments(gateway, pool) == 0  # in flight: not handed over twice
    assert time.monotonic() - began < 1.0
    assert app.payments_in_flight() == 1 and app.bill("session-1").pending_hold() is not None
    gateway.release.set()
    settle(app, pool, gateway)
    assert [op for op, _ in gateway.calls] == ["hold"]
    assert app.bill("session-1").covered_to == 10
    pool.shutdown()


def test_each_bills_calls_are_made_one_at_a_time_in_order(app, clock):
    gateway = SlowGateway(seconds=0.002)
    pool = ThreadPoolExecutor(8)
    sessions = [Calls(app, f"session-{n}") for n in range(6)]
    for session in sessions:
        session.accepted()
    settle(app, pool, gateway)
    clock.advance(START - clock.now())
    for session in sessions:
        session.started(START)
    while clock.now() < START + 25 * MINUTE:  # three holds each
        clock.advance(timedelta(seconds=30))
        app.bill_due()
        settle(app, pool, gateway)
    for session in sessions:
        session.ended(clock.now())
    settle(app, pool, gateway)
    assert gateway.overlaps == []
    for n in range(6):
        made = [key for _, key in gateway.calls if key.startswith(f"session-{n}:")]
        assert made == [
            f"session-{n}:1:hold",
            f"session-{n}:2:hold",
            f"session-{n}:3:hold",
            f"session-{n}:1:capture",
            f"session-{n}:2:capture",
            f"session-{n}:3:capture",
        ]
    assert len(stored_events(app, Bill.Charged)) == 6 and not gateway.open_intents()
    pool.shutdown()


def test_the_service_timer_bills_and_hands_the_calls_to_the_stripe_pool(app, calls, clock):
    gateway = SlowGateway()
    pool = ThreadPoolExecutor(2)
    lease = Mock()
    lease.held.return_value = True
    service = worker_factory(
        BillingService,
        store=app,
        timer_lease=lease,
        payments=PaymentCalls(cast(Any, gateway), cast(Any, pool)),
    )
    calls.accepted()
    began = time.monotonic()
    assert service.tick() == 1  # block 1's hold handed over, not waited for
    assert service.tick() == 0
    assert time.monotonic() - began < 1.0 and gateway.calls == []
    gateway.release.set()
    settle(app, pool, gateway)
    assert app.bill("session-1").covered_to == 10
    pool.shutdown()


def test_payment_results_that_arrive_together_are_saved_together(app, clock, monkeypatch):
    gateway = SlowGateway()
    pool = ThreadPoolExecutor(20)
    sessions = [Calls(app, f"session-{n}") for n in range(20)]
    for session in sessions:
        session.accepted()
    saves: list[int] = []
    save = app.save

    def counted(*aggregates: Any, **options: Any) -> Any:
        saves.append(len(aggregates))
        return save(*aggregates, **options)

    monkeypatch.setattr(app, "save", counted)
    assert app.dispatch_payments(gateway, pool) == 20
    with app.lock:  # the timer is busy while all 20 holds come back
        gateway.release.set()
        deadline = time.monotonic() + 5
        while len(app._results) < 20:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    settle(app, pool, gateway)
    assert saves == [20]  # one transaction for the 20 results
    assert all(app.bill(f"session-{n}").covered_to == 10 for n in range(20))
    pool.shutdown()
