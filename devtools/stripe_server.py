"""The local Stripe-compatible server for development and tests: PyPI `localstripe`, extended.

`localstripe` 1.15.10 covers customers, payment methods and payment intents. This module installs
what Headstore needs on top of it, before serving its aiohttp app on the loopback interface only:

- idempotent POST requests as Stripe does them (first response replayed for 24 hours, a reuse with
  other parameters is an `idempotency_error`, concurrent requests with one key run once);
- payment-intent fixes: `amount_capturable`, `amount_received`, `amount_captured` on the charge, a
  partial capture booked at the captured amount, Stripe's errors for over-capture and for acting on
  an intent in the wrong state, `canceled_at` and `cancellation_reason`;
- cards: brand, country and funding of Stripe's test numbers (15- and 14-digit numbers and 4-digit
  CVCs accepted), declines at charge time with Stripe's decline codes, `pm_card_*` test ids;
- Connect: accounts (countries and the recipient service agreement checked), account links,
  onboarding in Stripe's two steps (optionally announced out of order), transfers with their
  balance transactions and reversals, webhook endpoints created through the API (signed
  deliveries), a connected account's failed payout;
- money: Stripe's fee on each charge, a settlement currency with a fixed rate table, funds pending
  then available, a balance that transfers cannot overdraw (`balance_insufficient`), refunds,
  disputes (the dispute test card), holds expiring after 7 days, a clock tests move;
- the network: a median latency and Stripe's rate limit (429), changeable while it runs;
- the parameters of Stripe's published API: any other is refused (`parameter_unknown`).

`docs/stripe-stand-in.md` says what is faithful and what is simplified. Everything is in memory:
localstripe's pickle file under /tmp is never read nor written.

Run it with `python -m devtools stripe --port N` or `python -m devtools.stripe_server --port N`;
`--webhook URL` and `--connect-webhook URL` (repeatable) register endpoints for every event at
start-up, as configuring them in Stripe's dashboard does, signed with `STRIPE_WEBHOOK_SECRET` and
`STRIPE_CONNECT_WEBHOOK_SECRET`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import decimal
import hashlib
import heapq
import hmac
import ipaddress
import json
import logging
import math
import os
import random
import re
import secrets
import signal
import sys
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from headstore.stripe_api import (
    DEFAULT_CONNECT_WEBHOOK_SECRET,
    DEFAULT_WEBHOOK_SECRET,
    StripeSettings,
)

with warnings.catch_warnings():
    # localstripe registers plain functions as handlers, which aiohttp deprecates.
    warnings.simplefilter("ignore", DeprecationWarning)
    from localstripe import resources as ls
    from localstripe import server as ls_server
    from localstripe import webhooks as ls_webhooks
    from localstripe.errors import UserError

log = logging.getLogger("devtools.stripe_server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
ACCOUNT_LINK_TTL_SECONDS = 300
WEBHOOK_DELAY_SECONDS = 0.2
IDEMPOTENCY_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, dumps=lambda x: json.dumps(x, indent=2, sort_keys=True) + "\n"
    )


@dataclass
class Clock:
    """The stand-in's clock: real time plus an offset that `POST /_config/clock` advances, so a
    test can let days pass (funds becoming available, holds expiring) in a moment. localstripe
    reads it too (`created` of every object); webhook signatures use real time, as the SDK
    checks them against its own."""

    offset: float = 0.0

    def time(self) -> float:
        return time.time() + self.offset


clock = Clock()


def _now() -> int:
    return int(clock.time())


def _unknown(params: dict[str, Any]) -> None:
    if params:
        raise UserError(400, f"Received unknown parameter: {sorted(params)[0]}")


def _no_such(kind: str, id: str, param: str = "id") -> UserError:
    return UserError(404, f"No such {kind}: '{id}'", {"code": "resource_missing", "param": param})


def _as_int(value: Any, param: str, minimum: int = 0) -> int:
    value = ls.try_convert_to_int(value)
    if type(value) is not int or value < minimum:
        raise UserError(
            400,
            f"Invalid {'positive ' if minimum > 0 else ''}integer: {value}",
            {"code": "parameter_invalid_integer", "param": param},
        )
    return value


def _as_bool(value: Any, param: str) -> bool:
    value = ls.try_convert_to_bool(value)
    if type(value) is not bool:
        raise UserError(400, f"Invalid boolean: {value}", {"param": param})
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise UserError(400, "Invalid object", {"param": "metadata"})
    return {str(k): str(v) for k, v in value.items() if v != ""}


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _paginate(
    url: str, items: list[Any], limit: Any, starting_after: Any, ending_before: Any = None
) -> Any:
    """A localstripe List of `items` (already newest first), with Stripe's cursor parameters."""
    li = ls.List(url, limit=limit, starting_after=starting_after)
    if ending_before is not None:
        ids = [getattr(i, "id", None) for i in items]
        if ending_before in ids:
            end = ids.index(ending_before)
            items = items[max(0, end - li._limit) : end]
    li._list = items
    return li


def _newest_first(cls: Any) -> list[Any]:
    objects = [v for k, v in ls.store.items() if k.startswith(cls.object + ":")]
    objects.reverse()  # insertion order reversed, then a stable sort on the creation second
    objects.sort(key=lambda o: o.created, reverse=True)
    return objects


def _created_filter(created: Any) -> Callable[[Any], bool]:
    if created is None:
        return lambda obj: True
    if isinstance(created, str):
        exact = _as_int(created, "created")
        return lambda obj: obj.created == exact
    if not isinstance(created, dict) or not set(created) <= {"gt", "gte", "lt", "lte"}:
        raise UserError(400, "Invalid created filter", {"param": "created"})
    bounds = {k: _as_int(v, f"created[{k}]") for k, v in created.items()}
    checks = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return lambda obj: all(checks[k](obj.created, v) for k, v in bounds.items())


# --- Idempotency -------------------------------------------------------------------------------


@dataclass
class SavedResponse:
    fingerprint: str
    status: int
    body: bytes
    content_type: str
    request_id: str
    saved_at: float


@dataclass
class IdempotencyCache:
    """First responses by (account, key), kept `ttl` seconds of `clock` time; a lock per key."""

    ttl: float = IDEMPOTENCY_TTL_SECONDS
    clock: Callable[[], float] = time.time
    _saved: dict[tuple[str, str], SavedResponse] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def get(self, key: tuple[str, str]) -> SavedResponse | None:
        self._prune()
        saved = self._saved.get(key)
        if saved is not None and saved.saved_at <= self.clock() - self.ttl:
            self._forget(key)  # expired, behind a response saved with an earlier time
            return None
        return saved

    def put(self, key: tuple[str, str], saved: SavedResponse) -> None:
        self._saved.pop(key, None)
        self._saved[key] = saved  # the newest last: the dict keeps them in the order saved

    def _prune(self) -> None:
        """Forgets expired responses from the oldest saved, stopping at the first one kept, so
        a request costs the same however many keys are kept."""
        oldest = self.clock() - self.ttl
        while self._saved:
            key, saved = next(iter(self._saved.items()))
            if saved.saved_at > oldest:
                return
            self._forget(key)

    def _forget(self, key: tuple[str, str]) -> None:
        del self._saved[key]
        lock = self._locks.get(key)
        if lock is not None and not lock.locked():
            del self._locks[key]


idempotency = IdempotencyCache()


def request_fingerprint(method: str, path: str, query: str, body: bytes, content_type: str) -> str:
    """What must be equal for a key to be reused: method, path and parameters (in any order)."""
    if content_type.startswith("application/json"):
        try:
            params = json.dumps(json.loads(body or b"null"), sort_keys=True)
        except ValueError:
            params = body.decode("utf-8", "replace")
    else:
        params = json.dumps(sorted(parse_qsl(body.decode("utf-8", "replace"), True)))
    canonical = json.dumps([method, path, sorted(parse_qsl(query, True)), params])
    return hashlib.sha256(canonical.encode()).hexdigest()


def _saved_as_response(saved: SavedResponse) -> web.Response:
    response = web.Response(status=saved.status, body=saved.body)
    response.content_type = saved.content_type
    response.headers["Idempotent-Replayed"] = "true"
    response.headers["Original-Request"] = saved.request_id
    response.headers["Request-Id"] = _request_id()
    return response


def _request_id() -> str:
    return "req_" + ls.random_id(14)


def _stores(status: int) -> bool:
    # Stripe keeps the result once the endpoint began to execute, success or failure (a card
    # decline, a server error); a request refused by validation (400, 404) is not kept.
    return status < 400 or status == 402 or status >= 500


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await _call(handler, request)
    if len(key) > 255:
        raise UserError(400, "Idempotency keys can be at most 255 characters long.")
    scope = (request.headers.get("Stripe-Account", ""), key)
    body = await request.read()
    fingerprint = request_fingerprint(
        request.method, request.path, request.query_string, body, request.content_type
    )
    async with idempotency.lock(scope):
        saved = idempotency.get(scope)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                return json_response(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": IDEMPOTENCY_MISMATCH.format(key=key),
                        }
                    },
                    status=400,
                )
            return _saved_as_response(saved)
        response = await _call(handler, request)
        if _stores(response.status) and isinstance(response, web.Response):
            raw = response.body
            if isinstance(raw, bytes):
                request_id = response.headers.setdefault("Request-Id", _request_id())
                idempotency.put(
                    scope,
                    SavedResponse(
                        fingerprint,
                        response.status,
                        raw,
                        response.content_type,
                        request_id,
                        idempotency.clock(),
                    ),
                )
        return response


async def _call(handler: Handler, request: web.Request) -> web.StreamResponse:
    route = getattr(request.match_info, "route", None)
    resource = getattr(route, "resource", None)
    canonical = getattr(resource, "canonical", None)
    handler = _OVERRIDES.get((request.method, canonical), handler) if canonical else handler
    try:
        return await handler(request)
    except UserError as e:
        return _user_error_response(e)


def _user_error_response(e: UserError) -> web.Response:
    if e.code == 402:
        e.body["error"]["type"] = "card_error"
    return e.to_response()


@web.middleware
async def stripe_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stripe's error shapes: card errors typed `card_error`, unknown URLs answered in JSON."""
    try:
        response = await handler(request)
    except UserError as e:
        response = _user_error_response(e)
    except web.HTTPNotFound:
        response = json_response(
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Unrecognized request URL ({request.method}: {request.path}).",
                }
            },
            status=404,
        )
    except web.HTTPMethodNotAllowed:
        response = json_response(
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Unrecognized request URL ({request.method}: {request.path}).",
                }
            },
            status=404,
        )
    if isinstance(response, web.Response) and "Request-Id" not in response.headers:
        response.headers["Request-Id"] = _request_id()
    return response


# --- Parameters of the current API ------------------------------------------------------------

SPEC_FILE = Path(__file__).resolve().parent / "stripe_openapi" / "shapes.json"


def _route_key(method: str, template: str) -> tuple[str, str]:
    """("POST", "/v1/payment_intents/{}/capture") for a route or spec path template."""
    return method.upper(), re.sub(r"\{[^}]*\}", "{}", template)


def _load_parameters() -> dict[tuple[str, str], frozenset[str]]:
    requests = json.loads(SPEC_FILE.read_text()).get("requests", {})
    allowed = {}
    for endpoint, names in requests.items():
        method, template = endpoint.split(" ", 1)
        allowed[_route_key(method, template)] = frozenset(names)
    return allowed


STRIPE_JS_PARAMETERS = frozenset({"key", "payment_user_agent", "referrer"})
"""What Stripe.js (and localstripe's stand-in for it) adds to its requests, unlisted in the spec
and taken by Stripe (localstripe drops them before handling a request)."""

PARAMETERS: dict[tuple[str, str], frozenset[str]] = {}
"""The parameters each endpoint Headstore calls takes, from Stripe's published spec
(devtools/stripe_openapi/shapes.json, `requests`, made by scripts/stripe_shapes.py)."""


async def _sent_parameters(request: web.Request) -> list[str]:
    """The top-level names of the parameters of `request` (`card[number]` is `card`)."""
    if request.method == "GET":
        keys = list(request.query.keys())
    elif request.content_type.startswith("application/json"):
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return []
        keys = list(body) if isinstance(body, dict) else []
    else:
        keys = [k for k, _ in parse_qsl((await request.read()).decode("utf-8", "replace"), True)]
    return [k.split("[", 1)[0] for k in keys]


@web.middleware
async def parameters_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A parameter the endpoint does not take is refused as Stripe refuses it."""
    route = getattr(request.match_info, "route", None)
    canonical = getattr(getattr(route, "resource", None), "canonical", None)
    allowed = PARAMETERS.get(_route_key(request.method, canonical)) if canonical else None
    if allowed is not None:
        for name in await _sent_parameters(request):
            if name not in allowed and name not in STRIPE_JS_PARAMETERS:
                raise UserError(
                    400,
                    f"Received unknown parameter: {name}",
                    {
                        "code": "parameter_unknown",
                        "param": name,
                        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
                    },
                )
    return await handler(request)


# --- Cards -------------------------------------------------------------------------------------

# Stripe's test numbers: "each basic test card's billing country is set to U.S."; the
# international ones (4000 00CC C... with CCC the ISO 3166 numeric code) carry their country.
TEST_CARDS: dict[str, tuple[str, str, str]] = {
    "4242424242424242": ("visa", "US", "credit"),
    "4000000000000077": ("visa", "US", "credit"),  # charges available at once
    "4000000000000259": ("visa", "US", "credit"),  # charges disputed (fraudulent)
    "4000056655665556": ("visa", "US", "debit"),
    "5555555555554444": ("mastercard", "US", "credit"),
    "2223003122003222": ("mastercard", "US", "credit"),
    "5200828282828210": ("mastercard", "US", "debit"),
    "5105105105105100": ("mastercard", "US", "prepaid"),
    "378282246310005": ("amex", "US", "credit"),
    "371449635398431": ("amex", "US", "credit"),
    "6011111111111117": ("discover", "US", "credit"),
    "6011000990139424": ("discover", "US", "credit"),
    "6011981111111113": ("discover", "US", "debit"),
    "3056930009020004": ("diners", "US", "credit"),
    "36227206271667": ("diners", "US", "credit"),
    "3566002020360505": ("jcb", "US", "credit"),
    "6200000000000005": ("unionpay", "US", "credit"),
    "6200000000000047": ("unionpay", "US", "debit"),
    "4000000760000002": ("visa", "BR", "credit"),
    "4000001240000000": ("visa", "CA", "credit"),
    "4000004840008001": ("visa", "MX", "credit"),
    "4000000400000008": ("visa", "AT", "credit"),
    "4000000560000004": ("visa", "BE", "credit"),
    "4000002080000001": ("visa", "DK", "credit"),
    "4000002460000001": ("visa", "FI", "credit"),
    "4000002500000003": ("visa", "FR", "credit"),
    "4000002760000016": ("visa", "DE", "credit"),
    "4000003720000005": ("visa", "IE", "credit"),
    "4000003800000008": ("visa", "IT", "credit"),
    "4000005280000002": ("visa", "NL", "credit"),
    "4000005780000007": ("visa", "NO", "credit"),
    "4000007240000007": ("visa", "ES", "credit"),
    "4000007520000008": ("visa", "SE", "credit"),
    "4000007560000009": ("visa", "CH", "credit"),
    "4000008260000000": ("visa", "GB", "credit"),
    "5555558265554449": ("mastercard", "GB", "credit"),
    "4000000360000006": ("visa", "AU", "credit"),
    "4000003920000003": ("visa", "JP", "credit"),
}

# Test payment-method ids (`pm_card_*`) and the numbers behind them.
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_bypassPending": "4000000000000077",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_mastercard_debit": "5200828282828210",
    "pm_card_mastercard_prepaid": "5105105105105100",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_diners": "3056930009020004",
    "pm_card_jcb": "3566002020360505",
    "pm_card_unionpay": "6200000000000005",
    "pm_card_us": "4242424242424242",
    "pm_card_br": "4000000760000002",
    "pm_card_ca": "4000001240000000",
    "pm_card_mx": "4000004840008001",
    "pm_card_at": "4000000400000008",
    "pm_card_be": "4000000560000004",
    "pm_card_dk": "4000002080000001",
    "pm_card_fi": "4000002460000001",
    "pm_card_fr": "4000002500000003",
    "pm_card_de": "4000002760000016",
    "pm_card_ie": "4000003720000005",
    "pm_card_it": "4000003800000008",
    "pm_card_nl": "4000005280000002",
    "pm_card_no": "4000005780000007",
    "pm_card_es": "4000007240000007",
    "pm_card_se": "4000007520000008",
    "pm_card_ch": "4000007560000009",
    "pm_card_gb": "4000008260000000",
    "pm_card_au": "4000000360000006",
    "pm_card_jp": "4000003920000003",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_visa_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeCustomerFail": "4000000000000341",
}

# Numbers whose charges fail: (error code, decline code, message), as Stripe answers them.
DECLINES: dict[str, tuple[str, str, str]] = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": (
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    "4000000000000119": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}


def luhn_valid(number: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(number)):
        d = int(digit) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def card_details(number: str) -> tuple[str, str, str]:
    """(brand, country, funding) of a card number: Stripe's test table, else the number's range."""
    if number in TEST_CARDS:
        return TEST_CARDS[number]
    prefix2, prefix4 = int(number[:2]), int(number[:4])
    if number[0] == "4":
        brand = "visa"
    elif 51 <= prefix2 <= 55 or 2221 <= prefix4 <= 2720:
        brand = "mastercard"
    elif prefix2 in (34, 37):
        brand = "amex"
    elif number.startswith("6011") or prefix2 == 65 or 644 <= int(number[:3]) <= 649:
        brand = "discover"
    elif 3528 <= prefix4 <= 3589:
        brand = "jcb"
    elif prefix2 in (36, 38, 39) or 300 <= int(number[:3]) <= 305:
        brand = "diners"
    elif prefix2 == 62:
        brand = "unionpay"
    else:
        brand = "unknown"
    return brand, "US", "credit"


_original_pm_init = ls.PaymentMethod.__init__
_original_canonical = ls.PaymentMethod._try_get_canonical_test_article.__func__
_original_charging_declined = ls.PaymentMethod._charging_is_declined


def _payment_method_init(self: Any, type: Any = None, card: Any = None, **kwargs: Any) -> None:
    if type != "card" or not isinstance(card, dict) or not isinstance(card.get("number"), str):
        _original_pm_init(self, type=type, card=card, **kwargs)
        return
    number = card["number"].replace(" ", "")
    if not (number.isdigit() and 13 <= len(number) <= 19 and luhn_valid(number)):
        raise UserError(
            402,
            "Your card number is incorrect.",
            {"code": "incorrect_number", "param": "card[number]"},
        )
    cvc = card.get("cvc")
    if cvc is not None and not (isinstance(cvc, str) and cvc.isdigit() and len(cvc) in (3, 4)):
        raise UserError(
            402,
            "Your card's security code is invalid.",
            {"code": "invalid_cvc", "param": "card[cvc]"},
        )
    # localstripe takes 16 digits and a 3-digit CVC only: validate here, then give it stand-ins.
    _original_pm_init(
        self, type=type, card={**card, "number": "4242424242424242", "cvc": "123"}, **kwargs
    )
    self._card_number = number
    brand, country, funding = card_details(number)
    self.card.update(
        brand=brand,
        country=country,
        funding=funding,
        last4=number[-4:],
        fingerprint=ls.fingerprint(number),
        display_brand={"amex": "american_express", "diners": "diners_club"}.get(brand, brand),
        networks={"available": [brand], "preferred": None},
        checks={
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass" if cvc else None,
        },
        generated_from=None,
        wallet=None,
    )


def _canonical_test_payment_method(cls: Any, id: str) -> Any:
    number = TEST_PAYMENT_METHODS.get(id)
    if number is None:
        return _original_canonical(cls, id)
    cvc = "1234" if number.startswith(("34", "37")) else "123"
    return ls.PaymentMethod(
        type="card", card={"number": number, "exp_month": "12", "exp_year": "2034", "cvc": cvc}
    )


def _charging_is_declined(self: Any) -> bool:
    # Stripe declines the charge for every decline test number (localstripe: only at attach).
    return bool(_original_charging_declined(self) or self._attaching_is_declined())


# --- Charges and payment intents ----------------------------------------------------------------

_original_capture = ls.Charge._capture
_original_pi_export = ls.PaymentIntent._export
_original_pi_create = ls.PaymentIntent._api_create.__func__
_original_last_payment_error = ls.PaymentIntent.last_payment_error


def _set_auth_failure(self: Any) -> None:
    number = getattr(ls.PaymentMethod._api_retrieve(self.payment_method), "_card_number", "")
    code, decline_code, message = DECLINES.get(
        number, ("card_declined", "generic_decline", "Your card was declined.")
    )
    self.status = "failed"
    self.failure_code = code
    self.failure_message = message
    self._decline_code = decline_code
    self.outcome = {
        "network_status": "declined_by_network",
        "reason": decline_code,
        "risk_level": "normal",
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def _charge_raise_failure(self: Any) -> None:
    raise UserError(402, self.failure_message, _card_error_contents(self))


def _card_error_contents(charge: Any) -> dict[str, Any]:
    return {
        "code": charge.failure_code,
        "decline_code": getattr(charge, "_decline_code", None),
        "charge": charge.id,
        "doc_url": f"https://stripe.com/docs/error-codes/{charge.failure_code.replace('_', '-')}",
    }


def _charge_capture(self: Any, amount: Any, on_success: Callable[[], None] | None = None) -> None:
    """Capture `amount` (default all) of an authorisation, booked at the captured amount."""
    if self._is_async_payment_method():
        _original_capture(self, amount, on_success)
        return
    if self.captured or self.status != "succeeded":
        raise UserError(
            400,
            "This charge has already been captured or cannot be captured.",
            {"code": "charge_already_captured"},
        )
    amount = self.amount if amount is None else _as_int(amount, "amount_to_capture", 1)
    if amount > self.amount:
        raise UserError(
            400,
            "The payment could not be captured because the requested capture amount is greater "
            "than the amount you can capture for this charge.",
            {"code": "amount_too_large", "param": "amount_to_capture"},
        )
    txn = ls.BalanceTransaction(
        amount=amount,
        currency=self.currency,
        description=self.description,
        reporting_category="charge",
        source=self.id,
        type="charge",
    )
    self.balance_transaction = txn.id
    self.captured = True
    self._amount_captured = amount
    if on_success:
        on_success()


def _charge_amount_captured(self: Any) -> int:
    if not self.captured or self.status != "succeeded":
        return 0
    return int(getattr(self, "_amount_captured", self.amount))


def _pi_amount_capturable(self: Any) -> int:
    return int(self.latest_charge.amount) if self.status == "requires_capture" else 0


def _pi_amount_received(self: Any) -> int:
    if self.status != "succeeded" or self.latest_charge is None:
        return 0
    return int(self.latest_charge.amount_captured)


def _pi_last_payment_error(self: Any) -> Any:
    error = _original_last_payment_error.fget(self)
    charge = self.latest_charge
    if error and charge is not None and charge.status == "failed":
        error = {
            **error,
            "type": "card_error",
            "decline_code": getattr(charge, "_decline_code", None),
        }
        error["payment_method"] = ls.PaymentMethod._api_retrieve(charge.payment_method)._export()
    return error


def _pi_report_failure(self: Any) -> None:
    ls.schedule_webhook(ls.Event("payment_intent.payment_failed", self))
    if self.invoice:
        ls.Invoice._api_retrieve(self.invoice)._on_payment_failure_now()
    charge = self.latest_charge
    contents = _card_error_contents(charge)
    contents["payment_intent"] = self._export()
    raise UserError(402, charge.failure_message, contents)


_original_pi_on_success = ls.PaymentIntent._on_success


def _pi_on_success(self: Any) -> None:
    _original_pi_on_success(self)
    _open_dispute_if_disputed(self.latest_charge)


def _pi_export(self: Any, expand: Any = None) -> dict[str, Any]:
    exported: dict[str, Any] = _original_pi_export(self, expand=expand)
    # Stripe returns the charge's id unless `latest_charge` is expanded, and has no `charges`
    # list since API version 2022-11-15.
    exported.pop("charges", None)
    charge = exported.get("latest_charge")
    if isinstance(charge, dict) and "latest_charge" not in (expand or []):
        exported["latest_charge"] = charge["id"]
    return exported


# -- Stripe's shapes (tests/chassis/integration/test_stripe_shapes.py) --------------------------
# localstripe answers in older API versions' shapes in places: fields Stripe has since renamed or
# never had on the object are dropped or renamed, and required ones it lacks are filled in.

_EMPTY_BILLING_DETAILS: dict[str, Any] = {
    "address": {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    },
    "email": None,
    "name": None,
    "phone": None,
}


def _reshaped(
    export: Callable[..., dict[str, Any]],
    *,
    drop: tuple[str, ...] = (),
    rename: dict[str, str] | None = None,
    fill: Callable[[Any, dict[str, Any]], None] | None = None,
) -> Callable[..., dict[str, Any]]:
    def _export(self: Any, expand: Any = None) -> dict[str, Any]:
        exported = export(self, expand=expand)
        for old, new in (rename or {}).items():
            if old in exported:
                exported[new] = exported.pop(old)
        for name in drop:
            exported.pop(name, None)
        if fill is not None:
            fill(self, exported)
        return exported

    return _export


def _fill_payment_intent(intent: Any, exported: dict[str, Any]) -> None:
    exported.setdefault("confirmation_method", "automatic")
    exported.setdefault("payment_method_types", ["card"])


def _fill_charge(charge: Any, exported: dict[str, Any]) -> None:
    exported.setdefault("disputed", False)  # no disputes here
    details = copy.deepcopy(_EMPTY_BILLING_DETAILS)
    try:
        method = ls.PaymentMethod._api_retrieve(charge.payment_method)
        _merge(details, getattr(method, "billing_details", None) or {})
    except Exception:  # a legacy source (card, token): no billing details
        pass
    exported.setdefault("billing_details", details)


_original_event_init = ls.Event.__init__


def _event_init(self: Any, type: Any, data: Any) -> None:
    _original_event_init(self, type, data)
    self.pending_webhooks = len(ls_webhooks._webhooks)
    self.request = {"id": None, "idempotency_key": None}


def _install_shapes() -> None:
    # Renamed `balance` (API 2019-10-17); tax ids replaced `business_vat_id`.
    ls.Customer._export = _reshaped(
        ls.Customer._export, rename={"account_balance": "balance"}, drop=("business_vat_id",)
    )
    ls.PaymentIntent._export = _reshaped(_pi_export, fill=_fill_payment_intent)
    ls.Charge._export = _reshaped(ls.Charge._export, fill=_fill_charge)
    # Neither has `livemode` at Stripe; `date` was the refund's `created`.
    ls.Refund._export = _reshaped(ls.Refund._export, drop=("date", "livemode"))
    ls.BalanceTransaction._export = _reshaped(ls.BalanceTransaction._export, drop=("livemode",))
    ls.Event.__init__ = _event_init


MINIMUM_CHARGE_MINOR = {
    "usd": 50,
    "aud": 50,
    "cad": 50,
    "eur": 50,
    "chf": 50,
    "gbp": 30,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "jpy": 50,
}
"""Stripe's smallest charge per currency (docs.stripe.com/currencies, "Minimum and maximum
charge amounts"), in minor units, for the currencies the platform's regions pay in; Stripe
refuses a PaymentIntent below it with `amount_too_small`."""


def _check_minimum_charge(data: dict[str, Any]) -> None:
    currency = data.get("currency")
    if not isinstance(currency, str):
        return
    minimum = MINIMUM_CHARGE_MINOR.get(currency)
    if minimum is None:
        return
    try:
        amount = int(data.get("amount"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return  # localstripe refuses what is not an amount
    if amount < minimum:
        raise UserError(
            400,
            f"Amount must be at least {minimum / (1 if currency == 'jpy' else 100):g} {currency}",
            {"code": "amount_too_small", "param": "amount"},
        )
    # Stripe also wants the amount, converted into the settlement currency, to reach that
    # currency's minimum.
    target = settlement.settles_in(currency)
    floor = MINIMUM_CHARGE_MINOR.get(target)
    if target != currency and floor is not None:
        converted = amount * settlement.rate(currency, target)
        if converted < floor:
            raise UserError(
                400,
                f"Amount must convert to at least {_minor(floor, target)}. "
                f"{_minor(amount, currency)} converts to approximately "
                f"{_minor(_round_half_up(converted), target)}.",
                {"code": "amount_too_small", "param": "amount"},
            )


ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx"}
ZERO_DECIMAL |= {"vnd", "vuv", "xaf", "xof", "xpf"}


def _minor(amount: int, currency: str) -> str:
    """An amount in minor units, as people read it: 0.38 USD."""
    if currency in ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount / 100:.2f} {currency.upper()}"


def _pi_create(cls: Any, **data: Any) -> Any:
    # Stripe takes a description; localstripe refuses it. `off_session` asks Stripe not to
    # expect the customer present; the stand-in never asks for authentication anyway.
    description = data.pop("description", None)
    data.pop("off_session", None)
    _check_minimum_charge(data)
    # A `pm_card_*` test id becomes a real payment method, as on Stripe.
    pm = data.get("payment_method")
    if isinstance(pm, str) and pm in TEST_PAYMENT_METHODS:
        data["payment_method"] = ls.PaymentMethod._api_retrieve(pm).id
    intent = _original_pi_create(cls, **data)
    intent.description = description
    return intent


def _unexpected_state(obj: Any, action: str, allowed: tuple[str, ...]) -> UserError:
    return UserError(
        400,
        f"This PaymentIntent could not be {action} because it has a status of {obj.status}. "
        f"Only a PaymentIntent with one of the following statuses may be {action}: "
        f"{', '.join(allowed)}.",
        {"code": "payment_intent_unexpected_state", "payment_intent": obj._export()},
    )


CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


async def _pi_cancel_handler(request: web.Request) -> web.Response:
    data = await ls_server.get_post_data(request) or {}
    expand = data.pop("expand", None)
    reason = data.pop("cancellation_reason", None)
    _unknown(data)
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise UserError(400, f"Invalid cancellation_reason: {reason}", {"param": "reason"})
    obj = _retrieve(ls.PaymentIntent, request.match_info["id"], "payment_intent")
    allowed: tuple[str, ...] = (
        "requires_payment_method",
        "requires_capture",
        "requires_confirmation",
        "requires_action",
        "processing",
    )
    if obj.status not in allowed:
        raise _unexpected_state(obj, "canceled", allowed)
    obj._canceled = True
    obj.next_action = None
    obj.canceled_at = _now()
    obj.cancellation_reason = reason
    ls.schedule_webhook(ls.Event("payment_intent.canceled", obj))
    return json_response(obj._export(expand=expand))


async def _pi_capture_handler(request: web.Request) -> web.Response:
    data = await ls_server.get_post_data(request) or {}
    expand = data.pop("expand", None)
    amount_to_capture = data.pop("amount_to_capture", None)
    metadata = data.pop("metadata", None)
    _unknown(data)
    obj = _retrieve(ls.PaymentIntent, request.match_info["id"], "payment_intent")
    if holds.is_due(obj):
        expire_hold(obj)
    if obj.status != "requires_capture":
        raise _unexpected_state(obj, "captured", ("requires_capture",))
    obj.latest_charge._capture(amount=amount_to_capture, on_success=obj._on_success)
    if metadata:
        obj.metadata = {**obj.metadata, **_metadata(metadata)}
    return json_response(obj._export(expand=expand))


def _retrieve(cls: Any, id: str, kind: str) -> Any:
    obj = ls.store.get(cls.object + ":" + id)
    if obj is None:
        raise _no_such(kind, id)
    return obj


# --- Balance ------------------------------------------------------------------------------------

USD_PER_UNIT = {"usd": 1.0, "eur": 1.08, "gbp": 1.27, "cad": 0.73, "chf": 1.13}
"""The fixed exchange-rate table (US dollars per unit of each currency; `--exchange-rate`
changes it): a charge in one of these currencies that the platform does not settle in is
converted into its settlement currency at usd_per[charge] / usd_per[settlement]."""

BYPASS_PENDING_CARD = "4000000000000077"
"""Stripe's test card whose charges are available at once ("bypass pending balance")."""


def _round_half_up(value: float) -> int:
    return int(decimal.Decimal(repr(value)).quantize(0, decimal.ROUND_HALF_UP))


@dataclass
class Settlement:
    """How captured funds reach the platform's balance: in which currencies it settles (the
    first takes every charge in a currency of the rate table it does not settle in, converted;
    further ones are held as they are, as with Stripe's multi-currency settlement), Stripe's fee
    on each charge (percent of the settled amount plus a fixed part in the settlement
    currency's minor units; Stripe's standard US card pricing: 2.9% + 30), and how long a
    charge's funds stay pending (`available_after` seconds; Stripe: days, 0 here by default)."""

    currencies: tuple[str, ...] = ("usd",)
    fee_percent: float = 2.9
    fee_fixed: int = 30
    dispute_fee: int = 1500
    available_after: float = 0.0
    usd_per_unit: dict[str, float] = field(default_factory=lambda: dict(USD_PER_UNIT))

    @property
    def currency(self) -> str:
        return self.currencies[0]

    def settles_in(self, currency: str) -> str:
        if currency in self.currencies or currency not in self.usd_per_unit:
            return currency
        return self.currency

    def rate(self, source: str, target: str) -> float:
        return round(self.usd_per_unit[source] / self.usd_per_unit[target], 6)

    def fee(self, amount: int) -> int:
        return _round_half_up(abs(amount) * self.fee_percent / 100) + self.fee_fixed


settlement = Settlement()


def _settle(
    txn: Any, *, charged: bool, convert: bool = True, available_on: int | None = None
) -> None:
    """Book `txn` (amount and currency as the charge, refund or transfer has them) in the
    platform's balance: converted into the settlement currency where it does not settle in its
    own, with Stripe's fee on a charge, pending until `available_on` (a charge's: now plus the
    settlement delay; anything else: now)."""
    source_currency = str(txn.currency).lower()
    target = settlement.settles_in(source_currency) if convert else source_currency
    txn.currency = target
    txn.exchange_rate = None
    if target != source_currency:
        txn.exchange_rate = settlement.rate(source_currency, target)
        txn.amount = _round_half_up(txn.amount * txn.exchange_rate)
    txn.fee = 0
    txn.fee_details = []
    if charged:
        txn.fee = settlement.fee(txn.amount)
        txn.fee_details = [
            {
                "amount": txn.fee,
                "application": None,
                "currency": target,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
    if available_on is None:
        available_on = _now()
        if charged and not _bypasses_pending(txn):
            available_on += math.ceil(settlement.available_after)
    txn.available_on = available_on


def _bypasses_pending(txn: Any) -> bool:
    charge = ls.store.get("charge:" + str(txn.source))
    method = ls.store.get("payment_method:" + str(getattr(charge, "payment_method", "")))
    return getattr(method, "_card_number", None) == BYPASS_PENDING_CARD


def _balance_transaction_status(txn: Any) -> str:
    return "available" if _now() >= txn.available_on else "pending"


_original_balance_transaction_init = ls.BalanceTransaction.__init__


def _balance_transaction_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """localstripe's balance transactions (of charges and refunds), settled as Stripe does."""
    _original_balance_transaction_init(self, *args, **kwargs)
    _settle(self, charged=self.type == "charge")


def new_balance_transaction(
    *,
    amount: int,
    currency: str,
    source: str,
    type: str,
    reporting_category: str,
    available_on: int | None = None,
    description: str | None = None,
) -> Any:
    """A balance transaction of a kind localstripe's own constructor refuses (transfers,
    reversals, disputes): no fee, in its own currency, available at `available_on` (now)."""
    txn = ls.BalanceTransaction.__new__(ls.BalanceTransaction)
    ls.StripeObject.__init__(txn)
    txn.amount = amount
    txn.currency = currency
    txn.description = description
    txn.reporting_category = reporting_category
    txn.source = source
    txn.type = type
    _settle(txn, charged=False, convert=False, available_on=available_on)
    return txn


def top_up(amount: int, currency: str) -> Any:
    """Funds added to the available balance at once (Stripe's test-mode top-ups), as
    `--opening-balance` does at start-up."""
    return new_balance_transaction(
        amount=amount,
        currency=currency,
        source="tu_" + ls.random_id(24),
        type="topup",
        reporting_category="topup",
        description="opening balance (--opening-balance)",
    )


BALANCE_TRANSACTION_TYPES = (
    "adjustment",
    "topup",
    "application_fee",
    "charge",
    "payment",
    "payout",
    "refund",
    "transfer",
    "transfer_refund",
    "payment_refund",
)


def _balance_transactions_list(
    cls: Any,
    url: str,
    limit: Any = None,
    starting_after: Any = None,
    ending_before: Any = None,
    type: Any = None,
    source: Any = None,
    currency: Any = None,
    created: Any = None,
    payout: Any = None,
    **kwargs: Any,
) -> Any:
    _unknown(kwargs)
    if type is not None and type not in BALANCE_TRANSACTION_TYPES:
        raise UserError(400, f"Invalid type: {type}", {"param": "type"})
    if payout is not None:
        raise UserError(400, "Filtering by payout is not supported here.", {"param": "payout"})
    in_range = _created_filter(created)
    items = [
        t
        for t in _newest_first(cls)
        if (type is None or t.type == type)
        and (source is None or t.source == source)
        and (currency is None or t.currency == str(currency).lower())
        and in_range(t)
    ]
    return _paginate(url, items, limit, starting_after, ending_before)


BALANCE_TRANSACTION_KEY = ls.BalanceTransaction.object + ":"


@dataclass
class Ledger:
    """The platform's balance per currency, kept as balance transactions are booked instead of
    summed over the store on every read: each one is told to the ledger when it is stored
    (`noted`) and added in at the next read, once its constructor has set its amount, fee and
    `available_on`. Funds pending until a time wait in a heap per currency and move to the
    available balance on the first read at or after that time. A read costs the same however
    many transactions are kept. Deleting one (never done here) makes the next read sum the
    store again."""

    available: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    _maturing: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    _unbooked: list[Any] = field(default_factory=list)
    _stale: bool = False

    def noted(self, txn: Any) -> None:
        self._unbooked.append(txn)

    def reset(self) -> None:
        self.available.clear()
        self.pending.clear()
        self._maturing.clear()
        self._unbooked.clear()
        self._stale = False

    def forget_later(self) -> None:
        self._stale = True

    def balances(self) -> tuple[dict[str, int], dict[str, int]]:
        """(available, pending) per currency: the sums of the balance transactions' `net`."""
        if self._stale:
            self.reset()
            self._unbooked = [
                v for k, v in ls.store.items() if k.startswith(BALANCE_TRANSACTION_KEY)
            ]
        now = _now()
        for txn in self._unbooked:
            self._book(txn, now)
        self._unbooked.clear()
        for currency, maturing in self._maturing.items():
            while maturing and maturing[0][0] <= now:
                _, net = heapq.heappop(maturing)
                self.pending[currency] -= net
                self.available[currency] += net
        available = dict.fromkeys(settlement.currencies, 0)
        pending = dict.fromkeys(settlement.currencies, 0)
        available.update(self.available)
        pending.update(self.pending)
        return available, pending

    def _book(self, txn: Any, now: int) -> None:
        currency, net = txn.currency, int(txn.net)
        self.available.setdefault(currency, 0)
        self.pending.setdefault(currency, 0)
        if now >= txn.available_on:
            self.available[currency] += net
        else:
            self.pending[currency] += net
            heapq.heappush(self._maturing.setdefault(currency, []), (int(txn.available_on), net))


ledger = Ledger()


def balances() -> tuple[dict[str, int], dict[str, int]]:
    """(available, pending) per currency: the sums of the balance transactions' `net`."""
    return ledger.balances()


async def _balance_handler(request: web.Request) -> web.Response:
    """`GET /v1/balance`: what is available and pending in each currency."""
    _unknown({k: v for k, v in request.query.items() if k != "expand[]"})
    available, pending = balances()
    return json_response(
        {
            "object": "balance",
            "available": [
                {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                for currency, amount in sorted(available.items())
            ],
            "pending": [
                {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                for currency, amount in sorted(pending.items())
            ],
            "livemode": False,
        }
    )


async def _clock_config_handler(request: web.Request) -> web.Response:
    """`GET/POST /_config/clock` (advance_seconds): the stand-in's clock, moved forward."""
    if request.method == "POST":
        data = await ls_server.get_post_data(request) or {}
        advance = data.pop("advance_seconds", 0)
        _unknown(data)
        try:
            seconds = float(advance)
        except (TypeError, ValueError):
            raise UserError(400, "Invalid advance_seconds", {"param": "advance_seconds"}) from None
        if not seconds >= 0:
            raise UserError(400, "The clock only moves forward.", {"param": "advance_seconds"})
        clock.offset += seconds
        _on_clock_moved()
    return json_response({"now": _now(), "offset_seconds": clock.offset})


def _on_clock_moved() -> None:
    """What happens when time passes."""
    holds.expire_due()


# --- Hold expiry --------------------------------------------------------------------------------

HOLD_LIFETIME_SECONDS = 7 * 24 * 3600
"""How long Stripe keeps an uncaptured card payment authorised ("about 7 days" for online card
payments) before it cancels the PaymentIntent itself."""


@dataclass
class Holds:
    """Uncaptured PaymentIntents older than `lifetime` seconds (of the stand-in's clock) are
    cancelled as Stripe cancels them: `cancellation_reason` `automatic`, `charge.expired` and
    `payment_intent.canceled` sent. Checked at most once a second, before API requests and in
    the background, and at once when the clock moves or a capture asks."""

    lifetime: float = HOLD_LIFETIME_SECONDS
    checked_at: float = 0.0
    _open: dict[str, Any] = field(default_factory=dict)
    """PaymentIntents not yet succeeded nor canceled (told when stored): only these are looked
    at, not the whole store."""

    def noted(self, intent: Any) -> None:
        self._open[intent.id] = intent

    def forget(self, id: str) -> None:
        self._open.pop(id, None)

    def reset(self) -> None:
        self._open.clear()

    def is_due(self, intent: Any) -> bool:
        """Whether `intent` is a hold authorised `lifetime` seconds ago or more."""
        if intent.status != "requires_capture":
            return False
        return bool(intent.latest_charge.created + self.lifetime <= _now())

    def expire_due(self) -> int:
        self.checked_at = time.monotonic()
        expired = 0
        for intent in list(self._open.values()):
            if intent.status in ("succeeded", "canceled"):  # for good
                del self._open[intent.id]
            elif self.is_due(intent):
                expire_hold(intent)
                del self._open[intent.id]
                expired += 1
        return expired

    def expire_due_now_and_then(self) -> None:
        if time.monotonic() - self.checked_at >= 1.0:
            self.expire_due()


holds = Holds()


def expire_hold(intent: Any) -> None:
    intent._canceled = True
    intent.next_action = None
    intent.canceled_at = _now()
    intent.cancellation_reason = "automatic"
    ls.schedule_webhook(ls.Event("charge.expired", intent.latest_charge))
    ls.schedule_webhook(ls.Event("payment_intent.canceled", intent))
    log.info("hold %s expired", intent.id)


async def _expire_holds_in_the_background(stop: asyncio.Event) -> None:
    while not stop.is_set():
        holds.expire_due_now_and_then()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def _dev_expire_hold_handler(request: web.Request) -> web.Response:
    """Dev only: the hold of this PaymentIntent expires now, whatever its age."""
    intent = _retrieve(ls.PaymentIntent, request.match_info["id"], "payment_intent")
    if intent.status != "requires_capture":
        raise _unexpected_state(intent, "expired", ("requires_capture",))
    expire_hold(intent)
    return json_response(intent._export())


# --- Refunds ------------------------------------------------------------------------------------

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _charge_refunded(self: Any) -> bool:
    captured = int(self.amount_captured)
    return captured > 0 and self.amount_refunded >= captured


def _refundable_charge(charge: Any, payment_intent: Any) -> Any:
    """The charge a refund is for (`charge` or the `payment_intent`'s), as Stripe finds it."""
    if charge is None and payment_intent is None:
        raise UserError(400, "One of `charge` or `payment_intent` is required.")
    intent = None
    if payment_intent is not None:
        intent = _retrieve(ls.PaymentIntent, str(payment_intent), "payment_intent")
        if intent.status != "succeeded":
            raise UserError(
                400,
                f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
                {"code": "charge_not_refundable", "param": "payment_intent"},
            )
        if charge is not None and charge != intent.latest_charge.id:
            raise UserError(
                400,
                f"The charge {charge} does not belong to the PaymentIntent {intent.id}.",
                {"param": "charge"},
            )
        return intent.latest_charge
    found = ls.store.get("charge:" + str(charge))
    if found is None:
        raise _no_such("charge", str(charge), "charge")
    return found


def _refund_create(data: dict[str, Any]) -> Any:
    expand = data.pop("expand", None)
    charge_id = data.pop("charge", None)
    intent_id = data.pop("payment_intent", None)
    amount = data.pop("amount", None)
    reason = data.pop("reason", None)
    metadata = _metadata(data.pop("metadata", None))
    for ignored in ("instructions_email", "refund_application_fee", "reverse_transfer", "origin"):
        data.pop(ignored, None)
    _unknown(data)
    if reason is not None and reason not in REFUND_REASONS:
        raise UserError(400, f"Invalid reason: {reason}", {"param": "reason"})
    charge = _refundable_charge(charge_id, intent_id)
    if charge.status != "succeeded" or not charge.captured:
        raise UserError(
            400,
            f"Charge {charge.id} has not been captured: cancel its PaymentIntent instead.",
            {"code": "charge_not_refundable"},
        )
    if getattr(charge, "_dispute", None) is not None:
        raise UserError(
            400,
            f"Charge {charge.id} has been charged back; cannot issue a refund.",
            {"code": "charge_disputed"},
        )
    left = int(charge.amount_captured) - int(charge.amount_refunded)
    if left <= 0:
        raise UserError(
            400,
            f"Charge {charge.id} has already been refunded.",
            {"code": "charge_already_refunded"},
        )
    amount = left if amount is None else _as_int(amount, "amount", 1)
    if amount > left:
        raise UserError(
            400,
            f"Refund amount ({_minor(amount, charge.currency)}) is greater than unrefunded "
            f"amount on charge ({_minor(left, charge.currency)})",
            {"code": "amount_too_large", "param": "amount"},
        )
    previous = {"amount_refunded": charge.amount_refunded, "refunded": charge.refunded}
    refund = ls.Refund(charge=charge.id, amount=amount, metadata=metadata)
    refund.payment_intent = charge.payment_intent
    refund.reason = reason
    event = ls.Event("charge.refunded", charge)
    event.data["previous_attributes"] = previous
    ls.schedule_webhook(ls.Event("refund.created", refund))
    ls.schedule_webhook(event)
    return refund._export(expand=expand)


async def _refund_create_handler(request: web.Request) -> web.Response:
    """`POST /v1/refunds`: refuses what Stripe refuses, books the refund against the balance."""
    return json_response(_refund_create(await ls_server.get_post_data(request) or {}))


# --- Disputes -----------------------------------------------------------------------------------

DISPUTE_CARD = "4000000000000259"
"""Stripe's test card whose captured charges are disputed (as fraudulent)."""
DISPUTE_RESPONSE_SECONDS = 7 * 24 * 3600
EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


class Dispute(ls.StripeObject):
    """A dispute (chargeback) of a captured charge: the amount and Stripe's fee leave the
    balance when it opens, the amount comes back if it is won."""

    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Any) -> None:
        super().__init__()
        self.amount = int(charge.amount_captured)
        self.currency = charge.currency
        self.charge = charge.id
        self.payment_intent = charge.payment_intent
        self.evidence = dict.fromkeys(EVIDENCE_FIELDS)
        self.evidence_details = {
            "due_by": _now() + DISPUTE_RESPONSE_SECONDS,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        }
        self.is_charge_refundable = False
        self.metadata: dict[str, str] = {}
        self.payment_method_details = {
            "card": {"brand": "visa", "network_reason_code": "10.4"},
            "type": "card",
        }
        self.reason = "fraudulent"
        self.status = "needs_response"
        self._balance_transactions: list[str] = []
        self._book(-self.amount, settlement.dispute_fee, "dispute", "Chargeback withdrawal")
        charge.disputed = True
        charge._dispute = self.id

    @property
    def balance_transactions(self) -> list[dict[str, Any]]:
        return [
            ls.BalanceTransaction._api_retrieve(txn)._export() for txn in self._balance_transactions
        ]

    def _book(self, amount: int, fee: int, category: str, description: str) -> None:
        txn = ls.BalanceTransaction.__new__(ls.BalanceTransaction)
        ls.StripeObject.__init__(txn)
        txn.amount = amount
        txn.currency = self.currency
        txn.description = description
        txn.reporting_category = category
        txn.source = self.id
        txn.type = "adjustment"
        _settle(txn, charged=False)
        if fee:
            txn.fee = fee
            txn.fee_details = [
                {
                    "amount": fee,
                    "application": None,
                    "currency": txn.currency,
                    "description": "Dispute fee",
                    "type": "stripe_fee",
                }
            ]
        self._balance_transactions.append(txn.id)

    def _close(self, won: bool) -> None:
        if self.status not in ("needs_response", "under_review"):
            raise UserError(400, f"The dispute {self.id} is already closed ({self.status}).")
        self.status = "won" if won else "lost"
        if won:
            self._book(self.amount, 0, "dispute_reversal", "Chargeback reversal")
        ls.schedule_webhook(ls.Event("charge.dispute.closed", self))
        if won:
            ls.schedule_webhook(ls.Event("charge.dispute.funds_reinstated", self))

    @classmethod
    def _api_create(cls, **data: Any) -> Any:
        raise UserError(405, "Disputes are opened by card holders, not through the API.")

    @classmethod
    def _api_retrieve(cls, id: str) -> Any:
        return _retrieve(cls, id, "dispute")

    @classmethod
    def _api_delete(cls, id: str) -> Any:
        raise UserError(405, "Disputes cannot be deleted.")

    @classmethod
    def _api_list_all(
        cls,
        url: str,
        limit: Any = None,
        starting_after: Any = None,
        ending_before: Any = None,
        charge: Any = None,
        payment_intent: Any = None,
        created: Any = None,
        **kwargs: Any,
    ) -> Any:
        _unknown(kwargs)
        in_range = _created_filter(created)
        items = [
            d
            for d in _newest_first(cls)
            if (charge is None or d.charge == charge)
            and (payment_intent is None or d.payment_intent == payment_intent)
            and in_range(d)
        ]
        return _paginate(url, items, limit, starting_after, ending_before)

    def _update(self, **data: Any) -> None:
        metadata = data.pop("metadata", None)
        evidence = data.pop("evidence", None)
        submit = data.pop("submit", None)
        _unknown(data)
        if self.status not in ("needs_response", "under_review"):
            raise UserError(400, f"The dispute {self.id} is closed ({self.status}).")
        if metadata is not None:
            self.metadata = {**self.metadata, **_metadata(metadata)}
        if evidence is not None:
            if not isinstance(evidence, dict) or set(evidence) - set(EVIDENCE_FIELDS):
                raise UserError(400, "Invalid evidence", {"param": "evidence"})
            self.evidence.update(evidence)
            self.evidence_details["has_evidence"] = True
        submitted = submit is None or _as_bool(submit, "submit")
        if submitted and self.evidence_details["has_evidence"]:
            self.status = "under_review"
            self.evidence_details["submission_count"] += 1


def _open_dispute_if_disputed(charge: Any) -> None:
    """A captured charge on the dispute test card is disputed, as on Stripe."""
    method = ls.store.get("payment_method:" + str(charge.payment_method))
    if getattr(method, "_card_number", None) != DISPUTE_CARD or getattr(charge, "_dispute", None):
        return
    dispute = Dispute(charge)
    ls.schedule_webhook(ls.Event("charge.dispute.created", dispute))
    ls.schedule_webhook(ls.Event("charge.dispute.funds_withdrawn", dispute))


async def _dispute_close_handler(request: web.Request) -> web.Response:
    """`POST /v1/disputes/{id}/close`: the platform accepts the dispute (it is lost)."""
    data = await ls_server.get_post_data(request) or {}
    expand = data.pop("expand", None)
    _unknown(data)
    dispute = Dispute._api_retrieve(request.match_info["id"])
    dispute._close(won=False)
    return json_response(dispute._export(expand=expand))


async def _dev_dispute_outcome_handler(request: web.Request) -> web.Response:
    """Dev only: the card network decided (`outcome` won or lost)."""
    data = await ls_server.get_post_data(request) or {}
    outcome = data.pop("outcome", None)
    _unknown(data)
    if outcome not in ("won", "lost"):
        raise UserError(400, "outcome must be won or lost", {"param": "outcome"})
    dispute = Dispute._api_retrieve(request.match_info["id"])
    dispute._close(won=outcome == "won")
    return json_response(dispute._export())


# --- Connect ------------------------------------------------------------------------------------

CURRENCY_BY_COUNTRY = {
    "US": "usd",
    "GB": "gbp",
    "CA": "cad",
    "CH": "chf",
    "AU": "aud",
    "JP": "jpy",
    "NO": "nok",
    "SE": "sek",
    "DK": "dkk",
    "MX": "mxn",
    "BR": "brl",
}
EURO_COUNTRIES = {
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PT", "SI", "SK",
}  # fmt: skip
ONBOARDING_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "business_type",
    "external_account",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


VERIFIED_AT_ONBOARDING = ["individual.verification.document", "individual.id_number"]
OUT_OF_ORDER_SECONDS = 1.0

CONNECT_COUNTRIES = {
    "AE", "AT", "AU", "BE", "BG", "BR", "CA", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI",
    "FR", "GB", "GI", "GR", "HK", "HR", "HU", "IE", "IT", "JP", "LI", "LT", "LU", "LV", "MT",
    "MX", "MY", "NL", "NO", "NZ", "PL", "PT", "RO", "SE", "SG", "SI", "SK", "TH", "US",
}  # fmt: skip
"""Countries where Stripe opens connected accounts under the full service agreement (Stripe's
global availability)."""
RECIPIENT_ONLY_COUNTRIES = {
    "AR", "BO", "CL", "CO", "CR", "DO", "EC", "EG", "GT", "ID", "IL", "IS", "JM", "KE", "KR",
    "MA", "NG", "PA", "PE", "PH", "PY", "SA", "SV", "TR", "TW", "TZ", "UY", "VN", "ZA",
}  # fmt: skip
"""Countries Stripe reaches only through cross-border payouts (the recipient service
agreement, from a US platform); a sample of Stripe's list."""
EUROPE = EURO_COUNTRIES | {"BG", "CH", "CZ", "DK", "GB", "GI", "HU", "LI", "NO", "PL", "RO", "SE"}


@dataclass
class Connect:
    """The platform's side of Connect: its country (`--platform-country`), whether account
    updates are delivered out of order (`--account-updates-out-of-order`), and, for callers
    that do not yet ask for the recipient service agreement, whether accounts abroad may be
    opened without it (`--allow-full-cross-border-accounts`: not as Stripe)."""

    platform_country: str = "US"
    out_of_order: bool = False
    allow_full_cross_border: bool = False

    def check_country(self, country: str, agreement: str, capabilities: Any) -> None:
        if country not in CONNECT_COUNTRIES | RECIPIENT_ONLY_COUNTRIES:
            raise UserError(
                400,
                f"Connected accounts cannot be created in {country}: Stripe does not support "
                "accounts there.",
                {"code": "country_unsupported", "param": "country"},
            )
        if agreement == "recipient":
            requested = capabilities if isinstance(capabilities, dict) else {}
            if "card_payments" in requested:
                raise UserError(
                    400,
                    "Accounts under the recipient service agreement cannot request the "
                    "card_payments capability.",
                    {"param": "capabilities[card_payments]"},
                )
            return
        same_region = country == self.platform_country or (
            country in EUROPE and self.platform_country in EUROPE
        )
        if country in RECIPIENT_ONLY_COUNTRIES or not (same_region or self.allow_full_cross_border):
            raise UserError(
                400,
                f"A platform in {self.platform_country} can open a connected account in "
                f"{country} only under the recipient service agreement (cross-border payouts): "
                "pass tos_acceptance[service_agreement]=recipient.",
                {"param": "tos_acceptance[service_agreement]"},
            )


connect = Connect()


def _service_agreement(tos_acceptance: Any) -> str:
    agreement = (
        (tos_acceptance or {}).get("service_agreement")
        if isinstance(tos_acceptance, dict)
        else None
    )
    agreement = agreement or "full"
    if agreement not in ("full", "recipient"):
        raise UserError(
            400,
            f"Invalid tos_acceptance[service_agreement]: {agreement}",
            {"param": "tos_acceptance[service_agreement]"},
        )
    return str(agreement)


def _requirements(currently_due: list[str]) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(currently_due),
        "disabled_reason": "requirements.past_due" if currently_due else None,
        "errors": [],
        "eventually_due": list(currently_due),
        "past_due": list(currently_due),
        "pending_verification": [],
    }


class Account(ls.StripeObject):
    """A connected account (`/v1/accounts`), shaped as Stripe's Account object."""

    object = "account"
    _id_prefix = "acct_"

    def __init__(
        self,
        type: Any = None,
        country: Any = None,
        email: Any = None,
        capabilities: Any = None,
        business_type: Any = None,
        business_profile: Any = None,
        default_currency: Any = None,
        metadata: Any = None,
        settings: Any = None,
        tos_acceptance: Any = None,
        controller: Any = None,
        **kwargs: Any,
    ) -> None:
        _unknown(kwargs)
        if type is None and controller is None:
            raise UserError(400, "You must provide `type` or `controller`.", {"param": "type"})
        if type is not None and type not in ("standard", "express", "custom"):
            raise UserError(400, f"Invalid type: {type}", {"param": "type"})
        country = country or "US"
        if not (isinstance(country, str) and len(country) == 2 and country.isalpha()):
            raise UserError(400, f"Invalid country: {country}", {"param": "country"})
        country = country.upper()
        agreement = _service_agreement(tos_acceptance)
        connect.check_country(country, agreement, capabilities)
        if email is not None and not (isinstance(email, str) and "@" in email):
            raise UserError(400, f"Invalid email address: {email}", {"param": "email"})
        if capabilities is not None and not isinstance(capabilities, dict):
            raise UserError(400, "Invalid object", {"param": "capabilities"})
        if business_type not in (None, "individual", "company", "non_profit", "government_entity"):
            raise UserError(400, f"Invalid business_type: {business_type}")
        requested = self._requested(capabilities or {})
        metadata = _metadata(metadata)
        # All exceptions must be raised before this point.
        super().__init__()

        del self.livemode  # Stripe's Account object has no `livemode`
        self.type = type or "none"
        self.country = country
        self.email = email
        self.business_type = business_type
        self.business_profile = {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        }
        if isinstance(business_profile, dict):
            _merge(self.business_profile, business_profile)
        self.capabilities = {name: "inactive" for name in requested}
        self.charges_enabled = False
        self.payouts_enabled = False
        self.details_submitted = False
        self.controller = {
            "fees": {"payer": "application"},
            "is_controller": True,
            "losses": {"payments": "application"},
            "requirement_collection": "stripe",
            "stripe_dashboard": {"type": self.type if self.type != "custom" else "none"},
            "type": "application",
        }
        self.default_currency = (default_currency or "").lower() or CURRENCY_BY_COUNTRY.get(
            country, "eur" if country in EURO_COUNTRIES else "usd"
        )
        self.external_accounts = {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/accounts/{self.id}/external_accounts",
        }
        self.future_requirements = _requirements([])
        self.requirements = _requirements(ONBOARDING_REQUIREMENTS)
        self.metadata = metadata
        self.settings = {
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
        }
        if isinstance(settings, dict):
            _merge(self.settings, settings)
        self.tos_acceptance: dict[str, Any] = {"date": None, "ip": None, "user_agent": None}
        if isinstance(tos_acceptance, dict):
            _merge(self.tos_acceptance, tos_acceptance)
        self.tos_acceptance["service_agreement"] = agreement

    @staticmethod
    def _requested(capabilities: dict[str, Any]) -> list[str]:
        requested = []
        for name, options in capabilities.items():
            if not isinstance(options, dict) or set(options) - {"requested"}:
                raise UserError(400, "Invalid object", {"param": f"capabilities[{name}]"})
            if _as_bool(options.get("requested", False), f"capabilities[{name}][requested]"):
                requested.append(name)
        return requested

    @classmethod
    def _api_retrieve(cls, id: str) -> Any:
        obj = ls.store.get(cls.object + ":" + id)
        if obj is None:
            raise UserError(
                403,
                f"The provided key does not have access to account '{id}' (or that account "
                "does not exist). Application access may have been revoked.",
                {"code": "account_invalid"},
            )
        return obj

    @classmethod
    def _api_list_all(
        cls,
        url: str,
        limit: Any = None,
        starting_after: Any = None,
        ending_before: Any = None,
        created: Any = None,
        **kwargs: Any,
    ) -> Any:
        _unknown(kwargs)
        in_range = _created_filter(created)
        items = [a for a in _newest_first(cls) if in_range(a)]
        return _paginate(url, items, limit, starting_after, ending_before)

    def _update(self, **data: Any) -> None:
        email = data.pop("email", None)
        metadata = data.pop("metadata", None)
        capabilities = data.pop("capabilities", None)
        for name in ("business_profile", "settings", "tos_acceptance"):
            value = data.pop(name, None)
            if value is not None:
                if not isinstance(value, dict):
                    raise UserError(400, "Invalid object", {"param": name})
                _merge(getattr(self, name), value)
        business_type = data.pop("business_type", None)
        _unknown(data)
        if email is not None:
            self.email = email
        if business_type is not None:
            self.business_type = business_type
        if metadata is not None:
            self.metadata = {**self.metadata, **_metadata(metadata)}
            for key, value in metadata.items():
                if value == "":
                    self.metadata.pop(key, None)
        if capabilities is not None:
            if not isinstance(capabilities, dict):
                raise UserError(400, "Invalid object", {"param": "capabilities"})
            for name in self._requested(capabilities):
                self.capabilities.setdefault(
                    name, "active" if self.details_submitted else "inactive"
                )

    def _state(self) -> dict[str, Any]:
        return {
            "charges_enabled": self.charges_enabled,
            "payouts_enabled": self.payouts_enabled,
            "details_submitted": self.details_submitted,
            "capabilities": dict(self.capabilities),
            "requirements": copy.deepcopy(self.requirements),
        }

    def _submit_details(self) -> dict[str, Any]:
        """Onboarding's first step, the holder's details sent: nothing due any more, Stripe
        verifying them; still unable to take charges or payouts. Returns what it changed."""
        previous = self._state()
        self.details_submitted = True
        self.capabilities = {name: "pending" for name in self.capabilities} or {
            "transfers": "pending"
        }
        self.requirements = _requirements([])
        self.requirements["pending_verification"] = list(VERIFIED_AT_ONBOARDING)
        self.requirements["disabled_reason"] = "requirements.pending_verification"
        if self.business_type is None:
            self.business_type = "individual"
        if self.tos_acceptance.get("date") is None:
            self.tos_acceptance.update(date=_now(), ip="127.0.0.1", user_agent=None)
        return previous

    def _verify(self) -> dict[str, Any]:
        """Onboarding's last step, Stripe verified the details: the account is active."""
        previous = self._state()
        self.charges_enabled = self.tos_acceptance.get("service_agreement") != "recipient"
        self.payouts_enabled = True
        self.capabilities = {name: "active" for name in self.capabilities}
        self.requirements = _requirements([])
        return previous

    def _complete_onboarding(self) -> dict[str, Any]:
        """Both steps at once (the dev route): returns the attributes they changed."""
        previous = self._submit_details()
        self._verify()
        return previous


@dataclass
class _AccountLinkGrant:
    account: str
    refresh_url: str
    return_url: str
    expires_at: int
    used: bool = False


_account_links: dict[str, _AccountLinkGrant] = {}


async def _account_links_handler(request: web.Request) -> web.Response:
    data = await ls_server.get_post_data(request) or {}
    data.pop("expand", None)
    account = data.pop("account", None)
    refresh_url = data.pop("refresh_url", None)
    return_url = data.pop("return_url", None)
    link_type = data.pop("type", None)
    data.pop("collect", None)
    data.pop("collection_options", None)
    _unknown(data)
    for name, value in (("account", account), ("type", link_type)):
        if not value:
            raise UserError(400, f"Missing required param: {name}.", {"param": name})
    if link_type not in ("account_onboarding", "account_update"):
        raise UserError(400, f"Invalid type: {link_type}", {"param": "type"})
    for name, value in (("refresh_url", refresh_url), ("return_url", return_url)):
        if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            raise UserError(400, f"Not a valid URL: {name}", {"param": name})
    acct = Account._api_retrieve(account)
    if link_type == "account_update" and acct.type == "express":
        raise UserError(400, "Express accounts cannot use account_update links.")
    created = _now()
    token = secrets.token_urlsafe(16)
    _account_links[token] = _AccountLinkGrant(
        acct.id, str(refresh_url), str(return_url), created + ACCOUNT_LINK_TTL_SECONDS
    )
    return json_response(
        {
            "object": "account_link",
            "created": created,
            "expires_at": created + ACCOUNT_LINK_TTL_SECONDS,
            "url": f"{request.scheme}://{request.host}/_dev/onboarding/{acct.id}/{token}",
        }
    )


def _announce_account_updated(
    account: Any, previous: dict[str, Any], held_back: float = 0.0
) -> Any:
    """`account.updated` (a Connect event), its delivery held back `held_back` seconds."""
    event = ls.Event("account.updated", account)
    event.account = account.id
    event.data["previous_attributes"] = {
        k: v for k, v in previous.items() if v != getattr(account, k, None)
    }
    event.pending_webhooks = len(ls_webhooks._webhooks)
    event.request = {"id": None, "idempotency_key": None}
    event._held_back = held_back
    ls.schedule_webhook(event)
    return event


def _onboard(account: Any) -> None:
    """The holder went through the account link: details submitted, then verified, each an
    `account.updated`; with `--account-updates-out-of-order` the later one is delivered first."""
    first = _announce_account_updated(
        account,
        account._submit_details(),
        held_back=OUT_OF_ORDER_SECONDS if connect.out_of_order else 0.0,
    )
    last = _announce_account_updated(account, account._verify())
    log.info("account %s onboarded: %s then %s", account.id, first.id, last.id)


async def _complete_onboarding_handler(request: web.Request) -> web.Response:
    """Dev only: the account holder finished onboarding (no Stripe equivalent)."""
    account = Account._api_retrieve(request.match_info["id"])
    previous = account._complete_onboarding()
    _announce_account_updated(account, previous)
    return json_response(account._export())


PAYOUT_FAILURES = {
    "account_closed": "The bank account has been closed.",
    "account_frozen": "The bank account has been frozen.",
    "bank_account_restricted": "The bank account has restrictions on either the type or number "
    "of payouts allowed.",
    "could_not_process": "The bank could not process this payout.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "invalid_account_number": "The routing number seems correct, but the account number is "
    "invalid.",
    "no_account": "The bank account details on file are probably incorrect. No bank account "
    "could be located with those details.",
}


async def _dev_payout_failed_handler(request: web.Request) -> web.Response:
    """Dev only: a payout of a connected account to its bank failed (`amount`, `currency`,
    `failure_code`): the Connect event `payout.failed` with Stripe's Payout object."""
    account = Account._api_retrieve(request.match_info["id"])
    data = await ls_server.get_post_data(request) or {}
    amount = _as_int(data.pop("amount", 1000), "amount", 1)
    currency = str(data.pop("currency", account.default_currency)).lower()
    code = data.pop("failure_code", "account_closed")
    _unknown(data)
    if code not in PAYOUT_FAILURES:
        raise UserError(400, f"Invalid failure_code: {code}", {"param": "failure_code"})
    now = _now()
    payout = {
        "id": "po_" + ls.random_id(24),
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": now,
        "automatic": True,
        "balance_transaction": "txn_" + ls.random_id(24),
        "created": now,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": "ba_" + ls.random_id(24),
        "failure_balance_transaction": "txn_" + ls.random_id(24),
        "failure_code": code,
        "failure_message": PAYOUT_FAILURES[code],
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": "failed",
        "type": "bank_account",
    }
    event = ls.Event("payout.failed", _Exported(payout))
    event.account = account.id
    ls.schedule_webhook(event)
    return json_response(payout)


@web.middleware
async def onboarding_page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The page an account link opens (no API key there): finishes onboarding, goes back.

    Like Stripe's links it is single-use and short-lived; a used or expired link sends the
    browser to `refresh_url`.
    """
    parts = request.path.strip("/").split("/")
    if request.method != "GET" or len(parts) != 4 or parts[:2] != ["_dev", "onboarding"]:
        return await handler(request)
    grant = _account_links.get(parts[3])
    if grant is None or grant.account != parts[2]:
        return web.Response(status=404, text="Unknown account link\n")
    if grant.used or grant.expires_at < _now():
        raise web.HTTPFound(grant.refresh_url)
    grant.used = True
    account = Account._api_retrieve(grant.account)
    if not account.details_submitted:
        _onboard(account)
    raise web.HTTPFound(grant.return_url)


class Transfer(ls.StripeObject):
    """A transfer to a connected account (`/v1/transfers`), with its balance transaction."""

    object = "transfer"
    _id_prefix = "tr_"

    def __init__(
        self,
        amount: Any = None,
        currency: Any = None,
        destination: Any = None,
        transfer_group: Any = None,
        metadata: Any = None,
        description: Any = None,
        source_transaction: Any = None,
        source_type: Any = None,
        **kwargs: Any,
    ) -> None:
        _unknown(kwargs)
        for name, value in (("currency", currency), ("destination", destination)):
            if value is None:
                raise UserError(400, f"Missing required param: {name}.", {"param": name})
        amount = _as_int(amount, "amount", 1)
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise UserError(400, f"Invalid currency: {currency}", {"param": "currency"})
        account = ls.store.get("account:" + str(destination))
        if account is None:
            raise UserError(400, f"No such destination: '{destination}'", {"param": "destination"})
        if account.capabilities.get("transfers") != "active" and not account.payouts_enabled:
            raise UserError(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                {"code": "insufficient_capabilities_for_transfer", "param": "destination"},
            )
        if source_type not in (None, "card", "bank_account", "fpx"):
            raise UserError(400, f"Invalid source_type: {source_type}")
        currency = currency.lower()
        available_on = None
        if source_transaction is not None:
            available_on = self._check_source_transaction(source_transaction, amount, currency)
        elif balances()[0].get(currency, 0) < amount:
            raise UserError(
                400,
                "You have insufficient available funds in your Stripe account. Try adding "
                "funds directly to your available balance by creating Charges using the "
                "4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance",
                {"code": "balance_insufficient"},
            )
        metadata = _metadata(metadata)
        # All exceptions must be raised before this point.
        super().__init__()

        self.amount = amount
        self.amount_reversed = 0
        self.currency = currency
        self.description = description
        self.destination = account.id
        self.destination_payment = "py_" + ls.random_id(24)
        self.metadata = metadata
        self._reversals: list[Any] = []
        self.reversed = False
        self.source_transaction = source_transaction
        self.source_type = source_type or "card"
        self.transfer_group = transfer_group
        txn = new_balance_transaction(
            amount=-amount,
            currency=self.currency,
            source=self.id,
            type="transfer",
            reporting_category="transfer",
            available_on=available_on,
        )
        self.balance_transaction = txn.id

    @property
    def reversals(self) -> dict[str, Any]:
        return self._reversals_list()

    def _reversals_list(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [r._export() for r in self._reversals],
            "has_more": False,
            "total_count": len(self._reversals),
            "url": f"/v1/transfers/{self.id}/reversals",
        }

    @staticmethod
    def _check_source_transaction(charge_id: Any, amount: int, currency: str) -> int:
        """A transfer tied to a charge (`source_transaction`) draws on that charge's funds,
        pending or not, up to what is left of them; it becomes available when they do.
        Returns that time."""
        charge = ls.store.get("charge:" + str(charge_id))
        if charge is None:
            raise _no_such("charge", str(charge_id), "source_transaction")
        txn = ls.store.get("balance_transaction:" + str(charge.balance_transaction))
        if txn is None:
            raise UserError(
                400,
                f"The source_transaction {charge.id} has not been captured.",
                {"param": "source_transaction"},
            )
        if txn.currency != currency:
            raise UserError(
                400,
                f"The currency of source_transaction's balance transaction ({txn.currency}) "
                f"must be the same as the transfer currency ({currency})",
                {"param": "currency"},
            )
        transferred = sum(
            t.amount - t.amount_reversed
            for t in _newest_first(Transfer)
            if t.source_transaction == charge.id
        )
        if transferred + amount > txn.amount:
            raise UserError(
                400,
                f"Transfers using this transaction as a source must not exceed the source "
                f"amount of {txn.amount}. (There is already {transferred} transferred.)",
                {"param": "amount"},
            )
        return int(txn.available_on)

    @classmethod
    def _api_create(cls, **data: Any) -> Any:
        obj = cls(**data)
        ls.schedule_webhook(ls.Event("transfer.created", obj))
        return obj

    @classmethod
    def _api_retrieve(cls, id: str) -> Any:
        return _retrieve(cls, id, "transfer")

    @classmethod
    def _api_delete(cls, id: str) -> Any:
        raise UserError(405, "Transfers cannot be deleted.")

    @classmethod
    def _api_list_all(
        cls,
        url: str,
        limit: Any = None,
        starting_after: Any = None,
        ending_before: Any = None,
        destination: Any = None,
        transfer_group: Any = None,
        created: Any = None,
        **kwargs: Any,
    ) -> Any:
        _unknown(kwargs)
        in_range = _created_filter(created)
        items = [
            t
            for t in _newest_first(cls)
            if (destination is None or t.destination == destination)
            and (transfer_group is None or t.transfer_group == transfer_group)
            and in_range(t)
        ]
        return _paginate(url, items, limit, starting_after, ending_before)

    def _update(self, **data: Any) -> None:
        description = data.pop("description", None)
        metadata = data.pop("metadata", None)
        _unknown(data)
        if description is not None:
            self.description = description
        if metadata is not None:
            self.metadata = {**self.metadata, **_metadata(metadata)}


class TransferReversal(ls.StripeObject):
    """A reversal of (part of) a transfer: the funds come back to the platform's balance."""

    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer: Any, amount: int, metadata: dict[str, str]) -> None:
        super().__init__()
        del self.livemode  # Stripe's TransferReversal has no `livemode`
        self.amount = amount
        self.currency = transfer.currency
        self.destination_payment_refund = "pyr_" + ls.random_id(24)
        self.metadata = metadata
        self.source_refund = None
        self.transfer = transfer.id
        txn = new_balance_transaction(
            amount=amount,
            currency=transfer.currency,
            source=self.id,
            type="transfer_refund",
            reporting_category="transfer_reversal",
        )
        self.balance_transaction = txn.id


async def _transfer_reversals_handler(request: web.Request) -> web.Response:
    """`POST /v1/transfers/{id}/reversals` (amount, metadata) and `GET` (their list)."""
    transfer = Transfer._api_retrieve(request.match_info["id"])
    if request.method == "GET":
        return json_response(transfer._reversals_list())
    data = await ls_server.get_post_data(request) or {}
    expand = data.pop("expand", None)
    amount = data.pop("amount", None)
    metadata = _metadata(data.pop("metadata", None))
    data.pop("description", None)
    data.pop("refund_application_fee", None)
    _unknown(data)
    left = transfer.amount - transfer.amount_reversed
    amount = left if amount is None else _as_int(amount, "amount", 1)
    if amount > left:
        raise UserError(
            400,
            f"You cannot reverse more than the remaining {left} of transfer {transfer.id}.",
            {"param": "amount"},
        )
    reversal = TransferReversal(transfer, amount, metadata)
    transfer._reversals.insert(0, reversal)
    transfer.amount_reversed += amount
    transfer.reversed = transfer.amount_reversed == transfer.amount
    ls.schedule_webhook(ls.Event("transfer.reversed", transfer))
    return json_response(reversal._export(expand=expand))


class WebhookEndpoint(ls.StripeObject):
    """`/v1/webhook_endpoints`: registers a signed delivery target, as Stripe's dashboard does."""

    object = "webhook_endpoint"
    _id_prefix = "we_"

    def __init__(
        self,
        url: Any = None,
        enabled_events: Any = None,
        connect: Any = None,
        description: Any = None,
        metadata: Any = None,
        api_version: Any = None,
        **kwargs: Any,
    ) -> None:
        _unknown(kwargs)
        if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise UserError(400, "Invalid URL", {"param": "url"})
        if not (isinstance(enabled_events, list) and enabled_events):
            raise UserError(
                400, "Missing required param: enabled_events.", {"param": "enabled_events"}
            )
        connect = _as_bool(connect, "connect") if connect is not None else False
        metadata = _metadata(metadata)
        super().__init__()
        self.url = url
        self.enabled_events = [str(e) for e in enabled_events]
        self.application = None
        self.api_version = api_version
        self.description = description
        self.metadata = metadata
        self.status = "enabled"
        self._connect = connect
        self._secret = "whsec_" + secrets.token_hex(24)
        self._register()

    def _register(self) -> None:
        hook = ls_webhooks.Webhook(
            self.url, self._secret, None if "*" in self.enabled_events else self.enabled_events
        )
        hook.connect = self._connect
        ls_webhooks._webhooks[self.id] = hook

    @classmethod
    def _api_create(cls, **data: Any) -> Any:
        obj = cls(**data)
        exported = obj._export()
        exported["secret"] = obj._secret  # Stripe shows the secret only when creating
        return _Exported(exported)

    @classmethod
    def _configure(cls, url: str, secret: str, *, connect: bool = False) -> WebhookEndpoint:
        """An endpoint for every event (`*`) signed with a known `secret`: what adding an
        endpoint in Stripe's dashboard and copying its signing secret does. A `connect` one
        gets the events of connected accounts only, the others the platform's own. (Private:
        localstripe exports every public attribute of an object, methods included.)"""
        if not (isinstance(secret, str) and secret):
            raise UserError(400, "A webhook signing secret is required.", {"param": "secret"})
        endpoint = cls(
            url=url,
            enabled_events=["*"],
            connect=connect,
            description="configured at start-up (--connect-webhook)"
            if connect
            else "configured at start-up (--webhook)",
        )
        endpoint._secret = secret
        endpoint._register()
        return endpoint

    @classmethod
    def _api_delete(cls, id: str) -> Any:
        ls_webhooks._webhooks.pop(id, None)
        return super()._api_delete(id)

    def _update(self, **data: Any) -> None:
        for name in ("url", "enabled_events", "description", "disabled"):
            if name in data:
                value = data.pop(name)
                if name == "disabled":
                    self.status = "disabled" if _as_bool(value, name) else "enabled"
                else:
                    setattr(self, name, value)
        metadata = data.pop("metadata", None)
        _unknown(data)
        if metadata is not None:
            self.metadata = {**self.metadata, **_metadata(metadata)}
        if self.status == "enabled":
            self._register()
        else:
            ls_webhooks._webhooks.pop(self.id, None)


class _Exported:
    def __init__(self, exported: dict[str, Any]) -> None:
        self._exported = exported

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return self._exported


async def _send_webhook(event: Any) -> None:
    """localstripe's delivery, with Stripe's rules: Connect events (those with `account`) go to
    `connect` endpoints only, the signature's timestamp is the time of sending."""
    payload = json.dumps(event._export(), indent=2, sort_keys=True)
    await asyncio.sleep(WEBHOOK_DELAY_SECONDS + getattr(event, "_held_back", 0.0))
    connect_event = getattr(event, "account", None) is not None
    for hook in list(ls_webhooks._webhooks.values()):
        if hook.events is not None and event.type not in hook.events:
            continue
        wants_connect = getattr(hook, "connect", None)
        if wants_connect is not None and wants_connect != connect_event:
            continue
        timestamp = int(time.time())
        signature = hmac.new(
            hook.secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": f"t={timestamp},v1={signature}",
        }
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(hook.url, data=payload.encode(), headers=headers) as r,
            ):
                log.info("webhook %s %s to %s: %d", event.type, event.id, hook.url, r.status)
        except (aiohttp.ClientError, OSError) as e:
            log.warning("webhook %s %s to %s failed: %s", event.type, event.id, hook.url, e)


# --- Network: latency and rate limits -----------------------------------------------------------

LATENCY_SPREAD = 0.25
"""The spread of the stand-in's latency: each API request waits the median times e^N(0, σ), a
log-normal with this σ, as request times over a network are (a few fast, a long slow tail); with
σ = 0.25 half the requests take between 0.85 and 1.18 times the median, one in a hundred more
than 1.8 times it."""
LATENCY_CAP = 5.0
"""No request waits more than this many times the median."""
RATE_LIMIT_WINDOW_SECONDS = 1.0
RATE_LIMITED = (
    "Request rate limit exceeded. You can learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)


@dataclass
class Network:
    """What the network and Stripe's limiter add to every API request (`/v1/...`).

    `latency_ms` is the median wait before a request is served (0: none), drawn log-normally
    around it from a seeded generator, so that a run can be repeated; the wait is an asyncio
    sleep, so other requests go on meanwhile. `rate_limit` is how many API requests are served
    in any one second (0: unlimited); one over it is answered 429 as Stripe answers it."""

    latency_ms: float = 0.0
    rate_limit: int = 0
    seed: int = 0
    clock: Callable[[], float] = time.monotonic
    served: int = 0
    refused: int = 0
    _random: random.Random = field(default_factory=random.Random)
    _admitted: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.configure(self.latency_ms, self.rate_limit, self.seed)

    def configure(
        self,
        latency_ms: float | None = None,
        rate_limit: int | None = None,
        seed: int | None = None,
    ) -> None:
        if latency_ms is not None:
            if not latency_ms >= 0:
                raise ValueError(f"latency_ms must be 0 or more, not {latency_ms}")
            self.latency_ms = float(latency_ms)
        if rate_limit is not None:
            if rate_limit < 0:
                raise ValueError(f"rate_limit must be 0 (unlimited) or more, not {rate_limit}")
            self.rate_limit = int(rate_limit)
            self._admitted.clear()
        if seed is not None:
            self.seed = int(seed)
            self._random.seed(self.seed)

    def delay(self) -> float:
        """Seconds the next request waits."""
        if not self.latency_ms:
            return 0.0
        factor = min(math.exp(self._random.gauss(0.0, LATENCY_SPREAD)), LATENCY_CAP)
        return self.latency_ms * factor / 1000

    def admit(self) -> bool:
        """Whether one more request fits in the rate limit (counted as served if it does)."""
        if self.rate_limit:
            now = self.clock()
            while self._admitted and self._admitted[0] <= now - RATE_LIMIT_WINDOW_SECONDS:
                self._admitted.popleft()
            if len(self._admitted) >= self.rate_limit:
                self.refused += 1
                return False
            self._admitted.append(now)
        self.served += 1
        return True

    def settings(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "latency_spread": LATENCY_SPREAD,
            "rate_limit": self.rate_limit,
            "seed": self.seed,
            "served": self.served,
            "refused": self.refused,
        }


network = Network()


def _rate_limited() -> web.Response:
    # No `Stripe-Should-Retry` header: Stripe's libraries retry lock timeouts, not rate limits.
    return json_response(
        {
            "error": {
                "code": "rate_limit",
                "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                "message": RATE_LIMITED,
                "type": "invalid_request_error",
            }
        },
        status=429,
    )


@web.middleware
async def network_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API request waits its latency; one over the rate limit is answered 429."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    holds.expire_due_now_and_then()
    admitted = network.admit()
    delay = network.delay()
    if delay:
        await asyncio.sleep(delay)
    if not admitted:
        response = _rate_limited()
        response.headers["Request-Id"] = _request_id()
        return response
    return await handler(request)


async def _network_config_handler(request: web.Request) -> web.Response:
    """`GET/POST /_config/network` (latency_ms, rate_limit, seed): the running stand-in's
    network, changed by tests; the answer says the settings and the requests served and
    refused so far."""
    if request.method == "POST":
        data = await ls_server.get_post_data(request) or {}
        values: dict[str, Any] = {}
        for name, kind in (("latency_ms", float), ("rate_limit", int), ("seed", int)):
            if name in data:
                try:
                    values[name] = kind(data.pop(name))
                except (TypeError, ValueError):
                    raise UserError(400, f"Invalid {name}", {"param": name}) from None
        _unknown(data)
        try:
            network.configure(**values)
        except ValueError as e:
            raise UserError(400, str(e)) from None
        log.info("network: %s", network.settings())
    return json_response(network.settings())


# --- Installation and serving --------------------------------------------------------------------

_OVERRIDES: dict[tuple[str, str], Handler] = {}
PAYMENT_INTENT_KEY = ls.PaymentIntent.object + ":"


class _MemoryStore(ls.Store):
    """localstripe's store, in memory only (never read from nor written to localstripe's
    /tmp/localstripe.pickle), telling the ledger of each balance transaction and the holds of
    each PaymentIntent as they are stored."""

    def dump_to_disk(self) -> None:
        pass

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        if key.startswith(BALANCE_TRANSACTION_KEY):
            ledger.noted(value)
        elif key.startswith(PAYMENT_INTENT_KEY):
            holds.noted(value)

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        if key.startswith(BALANCE_TRANSACTION_KEY):
            ledger.forget_later()
        elif key.startswith(PAYMENT_INTENT_KEY):
            holds.forget(key[len(PAYMENT_INTENT_KEY) :])

    def clear(self) -> None:
        dict.clear(self)
        ledger.reset()
        holds.reset()


_installed = False


def install() -> web.Application:
    """Patch localstripe and add the routes above to its app (once per process); returns it."""
    global _installed
    app: web.Application = ls_server.app
    if _installed:
        return app
    _installed = True

    # In memory only: never read nor write localstripe's /tmp/localstripe.pickle.
    ls.store.__class__ = _MemoryStore
    ls.store.clear()
    ls_webhooks._webhooks.clear()
    ls_webhooks._send_webhook = _send_webhook

    ls.PaymentMethod.__init__ = _payment_method_init
    ls.PaymentMethod._try_get_canonical_test_article = classmethod(_canonical_test_payment_method)
    ls.PaymentMethod._charging_is_declined = _charging_is_declined
    ls.Charge._set_auth_failure = _set_auth_failure
    ls.Charge._raise_failure = _charge_raise_failure
    ls.Charge._capture = _charge_capture
    ls.Charge.amount_captured = property(_charge_amount_captured)
    ls.PaymentIntent.amount_capturable = property(_pi_amount_capturable)
    ls.PaymentIntent.amount_received = property(_pi_amount_received)
    ls.PaymentIntent.last_payment_error = property(_pi_last_payment_error)
    ls.PaymentIntent.canceled_at = None
    ls.PaymentIntent.cancellation_reason = None
    ls.PaymentIntent._report_failure = _pi_report_failure
    _install_shapes()
    ls.PaymentIntent._api_create = classmethod(_pi_create)
    ls.BalanceTransaction._api_list_all = classmethod(_balance_transactions_list)
    ls.BalanceTransaction.__init__ = _balance_transaction_init
    ls.BalanceTransaction.status = property(_balance_transaction_status, lambda self, value: None)
    ls.time = clock  # localstripe's timestamps (`created`) follow the stand-in's clock

    _OVERRIDES[("POST", "/v1/payment_intents/{id}/cancel")] = _pi_cancel_handler
    _OVERRIDES[("POST", "/v1/payment_intents/{id}/capture")] = _pi_capture_handler
    _OVERRIDES[("GET", "/v1/balance")] = _balance_handler
    _OVERRIDES[("POST", "/v1/refunds")] = _refund_create_handler
    ls.Charge.refunded = property(_charge_refunded)
    ls.Refund.reason = None
    ls.PaymentIntent._on_success = _pi_on_success

    router = app.router
    for cls in (Account, Transfer, WebhookEndpoint, Dispute):
        url = "/v1/" + cls.object + "s"
        router.add_post(url, ls_server.api_create(cls, url))
        router.add_get(url, ls_server.api_list_all(cls, url))
        router.add_get(url + "/{id}", ls_server.api_retrieve(cls, url))
        router.add_post(url + "/{id}", ls_server.api_update(cls, url))
        router.add_delete(url + "/{id}", ls_server.api_delete(cls, url))
    router.add_post("/v1/account_links", _account_links_handler)
    router.add_post("/v1/disputes/{id}/close", _dispute_close_handler)
    router.add_post("/_dev/disputes/{id}/close", _dev_dispute_outcome_handler)
    router.add_post("/_dev/payment_intents/{id}/expire", _dev_expire_hold_handler)
    router.add_post("/_dev/accounts/{id}/payout_failed", _dev_payout_failed_handler)
    router.add_post("/v1/transfers/{id}/reversals", _transfer_reversals_handler)
    router.add_get("/v1/transfers/{id}/reversals", _transfer_reversals_handler)
    router.add_post("/_dev/accounts/{id}/complete_onboarding", _complete_onboarding_handler)

    middlewares = app.middlewares
    auth = middlewares.index(ls_server.auth_middleware)
    middlewares.insert(auth + 1, stripe_errors_middleware)
    middlewares.insert(auth + 2, parameters_middleware)
    middlewares.insert(auth + 3, idempotency_middleware)
    PARAMETERS.update(_load_parameters())
    middlewares.insert(auth, onboarding_page_middleware)
    middlewares.insert(0, transfer_delay_middleware)
    middlewares.insert(0, network_middleware)
    router.add_get("/_config/clock", _clock_config_handler)
    router.add_post("/_config/clock", _clock_config_handler)
    router.add_get("/_config/network", _network_config_handler)
    router.add_post("/_config/network", _network_config_handler)
    return app


TRANSFER_DELAY_SECONDS = 0.0
"""Tests only (`--transfer-delay`): how long the stand-in takes to answer each transfer, so a
test can interrupt a payout run half-way. Stripe itself answers in a fraction of a second."""


@web.middleware
async def transfer_delay_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if TRANSFER_DELAY_SECONDS and request.method == "POST" and request.path == "/v1/transfers":
        await asyncio.sleep(TRANSFER_DELAY_SECONDS)
    return await handler(request)


def _check_loopback(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the Stripe stand-in serves the loopback interface only, not {host!r}")


def webhook_secret(connect: bool = False) -> str:
    """The signing secret of endpoints configured at start-up, from the environment (the
    variables the services verify deliveries with)."""
    return StripeSettings.from_env(connect).webhook_secret


def configure_webhooks(
    webhooks: Sequence[str] = (), connect_webhooks: Sequence[str] = ()
) -> list[WebhookEndpoint]:
    """Register the endpoints given at start-up (`--webhook`, `--connect-webhook`)."""
    install()
    endpoints = []
    for urls, connect in ((webhooks, False), (connect_webhooks, True)):
        for url in urls:
            endpoint = WebhookEndpoint._configure(url, webhook_secret(connect), connect=connect)
            log.info(
                "webhook endpoint %s: %s (%s events)",
                endpoint.id,
                url,
                "Connect" if connect else "platform",
            )
            endpoints.append(endpoint)
    return endpoints


async def run(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
    webhooks: Sequence[str] = (),
    connect_webhooks: Sequence[str] = (),
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT arrives, when `stop` is not given), with
    webhook endpoints for every event at `webhooks` and for Connect events at
    `connect_webhooks` (see `configure_webhooks`)."""
    _check_loopback(host)
    app = install()
    configure_webhooks(webhooks, connect_webhooks)
    runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access"))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        url = f"http://{host if ':' not in host else f'[{host}]'}:{bound_port}"
        log.info("Stripe stand-in listening on %s", url)
        if on_ready is not None:
            on_ready(url)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        expiry = asyncio.create_task(_expire_holds_in_the_background(stop))
        await stop.wait()
        await expiry
    finally:
        await runner.cleanup()


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    webhooks: Sequence[str] = (),
    connect_webhooks: Sequence[str] = (),
) -> None:
    """Run the stand-in in this (main) thread until SIGTERM or SIGINT."""

    def ready(url: str) -> None:
        print(f"Stripe stand-in listening on {url}", flush=True)

    asyncio.run(
        run(host, port, on_ready=ready, webhooks=webhooks, connect_webhooks=connect_webhooks)
    )


def configure_settlement(
    currencies: str,
    *,
    available_after: float = 0.0,
    fee_percent: float = 2.9,
    fee_fixed: int = 30,
    dispute_fee: int = 1500,
    exchange_rates: Sequence[str] = (),
) -> Settlement:
    """Set how captured funds reach the balance (`--settlement-currency` and the rest)."""
    rates = dict(USD_PER_UNIT)
    for item in exchange_rates:
        name, _, value = item.partition("=")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"--exchange-rate wants CUR=USD_PER_UNIT, not {item!r}") from None
        if not (len(name) == 3 and name.isalpha() and rate > 0):
            raise ValueError(f"--exchange-rate wants CUR=USD_PER_UNIT, not {item!r}")
        rates[name.lower()] = rate
    names = tuple(c.strip().lower() for c in currencies.split(",") if c.strip())
    if not names or not all(len(c) == 3 and c.isalpha() for c in names):
        raise ValueError(f"--settlement-currency wants currency codes, not {currencies!r}")
    if names[0] not in rates:
        raise ValueError(f"no exchange rate for the settlement currency {names[0]}")
    if min(available_after, fee_percent, fee_fixed, dispute_fee) < 0:
        raise ValueError("the settlement delay and fees must be 0 or more")
    settlement.currencies = names
    settlement.available_after = available_after
    settlement.fee_percent = fee_percent
    settlement.fee_fixed = fee_fixed
    settlement.dispute_fee = dispute_fee
    settlement.usd_per_unit = rates
    return settlement


def _opening_balances(items: Sequence[str]) -> dict[str, int]:
    balances: dict[str, int] = {}
    for item in items:
        name, _, value = item.partition("=")
        if not (len(name) == 3 and name.isalpha() and value.isdigit()):
            raise ValueError(f"--opening-balance wants CUR=MINOR_UNITS, not {item!r}")
        balances[name.lower()] = balances.get(name.lower(), 0) + int(value)
    return balances


def _env_number(name: str, kind: type[float] | type[int], parser: Any) -> Any:
    value = os.environ.get(name, "").strip()
    if not value:
        return kind(0)
    try:
        return kind(value)
    except ValueError:
        parser.error(f"{name} must be a number, not {value!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools stripe",
        description="Local Stripe-compatible server (localstripe+).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="a loopback address")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (printed)"
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="send every platform event to URL, signed with STRIPE_WEBHOOK_SECRET "
        f"(default {DEFAULT_WEBHOOK_SECRET}); repeatable",
    )
    parser.add_argument(
        "--connect-webhook",
        action="append",
        default=[],
        metavar="URL",
        help="send every Connect event (of connected accounts) to URL, signed with "
        f"STRIPE_CONNECT_WEBHOOK_SECRET (default {DEFAULT_CONNECT_WEBHOOK_SECRET}); repeatable",
    )
    parser.add_argument(
        "--transfer-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="tests only: answer each transfer after SECONDS (to interrupt a payout run)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=_env_number("STRIPE_STAND_IN_LATENCY_MS", float, parser),
        metavar="MS",
        help="median latency of each API request, spread log-normally around it "
        "(env STRIPE_STAND_IN_LATENCY_MS; default 0: none)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=_env_number("STRIPE_STAND_IN_RATE_LIMIT", int, parser),
        metavar="PER_SECOND",
        help="API requests served per second, more answered 429 rate_limit as Stripe does "
        "(env STRIPE_STAND_IN_RATE_LIMIT; default 0: unlimited; Stripe: 25 in test mode)",
    )
    parser.add_argument(
        "--latency-seed", type=int, default=0, help="seed of the latency's spread (default 0)"
    )
    parser.add_argument(
        "--settlement-currency",
        default="usd",
        metavar="CUR[,CUR...]",
        help="the platform's settlement currency (default usd): charges in other currencies of "
        "the rate table are converted into it; further ones, comma-separated, are held as they "
        "are (multi-currency settlement)",
    )
    parser.add_argument(
        "--available-after-seconds",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long a charge's funds stay pending before they are available (default 0; "
        "Stripe: about 2 days in the US)",
    )
    parser.add_argument(
        "--fee-percent",
        type=float,
        default=2.9,
        help="Stripe's fee on each charge, percent of the settled amount (default 2.9)",
    )
    parser.add_argument(
        "--fee-fixed",
        type=int,
        default=30,
        metavar="MINOR_UNITS",
        help="and its fixed part, in the settlement currency's minor units (default 30)",
    )
    parser.add_argument(
        "--dispute-fee",
        type=int,
        default=1500,
        metavar="MINOR_UNITS",
        help="Stripe's fee on each dispute, in the settlement currency (default 1500)",
    )
    parser.add_argument(
        "--exchange-rate",
        action="append",
        default=[],
        metavar="CUR=USD",
        help="US dollars per unit of CUR in the fixed rate table (default: "
        + ", ".join(f"{c}={r}" for c, r in USD_PER_UNIT.items())
        + "); repeatable",
    )
    parser.add_argument(
        "--platform-country",
        default="US",
        metavar="CC",
        help="the platform's country (default US): connected accounts elsewhere need "
        "tos_acceptance[service_agreement]=recipient, as on Stripe",
    )
    parser.add_argument(
        "--allow-full-cross-border-accounts",
        action="store_true",
        help="not as Stripe: open accounts abroad without the recipient service agreement "
        "(for callers that do not ask for it yet)",
    )
    parser.add_argument(
        "--account-updates-out-of-order",
        action="store_true",
        help="deliver the account.updated events of an onboarding last first",
    )
    parser.add_argument(
        "--hold-lifetime-seconds",
        type=float,
        default=HOLD_LIFETIME_SECONDS,
        metavar="SECONDS",
        help="how long an uncaptured PaymentIntent stays authorised before Stripe cancels it "
        f"(default {HOLD_LIFETIME_SECONDS}: 7 days)",
    )
    parser.add_argument(
        "--opening-balance",
        action="append",
        default=[],
        metavar="CUR=MINOR_UNITS",
        help="funds available at start-up (a top-up), for a stand-in whose transfers are not "
        "backed by its own charges (the payouts pod's in dev); repeatable",
    )
    args = parser.parse_args(argv)
    try:
        opening = _opening_balances(args.opening_balance)
        configure_settlement(
            args.settlement_currency,
            available_after=args.available_after_seconds,
            fee_percent=args.fee_percent,
            fee_fixed=args.fee_fixed,
            dispute_fee=args.dispute_fee,
            exchange_rates=args.exchange_rate,
        )
    except ValueError as e:
        parser.error(str(e))
    if not args.hold_lifetime_seconds > 0:
        parser.error("--hold-lifetime-seconds must be more than 0")
    holds.lifetime = args.hold_lifetime_seconds
    country = args.platform_country.upper()
    if country not in CONNECT_COUNTRIES:
        parser.error(f"--platform-country: Stripe has no platforms in {args.platform_country!r}")
    connect.platform_country = country
    connect.allow_full_cross_border = args.allow_full_cross_border_accounts
    connect.out_of_order = args.account_updates_out_of_order
    install()
    for currency, amount in opening.items():
        top_up(amount, currency)
    global TRANSFER_DELAY_SECONDS
    TRANSFER_DELAY_SECONDS = max(0.0, args.transfer_delay)
    try:
        network.configure(args.latency_ms, args.rate_limit, args.latency_seed)
    except ValueError as e:
        parser.error(str(e))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    try:
        _check_loopback(args.host)
        configure_webhooks(args.webhook, args.connect_webhook)
    except ValueError as e:
        parser.error(str(e))
    except UserError as e:
        parser.error(f"webhook: {e.body['error']['message']}")
    serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    # Run the module under its own name, so that its state (the idempotency cache, the install
    # flag) lives in `devtools.stripe_server` and not in a second copy called `__main__`.
    from devtools.stripe_server import main as _main

    sys.exit(_main(sys.argv[1:]))
