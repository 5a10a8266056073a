"""The payouts nameko service: billing's earnings and profiles' referrals credit payees; a
timer runs the weekly transfers (one replica at a time); gRPC for payout activation,
statistics and Stripe's Connect webhooks."""

from __future__ import annotations

import logging

from nameko.containers import WorkerContext
from nameko.timer import timer

from contracts.events.v1 import money_pb2
from contracts.payouts.v1 import payouts_pb2 as api
from contracts.payouts.v1 import payouts_pb2_grpc
from headstore import clock
from headstore.consumers import consumes
from headstore.dependencies import Leadership, MetricsServer, Provides, Store
from headstore.grpc import Grpc, GrpcContext, grpc_method
from headstore.health import HealthCheck
from headstore.runtime import off_hub
from services.payouts import contract
from services.payouts.adapters.stripe import ConnectGateway, account_state
from services.payouts.application import (
    ChargedSession,
    ClosedDispute,
    ExpertReferral,
    OpenedDispute,
    PayoutsApplication,
    PayoutsConfig,
    Processing,
    RefundedSession,
    SessionEarnings,
    SessionRating,
)
from services.payouts.domain import PayoutAccount

log = logging.getLogger(__name__)

grpc = Grpc.implementing(payouts_pb2_grpc.PayoutsServiceStub)
handled = grpc_method("payouts")
TICK_SECONDS = PayoutsConfig.from_env().tick_seconds


class Connect(Provides[ConnectGateway]):
    """Stripe Connect (official SDK), its network calls made off the eventlet hub."""

    def setup(self) -> None:
        self.gateway = ConnectGateway()

    def stop(self) -> None:
        self.gateway.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> ConnectGateway:
        return off_hub(self.gateway)


def money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


def account_message(account: PayoutAccount, onboarding_url: str = "") -> api.PayoutAccount:
    return api.PayoutAccount(
        account_id=account.account_id,
        status=account.status,
        country=account.country,
        stripe_account_id=account.stripe_account_id,
        onboarding_url=onboarding_url,
    )


class PayoutsService(HealthCheck):
    name = "payouts"
    store = Store(PayoutsApplication)
    connect = Connect()
    timer_lease = Leadership("timer")
    metrics = MetricsServer(lambda settings: settings.metrics_ports["payouts"])

    # -- other services' events (contract.SUBSCRIPTIONS: their queues, streams, translations) --

    @consumes(contract.EARNINGS_ACCRUED)
    def on_earnings_accrued(
        self, app: PayoutsApplication, earnings: SessionEarnings, processing: Processing
    ) -> None:
        app.credit_earnings(processing, earnings)

    @consumes(contract.SESSION_CHARGED)
    def on_session_charged(
        self, app: PayoutsApplication, charged: ChargedSession, processing: Processing
    ) -> None:
        app.count_session(processing, charged)

    @consumes(contract.RATING_GIVEN)
    def on_rating_given(
        self, app: PayoutsApplication, rating: SessionRating, processing: Processing
    ) -> None:
        app.count_rating(processing, rating)

    @consumes(contract.EXPERT_REFERRED)
    def on_expert_referred(
        self, app: PayoutsApplication, referred: ExpertReferral, processing: Processing
    ) -> None:
        app.record_referral(processing, referred)

    @consumes(contract.SESSION_REFUNDED)
    def on_session_refunded(
        self, app: PayoutsApplication, refunded: RefundedSession, processing: Processing
    ) -> None:
        app.refund_session(processing, refunded)

    @consumes(contract.DISPUTE_OPENED)
    def on_dispute_opened(
        self, app: PayoutsApplication, opened: OpenedDispute, processing: Processing
    ) -> None:
        app.hold_disputed(processing, opened)

    @consumes(contract.DISPUTE_CLOSED)
    def on_dispute_closed(
        self, app: PayoutsApplication, closed: ClosedDispute, processing: Processing
    ) -> None:
        app.close_dispute(processing, closed)

    # -- the weekly run -------------------------------------------------------------------------

    @timer(interval=TICK_SECONDS)
    def tick(self) -> int:
        """Run the week that just ended, once (one replica at a time); returns transfers made."""
        # Every replica keeps its indexes (payees, open runs) caught up each tick, so a run
        # starts from a warm index instead of reading the week's events first.
        self.store.follow()
        if not self.timer_lease.held():
            return 0
        report = self.store.run_due(clock.now(), self.connect)
        return int(report.sent + report.failed)

    # -- payout accounts ------------------------------------------------------------------------

    @grpc
    @handled
    def ActivatePayout(  # noqa: N802
        self, request: api.ActivatePayoutRequest, context: GrpcContext
    ) -> api.PayoutAccount:
        account, url = self.store.activate_payout(
            self.connect,
            account_id=request.account_id,
            email=request.email,
            country=request.country,
            return_url=request.return_url,
            refresh_url=request.refresh_url,
        )
        return account_message(account, url)

    @grpc
    @handled
    def GetPayoutAccount(  # noqa: N802
        self, request: api.GetPayoutAccountRequest, context: GrpcContext
    ) -> api.PayoutAccount:
        account: PayoutAccount | None
        if request.refresh:
            account = self.store.refresh_payout_account(self.connect, request.account_id)
        else:
            account = self.store.payout_account(request.account_id)
        if account is None:
            return api.PayoutAccount(account_id=request.account_id, status="not_activated")
        return account_message(account)

    @grpc
    @handled
    def GetPayoutStatistics(  # noqa: N802
        self, request: api.GetPayoutStatisticsRequest, context: GrpcContext
    ) -> api.PayoutStatistics:
        stats = self.store.statistics(request.account_id)
        weeks = self.store.weeks
        return api.PayoutStatistics(
            weeks=[
                api.WeekEarnings(
                    week=row["week"],
                    week_start=weeks.start(row["week"]).isoformat(),
                    week_end=weeks.end(row["week"]).isoformat(),
                    earnings=money(row["currency"], row["earnings"]),
                    ambassador_shares=money(row["currency"], row["ambassador_shares"]),
                    sessions=row["sessions"],
                    minutes=row["minutes"],
                )
                for row in stats["weeks"]
            ],
            balances=[
                api.CurrencyBalance(
                    earned=money(row["currency"], row["earned"]),
                    paid=money(row["currency"], row["paid"]),
                    balance=money(row["currency"], row["balance"]),
                )
                for row in stats["balances"]
            ],
            transfers=[
                api.Transfer(
                    week=row["week"],
                    amount=money(row["currency"], row["amount"]),
                    status=row["status"],
                    transfer_id=row["transfer_id"],
                    reason=row["reason"],
                )
                for row in stats["transfers"]
            ],
            sessions=stats["sessions"],
            minutes=stats["minutes"],
            ratings=stats["ratings"],
            average_rating_hundredths=stats["average_rating_hundredths"],
        )

    @grpc
    @handled
    def HandleStripeWebhook(  # noqa: N802
        self, request: api.HandleStripeWebhookRequest, context: GrpcContext
    ) -> api.HandleStripeWebhookResponse:
        event = self.connect.webhook_event(request.payload, request.signature)
        if event.type == "account.updated":
            claimed = account_state(event.data.object.to_dict())  # whose, not how it is
            first = self.store.stripe_account_changed(
                self.connect,
                event.id,
                claimed.account_id,
                getattr(event, "account", None) or claimed.stripe_account_id,
            )
            return api.HandleStripeWebhookResponse(
                event_type=event.type, handled=first, duplicate=not first
            )
        if not self.store.save_with_stripe_event(event.id, event.type):
            return api.HandleStripeWebhookResponse(event_type=event.type, duplicate=True)
        if event.type.startswith("transfer."):
            log.info("Stripe reports %s for %s", event.type, getattr(event.data.object, "id", ""))
        return api.HandleStripeWebhookResponse(event_type=event.type, handled=False)
