"""The card a client pays sessions with (`CardOnFile`): a Stripe customer and payment method,
accepted only for the brands the FAQ accepts in the card's country.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput
from services.billing.domain.values import check_id


def card_id(client_id: str) -> UUID:
    return stable_id("card", client_id)


BRAND_NAMES = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "jcb": "JCB",
    "discover": "Discover",
    "diners": "Diners Club",
    "unionpay": "UnionPay",
}
"""Stripe's card brand codes and the names people know them by."""

_BRAND_ALIASES = {
    "master card": "mastercard",
    "american express": "amex",
    "americanexpress": "amex",
    "diners club": "diners",
    "dinersclub": "diners",
    "union pay": "unionpay",
}

US_BRANDS = frozenset({"visa", "mastercard", "amex", "jcb", "discover", "diners"})
INTERNATIONAL_BRANDS = frozenset({"visa", "mastercard", "amex"})

_EU = "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE"
_EEA_UK_CH = "IS LI NO GB CH"
EUROPE = frozenset(f"{_EU} {_EEA_UK_CH}".split())
"""Europe as the FAQ means it: the EU and EEA, the United Kingdom and Switzerland."""

ACCEPTED_BRANDS: dict[str, frozenset[str]] = {
    "US": US_BRANDS,
    "AU": INTERNATIONAL_BRANDS,
    "CA": INTERNATIONAL_BRANDS,
    "JP": INTERNATIONAL_BRANDS,
    **{country: INTERNATIONAL_BRANDS for country in EUROPE},
}
"""The FAQ's rule: in the US Visa, Mastercard, Amex, JCB, Discover and Diners Club; in
Australia, Canada, Europe and Japan Visa, Mastercard and Amex; nowhere else."""


def normalise_brand(brand: str) -> str:
    text = (
        " ".join(brand.strip().lower().replace("_", " ").split()) if isinstance(brand, str) else ""
    )
    return _BRAND_ALIASES.get(text, text.replace(" ", ""))


def check_card(brand: str, country: str) -> tuple[str, str]:
    """(brand code, country code) if the FAQ accepts a `brand` card issued in `country`;
    InvalidInput `card_brand_not_accepted` naming both if not."""
    code = normalise_brand(brand)
    if not code:
        raise InvalidInput("card_brand_required", "The card's brand is required.", "brand")
    region = country.strip().upper() if isinstance(country, str) else ""
    if len(region) != 2 or not region.isalpha():
        raise InvalidInput(
            "invalid_card_country",
            f"{country!r} is not a two-letter country code like US or DE.",
            "country",
        )
    accepted = ACCEPTED_BRANDS.get(region, frozenset())
    if code not in accepted:
        name = BRAND_NAMES.get(code, brand.strip())
        if accepted:
            allowed = ", ".join(BRAND_NAMES[b] for b in sorted(accepted))
            hint = f"cards from {region} can be {allowed}."
        else:
            hint = "cards are accepted from the United States, Australia, Canada, Europe and Japan."
        raise InvalidInput(
            "card_brand_not_accepted",
            f"{name} cards from {region} are not accepted; {hint}",
            "brand",
        )
    return code, region


class CardOnFile(Aggregate):
    """The card a client pays sessions with: a Stripe customer and payment method."""

    class Saved(Aggregate.Created):
        client_id: str
        customer_id: str
        payment_method_id: str
        brand: str
        last4: str
        country: str
        exp_month: int = 0
        exp_year: int = 0
        """The card's expiry; 0 in events stored before it was kept."""

        def apply(self, card: CardOnFile) -> None:
            card._set(self)

    class Replaced(Aggregate.Event):
        client_id: str
        customer_id: str
        payment_method_id: str
        brand: str
        last4: str
        country: str
        exp_month: int = 0
        exp_year: int = 0
        """The card's expiry; 0 in events stored before it was kept."""

        def apply(self, card: CardOnFile) -> None:
            card._set(self)

    def __init__(self) -> None:
        self.client_id = ""
        self.customer_id = ""
        self.payment_method_id = ""
        self.brand = ""
        self.last4 = ""
        self.country = ""
        self.exp_month = 0
        self.exp_year = 0

    def _set(self, event: Any) -> None:
        self.client_id = event.client_id
        self.customer_id = event.customer_id
        self.payment_method_id = event.payment_method_id
        self.brand = event.brand
        self.last4 = event.last4
        self.country = event.country
        self.exp_month = event.exp_month
        self.exp_year = event.exp_year

    def expired(self, year: int, month: int) -> bool:
        """Whether the card stopped working before (year, month); unknown expiry: False."""
        return bool(self.exp_year) and (self.exp_year, self.exp_month) < (year, month)

    @staticmethod
    def _check(
        client_id: str,
        customer_id: str,
        payment_method_id: str,
        brand: str,
        last4: str,
        country: str,
        exp_month: int,
        exp_year: int,
    ) -> dict[str, Any]:
        code, region = check_card(brand, country)
        if (
            isinstance(exp_month, bool)
            or not isinstance(exp_month, int)
            or isinstance(exp_year, bool)
            or not isinstance(exp_year, int)
            or not 1 <= exp_month <= 12
            or not 2000 <= exp_year <= 2200
        ):
            raise InvalidInput(
                "invalid_card_expiry",
                "The card's expiry must be a month (1-12) and a four-digit year.",
                "exp_month",
            )
        digits = last4.strip() if isinstance(last4, str) else ""
        if len(digits) != 4 or not digits.isdigit():
            raise InvalidInput(
                "invalid_last4", "last4 must be the card's last four digits.", "last4"
            )
        return {
            "client_id": check_id(client_id, "client_id", "The client id"),
            "customer_id": check_id(customer_id, "customer_id", "The Stripe customer id"),
            "payment_method_id": check_id(
                payment_method_id, "payment_method_id", "The Stripe payment method id"
            ),
            "brand": code,
            "last4": digits,
            "country": region,
            "exp_month": exp_month,
            "exp_year": exp_year,
        }

    @classmethod
    def save(
        cls,
        *,
        client_id: str,
        customer_id: str,
        payment_method_id: str,
        brand: str,
        last4: str,
        country: str,
        exp_month: int,
        exp_year: int,
    ) -> CardOnFile:
        fields = cls._check(
            client_id, customer_id, payment_method_id, brand, last4, country, exp_month, exp_year
        )
        return cls._create(cls.Saved, id=card_id(fields["client_id"]), **fields)

    def replace(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        brand: str,
        last4: str,
        country: str,
        exp_month: int,
        exp_year: int,
    ) -> bool:
        """Pay with another card from now on; False (no-op) if it is the same card, as it was."""
        fields = self._check(
            self.client_id,
            customer_id,
            payment_method_id,
            brand,
            last4,
            country,
            exp_month,
            exp_year,
        )
        if (
            fields["payment_method_id"] == self.payment_method_id
            and fields["customer_id"] == self.customer_id
            and (fields["exp_month"], fields["exp_year"]) == (self.exp_month, self.exp_year)
        ):
            return False
        self.trigger_event(self.Replaced, **fields)
        return True
