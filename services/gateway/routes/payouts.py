"""Payouts: "Activate payout" (a Stripe Connect account and its onboarding link), the
statistics shown once payout is active, and Stripe's Connect webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from contracts.payouts.v1 import payouts_pb2
from services.gateway.auth import Caller, require_roles
from services.gateway.schemas import MoneyAmount, RequestBody, WebhookReceived, error_responses
from services.gateway.upstream import PayoutsClient, payouts
from services.gateway.webhooks import (
    WEBHOOK_REQUEST,
    WEBHOOK_RESPONSES,
    forward_webhook,
    read_webhook,
)

router = APIRouter(tags=["payouts"], responses=error_responses(503))

Payouts = Annotated[PayoutsClient, Depends(payouts)]
Payee = Annotated[Caller, Depends(require_roles("expert", "ambassador"))]


class ActivatePayout(RequestBody):
    country: str = Field(
        min_length=2,
        max_length=2,
        pattern=r"^[A-Za-z]{2}$",
        description="Where the bank account is: ISO 3166-1 alpha-2, one of the 23 payout "
        "countries (US, GB, AU, CA, DK, FI, IE, NO, SE, AT, BE, FR, DE, IT, JP, LU, NL, ES, "
        "BR, MX, PT, SG, CH).",
        examples=["DE"],
    )


class PayoutAccount(BaseModel):
    status: str = Field(
        description="not_activated, pending (onboarding at Stripe unfinished), active, or "
        "restricted (Stripe needs more details).",
        examples=["pending"],
    )
    country: str = Field(examples=["DE"])
    onboarding_url: str | None = Field(
        description="Stripe's onboarding page, while the account is not active: open it to "
        "finish setting up payout. It works once and for a short time."
    )

    @classmethod
    def from_proto(cls, account: payouts_pb2.PayoutAccount) -> PayoutAccount:
        return cls(
            status=account.status,
            country=account.country,
            onboarding_url=account.onboarding_url or None,
        )


class WeekEarnings(BaseModel):
    week: int
    week_start: str
    week_end: str
    earnings: MoneyAmount
    ambassador_shares: MoneyAmount
    sessions: int
    minutes: int


class CurrencyBalance(BaseModel):
    earned: MoneyAmount
    paid: MoneyAmount
    balance: MoneyAmount = Field(description="Earned and not yet transferred.")


class Transfer(BaseModel):
    week: int
    amount: MoneyAmount
    status: str = Field(description="sent, or failed (tried again with the next payout).")
    reason: str | None


class PayoutStatistics(BaseModel):
    weeks: list[WeekEarnings]
    balances: list[CurrencyBalance]
    transfers: list[Transfer]
    sessions: int
    minutes: int
    ratings: int
    average_rating: str | None = Field(examples=["4.67"])

    @classmethod
    def from_proto(cls, stats: payouts_pb2.PayoutStatistics) -> PayoutStatistics:
        money = MoneyAmount.from_proto
        average = stats.average_rating_hundredths
        return cls(
            weeks=[
                WeekEarnings(
                    week=w.week,
                    week_start=w.week_start,
                    week_end=w.week_end,
                    earnings=money(w.earnings),
                    ambassador_shares=money(w.ambassador_shares),
                    sessions=w.sessions,
                    minutes=w.minutes,
                )
                for w in stats.weeks
            ],
            balances=[
                CurrencyBalance(
                    earned=money(b.earned), paid=money(b.paid), balance=money(b.balance)
                )
                for b in stats.balances
            ],
            transfers=[
                Transfer(
                    week=t.week, amount=money(t.amount), status=t.status, reason=t.reason or None
                )
                for t in stats.transfers
            ],
            sessions=stats.sessions,
            minutes=stats.minutes,
            ratings=stats.ratings,
            average_rating=f"{average // 100}.{average % 100:02d}" if stats.ratings else None,
        )


@router.post(
    "/v1/me/payout",
    response_model=PayoutAccount,
    responses=error_responses(401, 403, 409, 422),
    summary="Activate payout: opens the caller's Stripe account and links to its onboarding",
)
async def activate_payout(
    body: ActivatePayout, caller: Payee, service: Payouts, request: Request
) -> PayoutAccount:
    public_url = request.app.state.settings.public_url
    answer = await service.ActivatePayout(
        payouts_pb2.ActivatePayoutRequest(
            account_id=caller.account_id,
            country=body.country,
            return_url=f"{public_url}/payout/return",
            refresh_url=f"{public_url}/payout/refresh",
        ),
    )
    return PayoutAccount.from_proto(answer)


@router.get(
    "/v1/me/payout",
    response_model=PayoutAccount,
    responses=error_responses(401, 403, 404, 422),
    summary="The caller's payout status",
)
async def get_payout(
    caller: Payee,
    service: Payouts,
    refresh: Annotated[
        bool, Query(description="Ask Stripe again (after coming back from onboarding).")
    ] = False,
) -> PayoutAccount:
    answer = await service.GetPayoutAccount(
        payouts_pb2.GetPayoutAccountRequest(account_id=caller.account_id, refresh=refresh),
    )
    return PayoutAccount.from_proto(answer)


@router.get(
    "/v1/me/payout/statistics",
    response_model=PayoutStatistics,
    responses=error_responses(401, 403, 409),
    summary="Earnings by week and currency, sessions, minutes, rating, balances, transfers",
)
async def payout_statistics(caller: Payee, service: Payouts) -> PayoutStatistics:
    answer = await service.GetPayoutStatistics(
        payouts_pb2.GetPayoutStatisticsRequest(account_id=caller.account_id),
    )
    return PayoutStatistics.from_proto(answer)


@router.post(
    "/v1/stripe/connect-webhooks",
    response_model=WebhookReceived,
    responses=WEBHOOK_RESPONSES,
    openapi_extra=WEBHOOK_REQUEST,
    summary="For Stripe: Connect events (connected accounts), forwarded unchanged to payouts",
)
async def stripe_connect_webhook(request: Request, service: Payouts) -> WebhookReceived:
    payload, signature = await read_webhook(request)
    await forward_webhook(
        service.HandleStripeWebhook(
            payouts_pb2.HandleStripeWebhookRequest(payload=payload, signature=signature)
        )
    )
    return WebhookReceived()
