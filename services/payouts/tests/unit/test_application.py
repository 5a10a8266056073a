from __future__ import annotations

from datetime import timedelta

import pytest

from headstore.errors import InvalidInput, PreconditionFailed
from services.payouts.application import ConnectedAccountState, TakenBack
from services.payouts.domain import CARRIED, Payee, PayoutAccount, PayoutRun, run_id, transfer_key

from .conftest import ANCHOR, WEEK, Crash, activate

RUN_OF_WEEK_0 = ANCHOR + WEEK + timedelta(minutes=1)


def stored(app, kind):
    events = [app.mapper.to_domain_event(n) for n in app.notifications_after(0)]
    return [event for event in events if isinstance(event, kind)]


def test_payout_is_refused_outside_the_faqs_countries_and_nothing_is_stored(app, connect):
    with pytest.raises(InvalidInput) as refused:
        app.activate_payout(
            connect, account_id="e1", email="e1@x.io", country="IN", return_url="r", refresh_url="f"
        )
    assert refused.value.code == "unsupported_payout_country"
    assert connect.accounts == {} and app.head() == 0


def test_activation_opens_one_connected_account_and_links_to_onboarding(app, connect):
    first, link = app.activate_payout(
        connect, account_id="e1", email="e1@x.io", country="de", return_url="r", refresh_url="f"
    )
    again, second_link = app.activate_payout(
        connect, account_id="e1", email="e1@x.io", country="DE", return_url="r", refresh_url="f"
    )
    assert first.stripe_account_id == again.stripe_account_id and len(connect.accounts) == 1
    assert first.status == "pending" and first.country == "DE"
    assert link.startswith("https://") and second_link


def test_the_account_updated_webhook_activates_the_account(app, connect):
    account = activate(app, connect, "e1")
    assert account.active
    assert len(stored(app, PayoutAccount.Activated)) == 1
    app.account_updated(connect.account_state(account.stripe_account_id))  # repeated webhook
    assert len(stored(app, PayoutAccount.Activated)) == 1


def test_an_update_for_an_unknown_account_changes_nothing(app):
    position = app.head()
    assert app.account_updated(ConnectedAccountState("acct_x", "nobody", True)) is None
    assert app.head() == position


def test_the_weekly_run_sends_one_transfer_per_expert_and_currency(app, connect, upstream, clock):
    one, two = activate(app, connect, "e1"), activate(app, connect, "e2", "FR")
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 1260, 140)
    upstream.earnings("s3", "e1", 450, 50, "EUR")
    upstream.earnings("s4", "e2", 900, 100, "EUR")
    clock.advance(ANCHOR + WEEK - timedelta(seconds=1) - clock.now())
    assert app.run_due(clock.now(), connect).week is None or connect.transfers == {}
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    upstream.earnings("s5", "e1", 5000, 556)  # earned in week 1: next run
    report = app.run_due(clock.now(), connect)
    assert (report.week, report.sent, report.failed, report.statements) == (0, 3, 0, 2)
    assert connect.sent_to(one.stripe_account_id) == [(450, "eur"), (9360, "usd")]
    assert connect.sent_to(two.stripe_account_id) == [(900, "eur")]
    assert {t["transfer_group"] for t in connect.transfers.values()} == {"payouts-week-0"}
    assert app.payee("e1").balance("USD") == 5000


def test_a_second_run_in_the_same_week_sends_nothing(app, connect, upstream, clock):
    activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 8100, 900)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    app.run_due(clock.now(), connect)
    calls = list(connect.calls)
    clock.advance(timedelta(days=3))
    report = app.run_due(clock.now(), connect)
    assert report.sent == 0 and connect.calls == calls and len(connect.transfers) == 1
    assert len(stored(app, PayoutRun.Started)) == 1


def test_a_session_that_earned_nothing_credits_nothing(app, upstream):
    assert upstream.earnings("s1", "e1", 0, 0) == "processed"
    assert app.payee("e1") is None
    assert upstream.earnings("s2", "e1", 100, 11) == "processed"
    assert list(app.payee("e1").recent) == ["earnings:s2"]


def test_a_balance_waits_for_activation(app, connect, upstream, clock):
    upstream.earnings("s1", "e1", 8100, 900)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    app.run_due(clock.now(), connect)
    assert connect.transfers == {}
    account = activate(app, connect, "e1")
    clock.advance(WEEK)
    app.run_due(clock.now(), connect)
    assert connect.sent_to(account.stripe_account_id) == [(8100, "usd")]


def test_a_refused_transfer_is_recorded_and_paid_by_the_next_run(app, connect, upstream, clock):
    account = activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 8100, 900)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    connect.refuse = ["Insufficient funds in Stripe account."]
    report = app.run_due(clock.now(), connect)
    assert (report.sent, report.failed) == (0, 1)
    failed = stored(app, Payee.TransferFailed)
    assert failed[0].reason == "Insufficient funds in Stripe account."
    upstream.earnings("s2", "e1", 900, 100)
    clock.advance(WEEK)
    app.run_due(clock.now(), connect)
    assert connect.sent_to(account.stripe_account_id) == [(9000, "usd")]
    assert app.payee("e1").balance("USD") == 0


def test_a_run_killed_half_way_resumes_and_sends_each_transfer_once(app, connect, upstream, clock):
    for expert in ("e1", "e2", "e3"):
        activate(app, connect, expert)
        upstream.earnings(f"s-{expert}", expert, 1000, 111)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    connect.crash_after = transfer_key("e2", 0, "USD")
    with pytest.raises(Crash):
        app.run_due(clock.now(), connect)
    connect.crash_after = None
    app.run_due(clock.now(), connect)
    assert len(connect.transfers) == 3
    # The resumed run asked Stripe for e2's transfer and recorded it instead of sending again.
    assert connect.calls.count(transfer_key("e2", 0, "USD")) == 1
    assert any(lookup.endswith(":payouts-week-0:usd") for lookup in connect.lookups)
    assert len(stored(app, Payee.TransferSent)) == 3
    assert all(app.payee(e).balance("USD") == 0 for e in ("e1", "e2", "e3"))


def test_an_unfinished_run_is_finished_before_the_next_week_is_planned(
    app, connect, upstream, clock
):
    activate(app, connect, "e1")
    activate(app, connect, "e2")
    upstream.earnings("s1", "e1", 1000, 111)
    upstream.earnings("s2", "e2", 2000, 222)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    connect.crash_after = transfer_key("e1", 0, "USD")
    with pytest.raises(Crash):
        app.run_due(clock.now(), connect)
    connect.crash_after = None
    clock.advance(WEEK)  # the service was down past the next week's end
    app.run_due(clock.now(), connect)
    assert sorted(t["amount"] for t in connect.transfers.values()) == [1000, 2000]
    assert [e.week for e in stored(app, PayoutRun.Finished)] == [0, 1]


def test_a_redelivered_earnings_event_credits_nothing_more(app, upstream):
    upstream.earnings("s1", "e1", 8100, 900)
    position = app.head()
    # the same session again under a new position (a replay upstream): still credited once
    upstream.earnings("s1", "e1", 8100, 900)
    assert app.payee("e1").balance("USD") == 8100 and app.head() == position


def test_the_ambassador_earns_the_share_of_the_commission(app, connect, upstream, clock):
    upstream.referred("e1", "amb", share_basis_points=1000)
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 135, 15)
    assert app.payee("amb").balance("USD") == 90 + 2  # 10% of 9.00, and of 0.15 rounded up


def test_sessions_credited_before_the_referral_arrived_are_shared(app, upstream):
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.referred("e1", "amb")
    upstream.referred("e1", "amb")  # a repeat changes nothing
    assert app.payee("amb").balance("USD") == 90


def test_the_ambassador_is_paid_in_the_same_run(app, connect, upstream, clock):
    expert, ambassador = activate(app, connect, "e1"), activate(app, connect, "amb")
    upstream.referred("e1", "amb")
    upstream.earnings("s1", "e1", 8100, 900)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    app.run_due(clock.now(), connect)
    assert connect.sent_to(expert.stripe_account_id) == [(8100, "usd")]
    assert connect.sent_to(ambassador.stripe_account_id) == [(90, "usd")]


def test_each_payee_gets_one_statement_per_run(app, connect, upstream, clock):
    activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 900, 100, "EUR")
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    app.run_due(clock.now(), connect)
    (statement,) = stored(app, Payee.StatementIssued)
    assert statement.week == 0
    assert [(line["currency"], line["amount"], line["status"]) for line in statement.lines] == [
        ("EUR", 900, "sent"),
        ("USD", 8100, "sent"),
    ]


def test_statistics_need_an_active_payout(app, connect, upstream):
    with pytest.raises(PreconditionFailed) as refused:
        app.statistics("e1")
    assert refused.value.code == "payout_not_activated"


def test_statistics_show_earnings_by_week_sessions_minutes_and_rating(
    app, connect, upstream, clock
):
    activate(app, connect, "e1")
    upstream.charged("s1", "e1", minutes=30, total=9000)
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.rating("s1", "e1", 5)
    clock.advance(WEEK)
    upstream.charged("s2", "e1", minutes=10, total=1400)
    upstream.earnings("s2", "e1", 1260, 140)
    upstream.rating("s2", "e1", 4)
    stats = app.statistics("e1")
    assert [(w["week"], w["earnings"], w["sessions"], w["minutes"]) for w in stats["weeks"]] == [
        (0, 8100, 1, 30),
        (1, 1260, 1, 10),
    ]
    assert (stats["sessions"], stats["minutes"], stats["average_rating_hundredths"]) == (
        2,
        40,
        450,
    )
    assert stats["balances"] == [{"currency": "USD", "earned": 9360, "paid": 0, "balance": 9360}]


def test_a_long_record_is_snapshotted_and_loads_the_same(app, connect, upstream, clock):
    """A payee's record grows with every session; a snapshot (JSON, like the events) must
    load with the same balances, weeks above 9 included."""
    account = activate(app, connect, "e1")
    for n in range(120):
        if n % 10 == 0 and n:
            clock.advance(WEEK)
            app.run_due(clock.now(), connect)
        upstream.earnings(f"s{n}", "e1", 100 + n, 10)
    payee_key = app.payee("e1").id
    assert app.snapshots is not None and list(app.snapshots.get(payee_key))
    loaded = app.payee("e1")
    week = (clock.now() - ANCHOR) // WEEK
    assert loaded.credited_through("USD", week) == sum(100 + n for n in range(120))
    assert loaded.due("USD", week) == sum(100 + n for n in range(110, 120))
    assert loaded.due("USD", week - 1) == 0
    paid = sum(t["amount"] for t in connect.transfers.values())
    assert paid == sum(100 + n for n in range(110))
    assert loaded.balance("USD") == sum(100 + n for n in range(110, 120))
    assert len(connect.sent_to(account.stripe_account_id)) == 11  # one per week run


def statement_lines(app, account_id, week):
    [statement] = [
        event for event in stored(app, Payee.StatementIssued)
        if event.originator_id == app.payee(account_id).id and event.week == week
    ]  # fmt: skip
    return statement.lines


def test_what_the_platforms_balance_cannot_cover_is_carried_to_the_next_run(
    app, connect, upstream, clock
):
    for expert in ("e1", "e2"):
        activate(app, connect, expert)
        upstream.earnings(f"s-{expert}", expert, 1000, 111)
    connect.available = {"USD": 1500}
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    report = app.run_due(clock.now(), connect)
    assert (report.sent, report.carried, report.failed) == (1, 1, 0)
    assert app.find(PayoutRun, run_id(0)).finished  # carried: done for this run, no retry loop
    [carried] = [e for e in ("e1", "e2") if app.payee(e).outcome(0, "USD")["status"] == CARRIED]
    [line] = statement_lines(app, carried, 0)
    assert line["status"] == CARRIED and "available USD balance (500 " in line["reason"]
    assert len(connect.calls) == 1  # the carried one was never sent
    app.run_due(clock.now(), connect)
    assert len(connect.calls) == 1  # nor tried again in the same week
    connect.available = {"USD": 10_000}
    upstream.earnings("s-late", carried, 500, 55)
    clock.advance(WEEK)
    app.run_due(clock.now(), connect)
    assert app.payee(carried).outcome(1, "USD")["amount"] == 1500
    assert app.payee(carried).balance("USD") == 0


def test_a_balance_insufficient_refusal_is_carried_the_same_way(app, connect, upstream, clock):
    activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 1000, 111)
    connect.available = {"USD": 10}  # what Stripe refuses the transfer for...
    plenty = {"USD": 10**9}
    connect.available_balance = lambda: dict(plenty)  # ...though the plan saw enough
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    report = app.run_due(clock.now(), connect)
    assert (report.sent, report.carried, report.failed) == (0, 1, 0)
    assert app.payee("e1").outcome(0, "USD")["status"] == CARRIED
    assert app.payee("e1").balance("USD") == 1000
    assert stored(app, Payee.TransferFailed) == []


def test_the_run_skips_payees_at_or_below_zero(app, connect, upstream, clock):
    from eventsourcing.application import ProcessingEvent

    for expert in ("e1", "e2", "e3"):
        activate(app, connect, expert)
        upstream.earnings(f"s-{expert}", expert, 1000, 111)
    for expert, amount in (("e1", 1000), ("e2", 1400)):
        processing: ProcessingEvent = ProcessingEvent()
        app.take_back(
            processing, TakenBack(expert, f"re-{expert}", "USD", amount, "refund", ANCHOR)
        )
        app.save(*processing.events)
    assert app.payee("e1").balance("USD") == 0 and app.payee("e2").balance("USD") == -400
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    report = app.run_due(clock.now(), connect)
    assert report.sent == 1 and len(connect.transfers) == 1
    assert connect.sent_to(app.payout_account("e3").stripe_account_id) == [(1000, "usd")]
    assert app.payee("e2").balance("USD") == -400  # carried, never transferred below zero
    assert app.find(PayoutRun, run_id(0)).finished


def test_an_account_abroad_is_opened_under_the_recipient_agreement(app, connect):
    home, _ = app.activate_payout(
        connect, account_id="e1", email="", country="US", return_url="r", refresh_url="f"
    )
    abroad, _ = app.activate_payout(
        connect, account_id="e2", email="", country="FR", return_url="r", refresh_url="f"
    )
    assert connect.accounts[home.stripe_account_id]["service_agreement"] == "full"
    assert connect.accounts[abroad.stripe_account_id]["service_agreement"] == "recipient"


def test_a_country_the_platform_cannot_pay_is_refused_by_name(connect, clock):
    from headstore.settings import Settings
    from services.payouts.application import PayoutsApplication

    from .conftest import CONFIG

    config = CONFIG.model_copy(update={"platform_country": "DE"})
    app = PayoutsApplication(Settings(persistence="memory"), config=config)
    with pytest.raises(InvalidInput) as refused:
        app.activate_payout(
            connect, account_id="e1", email="", country="MX", return_url="r", refresh_url="f"
        )
    assert refused.value.code == "unsupported_payout_country"
    assert "Mexico (MX)" in refused.value.message
    assert connect.accounts == {}
    app.close()


def test_a_run_killed_while_planning_plans_on_after_the_last_payee_planned(
    app, connect, upstream, clock
):
    from services.payouts.application import RUN_CHUNK

    experts = [f"e{n:04d}" for n in range(RUN_CHUNK + 40)]
    for expert in experts:
        activate(app, connect, expert)
        upstream.earnings(f"s-{expert}", expert, 1000, 111)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    connect.crash_after = transfer_key(experts[10], 0, "USD")  # in the first chunk
    with pytest.raises(Crash):
        app.run_due(clock.now(), connect)
    run = app.find(PayoutRun, run_id(0))
    assert run.planning and run.planned_through == experts[RUN_CHUNK - 1]
    assert len(run.planned) == RUN_CHUNK  # the second chunk was not planned yet
    connect.crash_after = None
    report = app.run_due(clock.now(), connect)
    run = app.find(PayoutRun, run_id(0))
    assert run.finished and not run.planning and len(run.planned) == len(experts)
    assert len(connect.transfers) == len(experts)  # one each: none twice, none left out
    assert len(connect.calls) == len(experts)  # the 11 made before the crash were looked up
    assert report.sent == len(experts)
    assert all(app.payee(e).balance("USD") == 0 for e in experts)
