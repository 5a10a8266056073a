"""Refunds and disputes of a session's charge: who may ask, grant and refuse, the window, the
refund made once through the payment provider, refunds made in Stripe's dashboard, and
disputes opened and closed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from headstore.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from services.billing.application import BillingApplication
from services.billing.domain import Dispute, Refund, RefundState

from .conftest import START, Calls, Crash, FakeGateway, run_until, stored_events

MINUTE = timedelta(minutes=1)
ENDED = START + 30 * MINUTE
WINDOW = timedelta(hours=72)


@pytest.fixture
def charged(app: BillingApplication, calls: Calls, gateway: FakeGateway, clock) -> Calls:
    """The FAQ's session: 30 minutes at 3.00, charged 90.00 (81.00 and 9.00)."""
    calls.accepted(rate=300)
    app.execute_payments(gateway)
    clock.advance(START - clock.now())
    calls.started(START)
    run_until(app, gateway, clock, ENDED - timedelta(seconds=1))
    calls.ended(ENDED)
    app.execute_payments(gateway)
    return calls


def made(app: BillingApplication) -> list[Refund.Made]:
    return stored_events(app, Refund.Made)


def test_a_granted_refund_gives_the_whole_charge_back_once(app, charged, gateway):
    asked = app.request_refund("session-1", "client-1", "The line was bad.")
    assert (asked.state, asked.amount_minor) == (RefundState.REQUESTED, 9000)
    app.grant_refund("session-1", "expert-1", as_admin=False)
    app.execute_refunds(gateway)
    app.execute_refunds(gateway)
    assert [i.get("refunded", 0) for i in gateway.intents.values() if i["captured"]] == [3000] * 3
    [refund] = made(app)
    assert (refund.amount_minor, refund.expert_share_minor, refund.platform_share_minor) == (
        9000,
        8100,
        900,
    )
    assert app.refund("session-1", "client-1", as_admin=False).state == RefundState.REFUNDED


def test_a_crash_after_the_refund_call_makes_no_second_refund(app, charged, gateway):
    app.request_refund("session-1", "client-1", "The line was bad.")
    app.grant_refund("session-1", "admin-1", as_admin=True)
    gateway.crash_after = "session-1:refund:pi_1"
    with pytest.raises(Crash):
        app.execute_refunds(gateway)
    gateway.crash_after = None
    app.execute_refunds(gateway)
    refunded = [i.get("refunded", 0) for i in gateway.intents.values() if i["captured"]]
    assert refunded == [3000, 3000, 3000]
    assert len(made(app)) == 1


def test_asking_twice_answers_the_first_request(app, charged):
    first = app.request_refund("session-1", "client-1", "The line was bad.")
    again = app.request_refund("session-1", "client-1", "Another reason.")
    assert (again.id, again.reason) == (first.id, "The line was bad.")
    assert len(stored_events(app, Refund.Requested)) == 1


def test_a_refund_may_be_asked_for_until_the_windows_last_instant(app, charged, clock):
    clock.advance(ENDED + WINDOW - clock.now())
    assert app.request_refund("session-1", "client-1", "Late, but in time.").is_open


def test_a_refund_asked_for_after_the_window_is_refused(app, charged, clock):
    clock.advance(ENDED + WINDOW + timedelta(microseconds=1) - clock.now())
    with pytest.raises(PreconditionFailed) as refused:
        app.request_refund("session-1", "client-1", "Too late.")
    assert refused.value.code == "refund_window_closed"
    assert "72 hours" in refused.value.message
    assert not stored_events(app, Refund.Requested)


def test_only_the_client_may_ask_and_others_learn_nothing(app, charged):
    for stranger in ("expert-1", "client-2"):
        with pytest.raises(NotFound) as hidden:
            app.request_refund("session-1", stranger, "Mine?")
        assert hidden.value.code == "session_not_found"


def test_a_session_not_yet_charged_cannot_be_refunded(app, calls, gateway, clock):
    calls.accepted(rate=300)
    app.execute_payments(gateway)
    with pytest.raises(PreconditionFailed) as refused:
        app.request_refund("session-1", "client-1", "Too soon.")
    assert refused.value.code == "session_not_charged"


def test_a_session_that_cost_nothing_has_nothing_to_refund(app, calls, gateway, clock):
    calls.accepted(rate=300, free_session=True)
    calls.started(START, free_session=True)
    calls.ended(START + 5 * MINUTE)
    app.execute_payments(gateway)
    with pytest.raises(PreconditionFailed) as refused:
        app.request_refund("session-1", "client-1", "It was free.")
    assert refused.value.code == "nothing_to_refund"


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("", "reason_required"),
        ("  ", "reason_required"),
        ("a\x00b", "invalid_characters"),
        ("x" * 1001, "reason_too_long"),
    ],
)
def test_a_reason_that_is_missing_or_not_plain_text_is_refused(app, charged, reason, code):
    with pytest.raises(InvalidInput) as refused:
        app.request_refund("session-1", "client-1", reason)
    assert (refused.value.code, refused.value.field) == (code, "reason")


def test_only_the_sessions_expert_or_an_admin_may_grant(app, charged, gateway):
    app.request_refund("session-1", "client-1", "The line was bad.")
    with pytest.raises(NotFound):
        app.grant_refund("session-1", "expert-2", as_admin=False)
    assert app.refund("session-1", "client-1", as_admin=False).state == RefundState.REQUESTED


def test_an_admin_refuses_with_a_reason_and_a_refused_refund_is_never_granted(app, charged):
    app.request_refund("session-1", "client-1", "The line was bad.")
    refused = app.refuse_refund("session-1", "admin-1", "The recording shows a clear line.")
    assert (refused.state, refused.refusal_reason) == (
        RefundState.REFUSED,
        "The recording shows a clear line.",
    )
    with pytest.raises(Conflict) as conflict:
        app.grant_refund("session-1", "expert-1", as_admin=False)
    assert conflict.value.code == "refund_refused"


def test_a_granted_refund_cannot_be_refused(app, charged):
    app.request_refund("session-1", "client-1", "The line was bad.")
    app.grant_refund("session-1", "expert-1", as_admin=False)
    with pytest.raises(Conflict) as conflict:
        app.refuse_refund("session-1", "admin-1", "Too late.")
    assert conflict.value.code == "refund_already_granted"


def test_the_refund_is_read_by_its_participants_and_admins_only(app, charged):
    app.request_refund("session-1", "client-1", "The line was bad.")
    assert app.refund("session-1", "expert-1", as_admin=False).reason == "The line was bad."
    assert app.refund("session-1", "admin-9", as_admin=True).is_open
    with pytest.raises(NotFound):
        app.refund("session-1", "client-2", as_admin=False)


def test_a_refund_made_in_stripes_dashboard_is_recorded_once(app, charged):
    assert app.record_refund_made_elsewhere("session-1")
    assert not app.record_refund_made_elsewhere("session-1")
    [refund] = made(app)
    assert (refund.origin, refund.amount_minor, refund.expert_share_minor) == (
        "stripe_dashboard",
        9000,
        8100,
    )


def test_stripes_word_on_a_refund_being_made_here_changes_nothing(app, charged, gateway):
    app.request_refund("session-1", "client-1", "The line was bad.")
    app.grant_refund("session-1", "expert-1", as_admin=False)
    assert not app.record_refund_made_elsewhere("session-1")  # charge.refunded came first
    app.execute_refunds(gateway)
    assert [r.origin for r in made(app)] == ["client_request"]


def test_a_lost_dispute_takes_the_shares_back_and_a_won_one_nothing(app, charged):
    assert app.open_dispute("session-1", "dp_1", 9000, "fraudulent")
    assert not app.open_dispute("session-1", "dp_1", 9000, "fraudulent")
    assert app.close_dispute("dp_1", "lost")
    assert not app.close_dispute("dp_1", "won")
    app.open_dispute("session-1", "dp_2", 3000, "product_not_received")
    app.close_dispute("dp_2", "won")
    lost, won = stored_events(app, Dispute.Closed)
    assert (lost.outcome, lost.expert_share_minor, lost.platform_share_minor) == ("lost", 8100, 900)
    assert (won.outcome, won.amount_minor, won.expert_share_minor) == ("won", 3000, 0)


def test_a_partly_disputed_charge_takes_back_the_commission_on_that_part(app, charged):
    app.open_dispute("session-1", "dp_1", 1005, "duplicate")
    app.close_dispute("dp_1", "lost")
    [lost] = stored_events(app, Dispute.Closed)
    # 10% of 10.05 is 1.005, rounded half up to 1.01.
    assert (lost.expert_share_minor, lost.platform_share_minor) == (904, 101)


def test_a_dispute_of_an_unknown_session_is_ignored(app):
    assert not app.open_dispute("session-9", "dp_1", 100, "fraudulent")
    assert not app.close_dispute("dp_9", "lost")


def test_a_dispute_that_arrives_before_the_charge_is_recorded_is_kept(app, calls, gateway, clock):
    calls.accepted(rate=300)
    app.execute_payments(gateway)
    clock.advance(START - clock.now())
    calls.started(START)
    run_until(app, gateway, clock, ENDED - timedelta(seconds=1))
    calls.ended(ENDED)  # settlement planned; Stripe captured, billing not told yet
    assert app.open_dispute("session-1", "dp_1", 9000, "fraudulent")
    app.execute_payments(gateway)
    app.close_dispute("dp_1", "lost")
    [lost] = stored_events(app, Dispute.Closed)
    assert (lost.expert_share_minor, lost.platform_share_minor) == (8100, 900)
