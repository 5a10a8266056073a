"""The Stripe stand-in answers in Stripe's shapes: each object Headstore reads, made and read
through the official SDK as billing, payouts and finance call it, is checked against the shape
Stripe's published OpenAPI spec gives it (devtools/stripe_openapi/shapes.json, extracted by
scripts/stripe_shapes.py; docs/stripe-stand-in.md).

A field of the wrong type, an enum value Stripe does not have, a required field missing, or a
field Stripe's object does not have at all fails, naming the object, the field, what Stripe says
and what the stand-in returned. The few deliberate differences are in EXCEPTIONS, each with its
reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import stripe

from devtools.testing import ROOT, stripe_stand_in

pytestmark = pytest.mark.integration

SHAPES = json.loads((ROOT / "devtools/stripe_openapi/shapes.json").read_text())

# (object, field) -> why the stand-in may differ from Stripe there. Only fields Headstore's code
# does not read belong here; a difference on a field it reads is fixed in the stand-in instead.
EXCEPTIONS: dict[tuple[str, str], str] = {}

# Objects Stripe has and the stand-in does not serve: no shape to check, and why.
NOT_SERVED: dict[str, str] = {}


def _field(path: Any) -> str:
    return ".".join(str(p) for p in path) or "(the object)"


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def shape_problems(name: str, returned: dict[str, Any]) -> list[str]:
    """What, in `returned` (the stand-in's JSON of a `name` object), is not Stripe's shape."""
    shape = SHAPES["objects"][name]
    validator = jsonschema.Draft202012Validator(shape)
    problems = []
    for error in validator.iter_errors(returned):
        field = _field(error.absolute_path)
        if error.validator == "required":
            missing = str(error.message).split("'")[1]
            field = f"{field}.{missing}" if error.absolute_path else missing
        if (name, field) in EXCEPTIONS:
            continue
        stripe_says = {k: v for k, v in error.schema.items() if k != "properties"}
        if error.validator == "required":
            stripe_says = {"required": [field.rsplit(".", 1)[-1]]}
        problems.append(
            f"{name}.{field}: Stripe says {_short(stripe_says)}; the stand-in returned "
            f"{_short(error.instance) if error.validator != 'required' else '(nothing)'}"
            f" [{error.message[:160]}]"
        )
    for field in sorted(set(returned) - set(shape["properties"])):
        if (name, field) not in EXCEPTIONS:
            problems.append(
                f"{name}.{field}: Stripe's {name} has no such field; the stand-in returned "
                f"{_short(returned[field])}"
            )
    return problems


class Checked:
    """Collects every object checked, so one run reports every difference at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen: dict[str, int] = {}

    def __call__(self, name: str, obj: Any) -> Any:
        returned = obj.to_dict() if isinstance(obj, stripe.StripeObject) else obj
        assert isinstance(returned, dict), f"{name}: not a JSON object: {returned!r}"
        assert returned.get("object") == name, f"expected a {name}, got {returned.get('object')}"
        self.seen[name] = self.seen.get(name, 0) + 1
        for problem in shape_problems(name, returned):
            if problem not in self.problems:
                self.problems.append(problem)
        return obj


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stripe.StripeClient]:
    log: Path = tmp_path_factory.mktemp("stripe-shapes") / "server.log"
    with stripe_stand_in(log) as url:
        yield stripe.StripeClient(
            api_key="sk_test_x", base_addresses={"api": url}, max_network_retries=0
        )


def test_the_shapes_name_their_source() -> None:
    source = SHAPES["source"]
    assert source["repo"] == "stripe/openapi" and source["commit"] and source["api_version"]
    assert set(NOT_SERVED) | {"payment_intent", "account", "transfer", "event", "dispute"} <= set(
        SHAPES["objects"]
    )


def test_a_wrong_field_is_reported_with_what_stripe_says() -> None:
    problems = shape_problems(
        "transfer", {"object": "transfer", "id": "tr_1", "amount": "100", "wrong": 1}
    )
    text = "\n".join(problems)
    assert 'transfer.amount: Stripe says {"type": "integer"}; the stand-in returned "100"' in text
    assert "transfer.currency: Stripe says" in text and "(nothing)" in text
    assert "transfer.wrong: Stripe's transfer has no such field" in text


def test_the_stand_in_answers_in_stripe_shapes(client: stripe.StripeClient) -> None:
    check = Checked()
    run = uuid.uuid4().hex[:8]

    # Billing: a customer, a setup intent, a card retrieved and attached (attach_card).
    customer = check(
        "customer",
        client.v1.customers.create(
            params={"metadata": {"client_id": f"client-{run}"}},
            options={"idempotency_key": f"customer:{run}"},
        ),
    )
    check("customer", client.v1.customers.retrieve(customer.id))
    setup: Any = {"customer": customer.id, "usage": "off_session", "payment_method_types": ["card"]}
    check("setup_intent", client.v1.setup_intents.create(params=setup))
    card: Any = {
        "type": "card",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    }
    method = check("payment_method", client.v1.payment_methods.create(card))
    check("payment_method", client.v1.payment_methods.retrieve(method.id))
    check(
        "payment_method",
        client.v1.payment_methods.attach(
            method.id,
            params={"customer": customer.id},
            options={"idempotency_key": f"attach:{customer.id}:{method.id}"},
        ),
    )

    # Billing: holds (manual capture, confirmed off session), captured or cancelled.
    def hold(amount: int) -> Any:
        return check(
            "payment_intent",
            client.v1.payment_intents.create(
                params={
                    "amount": amount,
                    "currency": "usd",
                    "customer": customer.id,
                    "payment_method": method.id,
                    "capture_method": "manual",
                    "confirm": True,
                    "off_session": True,
                    "description": f"session {run}",
                },
                options={"idempotency_key": f"hold:{run}:{amount}"},
            ),
        )

    held = hold(2500)
    assert held.status == "requires_capture"
    captured = check(
        "payment_intent",
        client.v1.payment_intents.capture(
            held.id, params={"amount_to_capture": 2000}, options={"idempotency_key": f"c:{run}"}
        ),
    )
    released = hold(1500)
    check(
        "payment_intent",
        client.v1.payment_intents.cancel(released.id, options={"idempotency_key": f"x:{run}"}),
    )
    check("payment_intent", client.v1.payment_intents.retrieve(held.id))
    check("charge", client.v1.charges.retrieve(str(captured.latest_charge)))

    check("refund", client.v1.refunds.create(params={"payment_intent": captured.id, "amount": 300}))

    # Payouts: an Express account, its onboarding link, onboarding, a transfer.
    account = check(
        "account",
        client.v1.accounts.create(
            params={
                "type": "express",
                "country": "US",
                "email": f"expert-{run}@example.com",
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"account_id": f"expert-{run}"},
            },
            options={"idempotency_key": f"account:{run}"},
        ),
    )
    check(
        "account_link",
        client.v1.account_links.create(
            params={
                "account": account.id,
                "refresh_url": "http://127.0.0.1/refresh",
                "return_url": "http://127.0.0.1/return",
                "type": "account_onboarding",
            }
        ),
    )
    client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
    check("account", client.v1.accounts.retrieve(account.id))
    transfer = check(
        "transfer",
        client.v1.transfers.create(
            params={
                "amount": 1000,
                "currency": "usd",
                "destination": account.id,
                "transfer_group": f"week-{run}",
                "metadata": {"payee": f"expert-{run}"},
            },
            options={"idempotency_key": f"transfer:{run}"},
        ),
    )
    check("transfer", client.v1.transfers.retrieve(transfer.id))

    # Billing's webhooks: a chargeback, a captured charge on Stripe's dispute test card.
    disputed_pm: Any = {
        "amount": 3000,
        "currency": "usd",
        "payment_method": "pm_card_createDispute",
        "confirm": True,
    }
    disputed = check("payment_intent", client.v1.payment_intents.create(disputed_pm))
    for dispute in client.v1.disputes.list({"payment_intent": disputed.id}).auto_paging_iter():
        check("dispute", dispute)
        check("dispute", client.v1.disputes.retrieve(dispute.id))

    # Finance: the balance transactions of charges and transfers, the intents, the balance.
    for kind in ("charge", "transfer", "refund", "adjustment"):
        params: Any = {"type": kind, "limit": 100}
        for txn in client.v1.balance_transactions.list(params).auto_paging_iter():
            check("balance_transaction", txn)
    for intent in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
        check("payment_intent", intent)
    check("balance", client.v1.balance.retrieve())

    # Webhooks: the events billing and payouts receive, as the events API lists them.
    types = set()
    for event in client.v1.events.list({"limit": 100}).auto_paging_iter():
        check("event", event)
        types.add(event.type)
        inner = event.data.object.to_dict()  # what the webhook handlers read of it
        if inner.get("object") in SHAPES["objects"]:
            check(inner["object"], inner)
    assert {
        "account.updated",
        "payment_intent.succeeded",
        "transfer.created",
        "charge.refunded",
        "charge.dispute.created",
    } <= types

    expected = set(SHAPES["objects"]) - set(NOT_SERVED)
    assert set(check.seen) == expected, f"not checked: {sorted(expected - set(check.seen))}"
    assert not check.problems, (
        f"{len(check.problems)} differences from Stripe's shapes (API "
        f"{SHAPES['source']['api_version']}):\n" + "\n".join(check.problems)
    )
