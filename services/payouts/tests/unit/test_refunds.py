"""Refunds and disputes in payouts: a refund or a lost dispute takes the expert's share back
from the expert and the ambassador's share of the commission back from the ambassador (a
balance below zero is carried, never transferred); a disputed session's credits are held from
the weekly runs until the dispute closes."""

from __future__ import annotations

from datetime import timedelta

from services.payouts.domain import Payee

from .conftest import ANCHOR, WEEK, activate

RUN_OF_WEEK_0 = ANCHOR + WEEK + timedelta(minutes=1)
RUN_OF_WEEK_1 = RUN_OF_WEEK_0 + WEEK
RUN_OF_WEEK_2 = RUN_OF_WEEK_1 + WEEK


def stored(app, kind):
    events = [app.mapper.to_domain_event(n) for n in app.notifications_after(0)]
    return [event for event in events if isinstance(event, kind)]


def run(app, connect, clock, at):
    clock.advance(at - clock.now())
    return app.run_due(clock.now(), connect)


def test_a_refund_before_the_payout_pays_nothing_for_that_session(app, connect, upstream, clock):
    account = activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 1260, 140)
    assert upstream.refunded("s1", "e1", 8100, 900) == "processed"
    run(app, connect, clock, RUN_OF_WEEK_0)
    assert connect.sent_to(account.stripe_account_id) == [(1260, "usd")]
    assert app.payee("e1").balance("USD") == 0


def test_a_refund_after_the_payout_is_carried_and_next_weeks_earnings_pay_it_off_first(
    app, connect, upstream, clock
):
    account = activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 8100, 900)
    run(app, connect, clock, RUN_OF_WEEK_0)
    assert connect.sent_to(account.stripe_account_id) == [(8100, "usd")]

    upstream.refunded("s1", "e1", 8100, 900)  # in week 1, after the money left
    upstream.earnings("s2", "e1", 5000, 556)
    assert app.payee("e1").balance("USD") == -3100
    report = run(app, connect, clock, RUN_OF_WEEK_1)
    assert report.sent == 0 and connect.sent_to(account.stripe_account_id) == [(8100, "usd")]
    assert app.payee("e1").balance("USD") == -3100  # carried, never transferred below zero

    upstream.earnings("s3", "e1", 4000, 444)  # week 2: pays off the 3100 first
    run(app, connect, clock, RUN_OF_WEEK_1 + WEEK)
    assert connect.sent_to(account.stripe_account_id) == [(900, "usd"), (8100, "usd")]
    assert app.payee("e1").balance("USD") == 0


def test_a_refund_takes_the_ambassadors_share_of_the_commission_back(app, connect, upstream):
    upstream.referred("e1", "amb", share_basis_points=1000)
    upstream.earnings("s1", "e1", 8100, 900)
    assert app.payee("amb").balance("USD") == 90
    upstream.refunded("s1", "e1", 8100, 900)
    assert app.payee("amb").balance("USD") == 0 and app.payee("e1").balance("USD") == 0
    [to_expert, to_ambassador] = sorted(
        stored(app, Payee.Debited), key=lambda d: d.amount_minor, reverse=True
    )
    assert (to_expert.amount_minor, to_ambassador.amount_minor) == (8100, 90)
    assert to_expert.reference == to_ambassador.reference == "refund:s1"


def test_a_refund_delivered_twice_is_taken_back_once(app, upstream):
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.refunded("s1", "e1", 8100, 900)
    upstream.refunded("s1", "e1", 8100, 900)  # published again by the relay, further on
    assert len(stored(app, Payee.Debited)) == 1
    assert app.payee("e1").balance("USD") == 0


def test_a_disputed_session_is_held_across_a_weekly_run(app, connect, upstream, clock):
    account = activate(app, connect, "e1")
    upstream.referred("e1", "amb", share_basis_points=1000)
    ambassador = activate(app, connect, "amb")
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 1260, 140)
    assert upstream.dispute_opened("dp_1", "s1", "e1", 9000) == "processed"
    run(app, connect, clock, RUN_OF_WEEK_0)
    assert connect.sent_to(account.stripe_account_id) == [(1260, "usd")]
    assert connect.sent_to(ambassador.stripe_account_id) == [(14, "usd")]  # s2's share only
    assert app.payee("e1").held("USD") == 8100 and app.payee("e1").balance("USD") == 8100
    assert app.payee("amb").held("USD") == 90


def test_a_won_dispute_releases_the_held_earnings_to_the_next_run(app, connect, upstream, clock):
    account = activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.dispute_opened("dp_1", "s1", "e1", 9000)
    run(app, connect, clock, RUN_OF_WEEK_0)
    assert connect.sent_to(account.stripe_account_id) == []
    assert upstream.dispute_closed("dp_1", "s1", "e1", "won") == "processed"
    run(app, connect, clock, RUN_OF_WEEK_1)
    assert connect.sent_to(account.stripe_account_id) == [(8100, "usd")]
    assert stored(app, Payee.Debited) == []
    [released] = stored(app, Payee.Released)
    assert released.outcome == "won"


def test_a_lost_dispute_takes_the_shares_back_and_pays_nothing_for_the_session(
    app, connect, upstream, clock
):
    account = activate(app, connect, "e1")
    upstream.referred("e1", "amb", share_basis_points=1000)
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 1260, 140)
    upstream.dispute_opened("dp_1", "s1", "e1", 9000)
    run(app, connect, clock, RUN_OF_WEEK_0)
    assert connect.sent_to(account.stripe_account_id) == [(1260, "usd")]
    upstream.dispute_closed("dp_1", "s1", "e1", "lost", expert_share=8100, platform_share=900)
    assert app.payee("e1").held("USD") == 0 and app.payee("e1").balance("USD") == 0
    assert app.payee("amb").balance("USD") == 14  # s2's share stays, s1's is taken back
    run(app, connect, clock, RUN_OF_WEEK_1)
    assert connect.sent_to(account.stripe_account_id) == [(1260, "usd")]


def test_a_dispute_opened_after_the_payout_holds_later_earnings_until_it_closes(
    app, connect, upstream, clock
):
    account = activate(app, connect, "e1")
    upstream.earnings("s1", "e1", 8100, 900)
    run(app, connect, clock, RUN_OF_WEEK_0)
    upstream.dispute_opened("dp_1", "s1", "e1", 9000)
    upstream.earnings("s2", "e1", 5000, 556)
    run(app, connect, clock, RUN_OF_WEEK_1)
    assert connect.sent_to(account.stripe_account_id) == [(8100, "usd")]  # s2 waits
    upstream.dispute_closed("dp_1", "s1", "e1", "lost", expert_share=8100, platform_share=900)
    assert app.payee("e1").balance("USD") == -3100
    run(app, connect, clock, RUN_OF_WEEK_2)
    assert connect.sent_to(account.stripe_account_id) == [(8100, "usd")]


def test_a_dispute_event_that_makes_no_sense_is_rejected_and_changes_nothing(app, upstream):
    upstream.earnings("s1", "e1", 8100, 900)
    position = app.head()
    assert upstream.dispute_closed("dp_1", "s1", "e1", "draw") == "rejected"
    assert upstream.dispute_opened("", "s1", "e1", 9000) == "rejected"
    assert app.head() == position
