"""The names a deployment already holds state under, written out as they are deployed.

A consumer's durable queue (with the events waiting in it), its tracking records and its parked
events are all filed under names. Change one and the service starts a new, empty queue while
the old one keeps filling, or restarts a stream's tracking from zero, or no longer finds its
parked events. These names were captured from the running code before the subscription tables
existed; a change here must come with a migration of the deployed state.
"""

from __future__ import annotations

import pytest

from cli.registry import SERVICES, load
from headstore.consume import QUEUE_ARGUMENTS, handler_queues
from headstore.consumers import handlers

# service -> (producer, event type) -> (queue, upstream: the tracking and parking name)
DEPLOYED: dict[str, dict[tuple[str, str], tuple[str, str]]] = {
    "profiles": {
        ("calls", "SessionEnded"): (
            "evt-calls-SessionEnded--profiles.on_session_ended",
            "calls.SessionEnded.on_session_ended",
        ),
        ("calls", "SessionStarted"): (
            "evt-calls-SessionStarted--profiles.on_session_started",
            "calls.SessionStarted.on_session_started",
        ),
        ("payouts", "PayoutAccountActivated"): (
            "evt-payouts-PayoutAccountActivated--profiles.on_payout_account_activated",
            "payouts.PayoutAccountActivated.on_payout_account_activated",
        ),
    },
    "calls": {
        ("billing", "CardSaved"): (
            "evt-billing-CardSaved--calls.on_card_saved",
            "billing.CardSaved.on_card_saved",
        ),
        ("billing", "PaymentAuthorizationFailed"): (
            "evt-billing-PaymentAuthorizationFailed--calls.on_payment_authorization_failed",
            "billing.PaymentAuthorizationFailed.on_payment_authorization_failed",
        ),
        ("billing", "PaymentAuthorized"): (
            "evt-billing-PaymentAuthorized--calls.on_payment_authorized",
            "billing.PaymentAuthorized.on_payment_authorized",
        ),
        ("profiles", "AvailabilityChanged"): (
            "evt-profiles-AvailabilityChanged--calls.on_availability_changed",
            "profiles.AvailabilityChanged.on_availability_changed",
        ),
        ("profiles", "ExpertProfileUpdated"): (
            "evt-profiles-ExpertProfileUpdated--calls.on_expert_profile_updated",
            "profiles.ExpertProfileUpdated.on_expert_profile_updated",
        ),
        ("profiles", "RateChanged"): (
            "evt-profiles-RateChanged--calls.on_rate_changed",
            "profiles.RateChanged.on_rate_changed",
        ),
    },
    "billing": {
        ("calls", "SessionAccepted"): (
            "evt-calls-SessionAccepted--billing.on_session_accepted",
            "calls.SessionAccepted.on_session_accepted",
        ),
        ("calls", "SessionEnded"): (
            "evt-calls-SessionEnded--billing.on_session_ended",
            "calls.SessionEnded.on_session_ended",
        ),
        ("calls", "SessionStarted"): (
            "evt-calls-SessionStarted--billing.on_session_started",
            "calls.SessionStarted.on_session_started",
        ),
    },
    "payouts": {
        ("billing", "EarningsAccrued"): (
            "evt-billing-EarningsAccrued--payouts.on_earnings_accrued",
            "billing.EarningsAccrued.on_earnings_accrued",
        ),
        ("billing", "SessionCharged"): (
            "evt-billing-SessionCharged--payouts.on_session_charged",
            "billing.SessionCharged.on_session_charged",
        ),
        ("calls", "RatingGiven"): (
            "evt-calls-RatingGiven--payouts.on_rating_given",
            "calls.RatingGiven.on_rating_given",
        ),
        ("profiles", "ExpertReferred"): (
            "evt-profiles-ExpertReferred--payouts.on_expert_referred",
            "profiles.ExpertReferred.on_expert_referred",
        ),
        ("billing", "SessionRefunded"): (
            "evt-billing-SessionRefunded--payouts.on_session_refunded",
            "billing.SessionRefunded.on_session_refunded",
        ),
        ("billing", "DisputeOpened"): (
            "evt-billing-DisputeOpened--payouts.on_dispute_opened",
            "billing.DisputeOpened.on_dispute_opened",
        ),
        ("billing", "DisputeClosed"): (
            "evt-billing-DisputeClosed--payouts.on_dispute_closed",
            "billing.DisputeClosed.on_dispute_closed",
        ),
    },
    "notifications": {
        ("billing", "SessionCharged"): (
            "evt-billing-SessionCharged--notifications.on_session_charged",
            "billing.SessionCharged.on_session_charged",
        ),
        ("billing", "RefundRequested"): (
            "evt-billing-RefundRequested--notifications.on_refund_requested",
            "billing.RefundRequested.on_refund_requested",
        ),
        ("billing", "RefundRefused"): (
            "evt-billing-RefundRefused--notifications.on_refund_refused",
            "billing.RefundRefused.on_refund_refused",
        ),
        ("billing", "SessionRefunded"): (
            "evt-billing-SessionRefunded--notifications.on_session_refunded",
            "billing.SessionRefunded.on_session_refunded",
        ),
        ("billing", "DisputeOpened"): (
            "evt-billing-DisputeOpened--notifications.on_dispute_opened",
            "billing.DisputeOpened.on_dispute_opened",
        ),
        ("billing", "DisputeClosed"): (
            "evt-billing-DisputeClosed--notifications.on_dispute_closed",
            "billing.DisputeClosed.on_dispute_closed",
        ),
        ("payouts", "PayoutStatementIssued"): (
            "evt-payouts-PayoutStatementIssued--notifications.on_payout_statement",
            "payouts.PayoutStatementIssued.on_payout_statement",
        ),
        ("profiles", "AccountRegistered"): (
            "evt-profiles-AccountRegistered--notifications.on_account_registered",
            "profiles.AccountRegistered.on_account_registered",
        ),
        ("profiles", "EmailVerificationRequested"): (
            "evt-profiles-EmailVerificationRequested--notifications.on_email_verification_requested",
            "profiles.EmailVerificationRequested.on_email_verification_requested",
        ),
        ("profiles", "ExpertAccepted"): (
            "evt-profiles-ExpertAccepted--notifications.on_expert_accepted",
            "profiles.ExpertAccepted.on_expert_accepted",
        ),
        ("profiles", "ExpertRejected"): (
            "evt-profiles-ExpertRejected--notifications.on_expert_rejected",
            "profiles.ExpertRejected.on_expert_rejected",
        ),
        ("profiles", "PasswordChanged"): (
            "evt-profiles-PasswordChanged--notifications.on_password_changed",
            "profiles.PasswordChanged.on_password_changed",
        ),
        ("profiles", "PasswordResetRequested"): (
            "evt-profiles-PasswordResetRequested--notifications.on_password_reset_requested",
            "profiles.PasswordResetRequested.on_password_reset_requested",
        ),
        ("profiles", "SignUpAttempted"): (
            "evt-profiles-SignUpAttempted--notifications.on_sign_up_attempted",
            "profiles.SignUpAttempted.on_sign_up_attempted",
        ),
    },
}


def test_every_service_is_listed():
    assert set(DEPLOYED) == set(SERVICES)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_queues_keep_their_deployed_names_and_bindings(service):
    queues = handler_queues(load(SERVICES[service].service_class))
    assert {queue.name: (queue.exchange.name, queue.routing_key) for queue in queues} == {
        queue: (f"{producer}.events", event_type)
        for (producer, event_type), (queue, _) in DEPLOYED[service].items()
    }
    for queue in queues:
        # RabbitMQ refuses to declare an existing queue again with other properties.
        assert queue.durable and not queue.auto_delete
        # kombu sets a queue's declared properties at run time (`Queue.attrs`), unseen by mypy.
        arguments = queue.queue_arguments  # type: ignore[attr-defined]
        assert arguments == QUEUE_ARGUMENTS == {"x-single-active-consumer": True}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_tracking_and_parking_keep_their_deployed_names(service):
    found = handlers(load(SERVICES[service].service_class))
    assert {(s.producer, s.event_type): s.upstream for s in found} == {
        key: upstream for key, (_, upstream) in DEPLOYED[service].items()
    }
