"""The client's card on file (through Stripe) and Stripe's webhooks.

The card never passes through Headstore: the client confirms a SetupIntent with Stripe.js or
the app's SDK, then tells us the PaymentMethod id; billing checks its brand and region."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from headstore.billing.v1 import billing_pb2
from headstore.errors import DomainError, InvalidInput
from services.gateway.auth import Caller, current_caller
from services.gateway.schemas import (
    Card,
    ErrorBody,
    SaveCard,
    SetupIntent,
    WebhookReceived,
    error_responses,
)
from services.gateway.upstream import Upstream, billing

router = APIRouter(tags=["payments"], responses=error_responses(503))

Billing = Annotated[Upstream, Depends(billing)]
SignedIn = Annotated[Caller, Depends(current_caller)]

MAX_WEBHOOK_BYTES = 1024 * 1024
"""Stripe's event payloads are far smaller; anything bigger is not from Stripe."""


class PayloadTooLarge(DomainError):
    http_status = 413


@router.post(
    "/v1/me/card/setup-intent",
    response_model=SetupIntent,
    responses=error_responses(401, 422),
    summary="Start saving a card: a Stripe SetupIntent for the caller to confirm with Stripe",
)
async def create_setup_intent(caller: SignedIn, service: Billing) -> SetupIntent:
    answer = await service.call(
        "CreateSetupIntent", billing_pb2.CreateSetupIntentRequest(client_id=caller.account_id)
    )
    return SetupIntent.from_proto(answer)


@router.put(
    "/v1/me/card",
    response_model=Card,
    responses=error_responses(401, 404, 409, 422),
    summary="Save the caller's card: the PaymentMethod id Stripe gave for it",
)
async def save_card(body: SaveCard, caller: SignedIn, service: Billing) -> Card:
    answer = await service.call(
        "SaveCard",
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
    answer = await service.call("GetCard", billing_pb2.GetCardRequest(client_id=caller.account_id))
    return Card.from_proto(answer)


# Documented by hand: the route reads the raw body and the header itself, so that nothing
# parses (or re-encodes) what Stripe signed.
WEBHOOK_REQUEST = {
    "parameters": [
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "description": "Stripe's signature of the body",
            "schema": {"type": "string"},
        }
    ],
    "requestBody": {
        "required": True,
        "description": "The event exactly as Stripe sent it; its signature covers these bytes.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


@router.post(
    "/v1/stripe/webhooks",
    response_model=WebhookReceived,
    responses={
        400: {
            "model": ErrorBody,
            "description": "The signature is missing or does not match the body",
        },
        413: {"model": ErrorBody, "description": "Too big to be a Stripe event"},
    },
    openapi_extra=WEBHOOK_REQUEST,
    summary="For Stripe: events about payments, forwarded unchanged to billing",
)
async def stripe_webhook(request: Request, service: Billing) -> WebhookReceived:
    stripe_signature = request.headers.get("stripe-signature")
    if not stripe_signature:
        raise DomainError(
            "invalid_webhook", "The Stripe-Signature header is missing.", "Stripe-Signature"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _too_large()
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise _too_large()
    try:
        await service.call(
            "HandleStripeWebhook",
            billing_pb2.HandleStripeWebhookRequest(payload=payload, signature=stripe_signature),
        )
    except DomainError as error:
        if isinstance(error, InvalidInput):
            # Billing refused the event (a bad signature, or not an event): for Stripe that is
            # a 400, not the 422 of a form a person filled in.
            raise DomainError(error.code, error.message, error.field) from error
        raise
    return WebhookReceived()


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        "payload_too_large", f"A webhook can be at most {MAX_WEBHOOK_BYTES} bytes.", None
    )
