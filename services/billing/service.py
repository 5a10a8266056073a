"""The billing nameko service: calls' session events open, start and close bills; a timer
bills each started minute, takes the next card hold before it is needed and settles ended
sessions through Stripe; gRPC for cards, a session's bill and Stripe's webhooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nameko.containers import WorkerContext
from nameko.timer import timer
from prometheus_client import Gauge

from contracts.billing.v1 import billing_pb2 as api
from contracts.billing.v1 import billing_pb2_grpc
from contracts.events.v1 import money_pb2
from headstore import clock, metrics
from headstore.call_pool import CallPool
from headstore.consumers import consumes
from headstore.dependencies import Leadership, MetricsServer, Provides, Store
from headstore.errors import NotFound, PreconditionFailed
from headstore.grpc import Grpc, GrpcContext, grpc_method
from headstore.health import HealthCheck
from headstore.runtime import off_hub
from headstore.stripe_api import stripe_pool
from services.billing import contract
from services.billing.adapters.stripe import StripeGateway
from services.billing.application import (
    BillingApplication,
    BillingConfig,
    CloseBill,
    Processing,
    SessionTerms,
    StartBill,
)
from services.billing.domain import LOST, WON, Bill, CardOnFile, Refund

log = logging.getLogger(__name__)

grpc = Grpc.implementing(billing_pb2_grpc.BillingServiceStub)
handled = grpc_method("billing")
TICK_SECONDS = BillingConfig.from_env().tick_seconds
DISPUTE_OUTCOMES = {"won": WON, "lost": LOST, "warning_closed": WON}
"""Stripe's closed dispute statuses (an inquiry closed without a chargeback keeps the money)."""


class Stripe(Provides[StripeGateway]):
    """The Stripe gateway (official SDK), its network calls made off the eventlet hub."""

    def setup(self) -> None:
        self.gateway = StripeGateway()

    def get_dependency(self, worker_ctx: WorkerContext) -> StripeGateway:
        return off_hub(self.gateway)


@dataclass(frozen=True)
class PaymentCalls:
    """Where the timer hands the payment calls over: the process's Stripe pool (its own
    threads, Stripe's rate limit, back-off after a 429) and a gateway whose calls go through
    it. Both are used from real threads only (the store's, the pool's), never from the hub."""

    gateway: StripeGateway
    executor: CallPool


class Payments(Provides[PaymentCalls]):
    def setup(self) -> None:
        pool = stripe_pool("billing")
        self.calls = PaymentCalls(StripeGateway(pool=pool), pool)

    def stop(self) -> None:
        self.calls.executor.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> PaymentCalls:
        return self.calls


def money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


def bill_message(bill: Bill) -> api.SessionBill:
    state = "charged" if bill.charged else ("closing" if bill.ended else "open")
    return api.SessionBill(
        session_id=bill.session_id,
        billed_minutes=bill.billed_minutes,
        cost_so_far=money(bill.currency, bill.cost.minor),
        earnings_so_far=money(bill.currency, bill.earnings.minor),
        state=state,
        total=money(bill.currency, bill.total_minor),
    )


def card_message(card: CardOnFile) -> api.Card:
    return api.Card(
        brand=card.brand,
        last4=card.last4,
        country=card.country,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
    )


def refund_message(refund: Refund) -> api.Refund:
    return api.Refund(
        session_id=refund.session_id,
        state=refund.state,
        amount=money(refund.currency, refund.amount_minor),
        reason=refund.reason,
        refusal_reason=refund.refusal_reason,
        granted_by_role=refund.granted_by_role,
    )


def open_bills() -> Gauge:
    return metrics.gauge("billing_open_bills", "Bills not yet charged")


def last_tick() -> Gauge:
    return metrics.gauge(
        "billing_last_tick_timestamp_seconds",
        "When this replica last finished a timer tick holding the lease (Unix time)",
    )


class BillingService(HealthCheck):
    name = "billing"
    store = Store(BillingApplication)
    stripe = Stripe()
    payments = Payments()
    timer_lease = Leadership("timer")
    metrics = MetricsServer(lambda settings: settings.metrics_ports["billing"])

    # -- calls' events (contract.SUBSCRIPTIONS: their queues, streams and translations) --------

    @consumes(contract.SESSION_ACCEPTED)
    def on_session_accepted(
        self, app: BillingApplication, terms: SessionTerms, processing: Processing
    ) -> None:
        app.open_bill(processing, terms)

    @consumes(contract.SESSION_STARTED)
    def on_session_started(
        self, app: BillingApplication, start: StartBill, processing: Processing
    ) -> None:
        app.start_bill(processing, start)

    @consumes(contract.SESSION_ENDED)
    def on_session_ended(
        self, app: BillingApplication, close: CloseBill, processing: Processing
    ) -> None:
        app.close_bill(processing, close)

    # -- the clock ------------------------------------------------------------------------------

    @timer(interval=TICK_SECONDS, eager=True)  # the first tick as soon as the service is up
    def tick(self) -> int:
        """Bill the minutes started, ask for the holds due (only the bills due are looked at)
        and hand the payment calls to make to the Stripe pool, one replica at a time; returns
        how many bills' calls were handed over. Never waits on Stripe."""
        if not self.timer_lease.held():
            self.store.follow()
            return 0
        self.store.bill_due(clock.now())
        handed = self.store.dispatch_payments(self.payments.gateway, self.payments.executor)
        self.store.dispatch_refunds(self.payments.gateway, self.payments.executor)
        open_bills().set(self.store.open_bills())
        last_tick().set_to_current_time()
        return handed

    # -- cards ----------------------------------------------------------------------------------

    @grpc
    @handled
    def CreateSetupIntent(  # noqa: N802
        self, request: api.CreateSetupIntentRequest, context: GrpcContext
    ) -> api.SetupIntent:
        customer = self._stripe_customer(request.client_id)
        intent = self.stripe.setup_intent(customer)
        return api.SetupIntent(
            setup_intent_id=intent.id,
            client_secret=intent.client_secret or "",
            customer_id=customer,
        )

    @grpc
    @handled
    def SaveCard(  # noqa: N802
        self, request: api.SaveCardRequest, context: GrpcContext
    ) -> api.Card:
        customer = self._stripe_customer(request.client_id)
        card = self.stripe.attach_card(customer, request.payment_method_id)
        saved = self.store.save_card(
            request.client_id,
            customer,
            card.payment_method_id,
            card.brand,
            card.last4,
            card.country,
            card.exp_month,
            card.exp_year,
        )
        return card_message(saved)

    def _stripe_customer(self, client_id: str) -> str:
        """The client's Stripe customer: the one kept, or one created now and kept (its
        idempotency key makes concurrent first requests create one; a day later Stripe would
        have forgotten the key, hence the keeping)."""
        kept = self.store.stripe_customer(client_id)
        if kept is not None:
            return kept
        return self.store.record_stripe_customer(client_id, self.stripe.customer_for(client_id))

    @grpc
    @handled
    def GetCard(  # noqa: N802
        self, request: api.GetCardRequest, context: GrpcContext
    ) -> api.Card:
        card = self.store.card(request.client_id)
        if card is None:
            raise NotFound("card_not_found", "No card is saved yet.", None)
        return card_message(card)

    @grpc
    @handled
    def GetSessionBill(  # noqa: N802
        self, request: api.GetSessionBillRequest, context: GrpcContext
    ) -> api.SessionBill:
        bill = self.store.bill(request.session_id)
        if request.participant_id not in (bill.client_id, bill.expert_id):
            raise NotFound("bill_not_found", "No such bill.", "session_id")
        return bill_message(bill)

    # -- refunds --------------------------------------------------------------------------------

    @grpc
    @handled
    def RequestRefund(  # noqa: N802
        self, request: api.RequestRefundRequest, context: GrpcContext
    ) -> api.Refund:
        refund = self.store.request_refund(request.session_id, request.client_id, request.reason)
        return refund_message(refund)

    @grpc
    @handled
    def GrantRefund(  # noqa: N802
        self, request: api.GrantRefundRequest, context: GrpcContext
    ) -> api.Refund:
        refund = self.store.grant_refund(request.session_id, request.granted_by, request.as_admin)
        return refund_message(refund)

    @grpc
    @handled
    def RefuseRefund(  # noqa: N802
        self, request: api.RefuseRefundRequest, context: GrpcContext
    ) -> api.Refund:
        refund = self.store.refuse_refund(request.session_id, request.admin_id, request.reason)
        return refund_message(refund)

    @grpc
    @handled
    def GetRefund(  # noqa: N802
        self, request: api.GetRefundRequest, context: GrpcContext
    ) -> api.Refund:
        return refund_message(
            self.store.refund(request.session_id, request.reader_id, request.as_admin)
        )

    @grpc
    @handled
    def HandleStripeWebhook(  # noqa: N802
        self, request: api.HandleStripeWebhookRequest, context: GrpcContext
    ) -> api.HandleStripeWebhookResponse:
        event = self.stripe.webhook_event(request.payload, request.signature)
        if not event.type:
            raise PreconditionFailed("invalid_webhook", "The webhook has no event type.", None)
        # Holds and captures are driven by billing itself and confirmed in the API's answers.
        # Disputes and refunds made in Stripe's dashboard are applied (each idempotently, so
        # applying before recording the event loses nothing when the record fails and Stripe
        # sends it again); every event is recorded once and acknowledged.
        self._apply_webhook(event.type, event.data.object)
        if not self.store.save_with_stripe_event(event.id, event.type):
            return api.HandleStripeWebhookResponse(
                event_type=event.type, handled=False, duplicate=True
            )
        if event.type == "charge.dispute.created":  # it needs a person: said once
            log.warning("a charge is disputed: %s", getattr(event.data.object, "id", ""))
        elif event.type.startswith("payment_intent.") and event.type.endswith("_failed"):
            log.warning(
                "Stripe reports %s for %s", event.type, getattr(event.data.object, "id", "")
            )
        return api.HandleStripeWebhookResponse(event_type=event.type, handled=True)

    def _apply_webhook(self, event_type: str, thing: Any) -> None:
        if event_type == "charge.dispute.created":
            session = self.stripe.session_of(
                str(getattr(thing, "payment_intent", "") or ""), str(getattr(thing, "charge", ""))
            )
            if session:
                self.store.open_dispute(
                    session,
                    str(thing.id),
                    int(getattr(thing, "amount", 0) or 0),
                    str(getattr(thing, "reason", "") or ""),
                )
        elif event_type == "charge.dispute.closed":
            outcome = DISPUTE_OUTCOMES.get(str(getattr(thing, "status", "")))
            if outcome is not None:
                self.store.close_dispute(str(thing.id), outcome)
        elif event_type == "charge.refunded" and getattr(thing, "refunded", False):
            # The whole charge; a partial refund made in the dashboard is left to a person.
            session = self.stripe.session_of(str(getattr(thing, "payment_intent", "") or ""))
            if session:
                self.store.record_refund_made_elsewhere(session)
