"""Stripe's webhooks reach the gateway and go on, unparsed, to the service that checks their
signature: payments to billing, Connect (connected accounts) to payouts."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import Request

from headstore.errors import DomainError, InvalidInput
from services.gateway.schemas import ErrorBody

MAX_WEBHOOK_BYTES = 1024 * 1024
"""Stripe's event payloads are far smaller; anything bigger is not from Stripe."""


class PayloadTooLarge(DomainError):
    http_status = 413


# Documented by hand: the routes read the raw body and the header themselves, so that nothing
# parses (or re-encodes) what Stripe signed.
WEBHOOK_REQUEST = {
    "parameters": [
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "description": "Stripe's signature of the body",
            "schema": {"type": "string", "minLength": 1},
        }
    ],
    "requestBody": {
        "required": True,
        "description": "The event exactly as Stripe sent it; its signature covers these bytes.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}

WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The signature is missing or does not match the body"},
    413: {"model": ErrorBody, "description": "Too big to be a Stripe event"},
    503: {"model": ErrorBody, "description": "A service is not answering"},
}


async def read_webhook(request: Request) -> tuple[bytes, str]:
    """The body exactly as sent, and its Stripe-Signature header."""
    signature = request.headers.get("stripe-signature")
    if not signature:
        raise DomainError(
            "invalid_webhook", "The Stripe-Signature header is missing.", "Stripe-Signature"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _too_large()
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise _too_large()
    return payload, signature


Answer = TypeVar("Answer")


async def forward_webhook(handled: Awaitable[Answer]) -> Answer:
    """The service's answer to the webhook it was handed (its HandleStripeWebhook call)."""
    try:
        return await handled
    except DomainError as error:
        if isinstance(error, InvalidInput):
            # The service refused the event (a bad signature, or not an event): for Stripe
            # that is a 400, not the 422 of a form a person filled in.
            raise DomainError(error.code, error.message, error.field) from error
        raise


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        "payload_too_large", f"A webhook can be at most {MAX_WEBHOOK_BYTES} bytes.", None
    )
