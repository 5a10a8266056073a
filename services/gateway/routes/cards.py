"""The client's card on file (through Stripe) and Stripe's webhooks.

The card never passes through Headstore: the client confirms a SetupIntent with Stripe.js or
the app's SDK, then tells us the PaymentMethod id; billing checks its brand and region."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from contracts.billing.v1 import billing_pb2
from services.gateway.auth import Caller, current_caller, verified_caller
from services.gateway.schemas import (
    Card,
    SaveCard,
    SetupIntent,
    WebhookReceived,
    error_responses,
)
from services.gateway.upstream import BillingClient, billing
from services.gateway.webhooks import (
    WEBHOOK_REQUEST,
    WEBHOOK_RESPONSES,
    forward_webhook,
    read_webhook,
)

router = APIRouter(tags=["payments"], responses=error_responses(503))

Billing = Annotated[BillingClient, Depends(billing)]
SignedIn = Annotated[Caller, Depends(current_caller)]
Verified = Annotated[Caller, Depends(verified_caller)]


@router.post(
    "/v1/me/card/setup-intent",
    response_model=SetupIntent,
    responses=error_responses(401, 422),
    summary="Start saving a card: a Stripe SetupIntent for the caller to confirm with Stripe",
)
async def create_setup_intent(caller: Verified, service: Billing) -> SetupIntent:
    answer = await service.CreateSetupIntent(
        billing_pb2.CreateSetupIntentRequest(client_id=caller.account_id)
    )
    return SetupIntent.from_proto(answer)


@router.put(
    "/v1/me/card",
    response_model=Card,
    responses=error_responses(401, 404, 409, 422),
    summary="Save the caller's card: the PaymentMethod id Stripe gave for it",
)
async def save_card(body: SaveCard, caller: Verified, service: Billing) -> Card:
    answer = await service.SaveCard(
        billing_pb2.SaveCardRequest(
            client_id=caller.account_id, payment_method_id=body.payment_method_id
        ),
    )
    return Card.from_proto(answer)


@router.get(
    "/v1/me/card",
    response_model=Card,
    responses=error_responses(401, 404),
    summary="The caller's card on file: brand, last four digits, country, expiry",
)
async def get_card(caller: SignedIn, service: Billing) -> Card:
    answer = await service.GetCard(billing_pb2.GetCardRequest(client_id=caller.account_id))
    return Card.from_proto(answer)


@router.post(
    "/v1/stripe/webhooks",
    response_model=WebhookReceived,
    responses=WEBHOOK_RESPONSES,
    openapi_extra=WEBHOOK_REQUEST,
    summary="For Stripe: events about payments, forwarded unchanged to billing",
)
async def stripe_webhook(request: Request, service: Billing) -> WebhookReceived:
    payload, signature = await read_webhook(request)
    await forward_webhook(
        service.HandleStripeWebhook(
            billing_pb2.HandleStripeWebhookRequest(payload=payload, signature=signature)
        )
    )
    return WebhookReceived()
