from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from eventsourcing.utils import get_topic
from nameko.testing.services import worker_factory

from contracts.billing.v1 import billing_pb2 as api
from headstore.errors import InvalidInput
from services.billing.adapters.stripe import CardDetails
from services.billing.domain import CardOnFile, card_id, check_card
from services.billing.service import BillingService


@pytest.fixture(autouse=True)
def _clock(clock):
    return clock


def card(brand: str = "visa", country: str = "US", **kwargs: Any) -> CardOnFile:
    """A card saved with these details (`kwargs` may be of the wrong type: refusals are tested)."""
    fields: dict[str, Any] = {
        "client_id": "client-1",
        "customer_id": "cus_1",
        "payment_method_id": "pm_1",
        "brand": brand,
        "last4": "4242",
        "country": country,
        "exp_month": 12,
        "exp_year": 2034,
        **kwargs,
    }
    return CardOnFile.save(**fields)


@pytest.mark.parametrize("brand", ["visa", "mastercard", "amex", "jcb", "discover", "diners"])
def test_us_cards_of_the_six_brands_are_accepted(brand):
    assert card(brand, "US").brand == brand


@pytest.mark.parametrize("country", ["AU", "CA", "JP", "DE", "FR", "IE", "NO", "GB", "CH", "at"])
@pytest.mark.parametrize("brand", ["visa", "mastercard", "amex"])
def test_cards_from_australia_canada_europe_and_japan_of_three_brands_are_accepted(brand, country):
    saved = card(brand, country)
    assert (saved.brand, saved.country) == (brand, country.upper())


@pytest.mark.parametrize("brand", ["jcb", "discover", "diners", "unionpay"])
@pytest.mark.parametrize("country", ["AU", "CA", "JP", "DE", "GB", "CH"])
def test_other_brands_outside_the_us_are_refused(brand, country):
    with pytest.raises(InvalidInput) as error:
        card(brand, country)
    assert error.value.code == "card_brand_not_accepted"
    assert country in error.value.message


@pytest.mark.parametrize("country", ["BR", "MX", "SG", "IN", "CN"])
def test_cards_from_other_regions_are_refused(country):
    with pytest.raises(InvalidInput) as error:
        card("visa", country)
    assert error.value.code == "card_brand_not_accepted"
    assert "Visa" in error.value.message and country in error.value.message


def test_the_refusal_names_the_brand_and_the_country():
    with pytest.raises(InvalidInput) as error:
        check_card("discover", "DE")
    assert error.value.message.startswith("Discover cards from DE are not accepted")
    assert error.value.field == "brand"


def test_brand_spellings_people_use_are_understood():
    assert check_card("American Express", "GB") == ("amex", "GB")
    assert check_card("MasterCard", "JP") == ("mastercard", "JP")
    assert check_card("Diners Club", "US") == ("diners", "US")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"last4": "42"}, "invalid_last4"),
        ({"customer_id": ""}, "customer_id_required"),
        ({"payment_method_id": " "}, "payment_method_id_required"),
        ({"country": "USA"}, "invalid_card_country"),
        ({"brand": ""}, "card_brand_required"),
    ],
)
def test_bad_card_details_are_refused(kwargs, code):
    with pytest.raises(InvalidInput) as error:
        card(**kwargs)
    assert error.value.code == code


def test_a_client_has_one_card_on_file_which_can_be_replaced():
    saved = card()
    assert saved.id == card_id("client-1")
    other: dict[str, Any] = {
        "customer_id": "cus_1",
        "payment_method_id": "pm_2",
        "brand": "amex",
        "last4": "0005",
        "country": "US",
        "exp_month": 3,
        "exp_year": 2031,
    }
    assert saved.replace(**other)
    assert (saved.payment_method_id, saved.brand, saved.last4) == ("pm_2", "amex", "0005")
    assert (saved.exp_month, saved.exp_year) == (3, 2031)
    assert not saved.replace(**other)


@pytest.mark.parametrize(
    ("exp_month", "exp_year"), [(0, 2030), (13, 2030), (12, 30), (True, 2030), (12, "2030")]
)
def test_a_card_without_a_real_expiry_is_refused(exp_month, exp_year):
    with pytest.raises(InvalidInput) as error:
        card(exp_month=exp_month, exp_year=exp_year)
    assert error.value.code == "invalid_card_expiry"


def test_a_card_stops_working_after_its_expiry_month():
    saved = card(exp_month=3, exp_year=2031)
    assert not saved.expired(2031, 3)
    assert saved.expired(2031, 4)
    assert saved.expired(2032, 1)


def test_the_saved_card_is_answered_with_its_expiry(app):
    app.save_card("client-7", "cus_7", "pm_7", "visa", "4242", "US", 11, 2033)
    service = worker_factory(BillingService, store=app)
    answer = service.GetCard(api.GetCardRequest(client_id="client-7"), None)
    assert (answer.brand, answer.last4, answer.exp_month, answer.exp_year) == (
        "visa",
        "4242",
        11,
        2033,
    )


def test_a_card_saved_before_expiries_were_kept_has_none():
    """A Saved event stored without an expiry still loads: expiry 0, never expired."""
    # eventsourcing's metaclass makes each event class a dataclass, which mypy cannot see.
    event = CardOnFile.Saved(  # type: ignore[call-arg]
        originator_id=card_id("client-1"),
        originator_version=1,
        timestamp=card().created_on,
        correlation_id="",
        originator_topic=get_topic(CardOnFile),
        client_id="client-1",
        customer_id="cus_1",
        payment_method_id="pm_1",
        brand="visa",
        last4="4242",
        country="US",
    )
    old = event.mutate(None)
    assert old is not None
    assert (old.exp_month, old.exp_year) == (0, 0)
    assert not old.expired(2099, 1)


class ForgetfulStripe:
    """Creates a new customer on every call, as Stripe does once it has forgotten the
    idempotency key (after 24 hours); the rest of what saving a card needs, answered simply."""

    def __init__(self) -> None:
        self.customers_created: list[str] = []

    def customer_for(self, client_id: str) -> str:
        self.customers_created.append(f"cus_{client_id}_{len(self.customers_created) + 1}")
        return self.customers_created[-1]

    def setup_intent(self, customer_id: str) -> Any:
        return SimpleNamespace(id=f"seti_{customer_id}", client_secret="secret")

    def attach_card(self, customer_id: str, payment_method_id: str) -> Any:
        return CardDetails(payment_method_id, "visa", "4242", "US", 12, 2034)


def test_a_clients_stripe_customer_is_created_once_and_kept(app):
    stripe = ForgetfulStripe()
    service = worker_factory(BillingService, store=app, stripe=stripe)
    first = service.CreateSetupIntent(api.CreateSetupIntentRequest(client_id="client-8"), None)
    later = service.CreateSetupIntent(api.CreateSetupIntentRequest(client_id="client-8"), None)
    saved = service.SaveCard(
        api.SaveCardRequest(client_id="client-8", payment_method_id="pm_8"), None
    )
    assert stripe.customers_created == ["cus_client-8_1"]
    assert first.customer_id == later.customer_id == "cus_client-8_1"
    assert saved.last4 == "4242"
    kept = app.card("client-8")
    assert kept is not None and kept.customer_id == "cus_client-8_1"


def test_a_client_who_saved_a_card_before_customers_were_kept_keeps_that_customer(app):
    app.save_card("client-9", "cus_9", "pm_9", "visa", "4242", "US", 11, 2033)
    stripe = ForgetfulStripe()
    service = worker_factory(BillingService, store=app, stripe=stripe)
    answer = service.CreateSetupIntent(api.CreateSetupIntentRequest(client_id="client-9"), None)
    assert answer.customer_id == "cus_9" and stripe.customers_created == []


def test_of_two_customers_recorded_at_once_the_first_stays(app):
    assert app.record_stripe_customer("client-10", "cus_first") == "cus_first"
    assert app.record_stripe_customer("client-10", "cus_second") == "cus_first"
    assert app.stripe_customer("client-10") == "cus_first"
