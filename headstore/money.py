"""Money in integer minor units with an ISO currency. No floats anywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from headstore.errors import InvalidInput

Currency = Literal["USD", "GBP", "EUR", "CAD", "CHF"]
"""The currencies the FAQ promises."""
CURRENCIES: tuple[Currency, ...] = get_args(Currency)

MINOR_UNIT_DIGITS: dict[str, int] = {"USD": 2, "GBP": 2, "EUR": 2, "CAD": 2, "CHF": 2}
"""Decimal places of each currency's minor unit (ISO 4217): 100 cents, pence or centimes."""


def check_currency(currency: str, field: str = "currency") -> str:
    code = currency.strip().upper()
    if code not in CURRENCIES:
        raise InvalidInput(
            "unsupported_currency",
            f"Currency {currency!r} is not supported; use one of {', '.join(CURRENCIES)}.",
            field,
        )
    return code


@dataclass(frozen=True, order=True)
class Money:
    currency: str
    minor: int

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money amounts are whole minor units")
        check_currency(self.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.currency, self.minor - other.minor)

    def times(self, count: int) -> Money:
        return Money(self.currency, self.minor * count)

    def share(self, numerator: int, denominator: int) -> Money:
        """numerator/denominator of this amount, rounded half up (away from zero on ties)."""
        if denominator <= 0:
            raise ValueError("denominator must be positive")
        doubled = 2 * self.minor * numerator
        quotient = (abs(doubled) + denominator) // (2 * denominator)
        return Money(self.currency, quotient if doubled >= 0 else -quotient)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return format_money(self.minor, self.currency)


def format_amount(minor: int, currency: str) -> str:
    """An amount in minor units as people read it, without the currency: 150 USD → '1.50',
    -150 → '-1.50' (the sign before the whole amount, never only before the cents), 1 → '0.01'.
    No grouping of thousands: the apps format for the reader's locale."""
    digits = MINOR_UNIT_DIGITS.get(currency)
    if digits is None:
        raise ValueError(f"no minor unit known for currency {currency!r}")
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


def format_money(minor: int, currency: str) -> str:
    """The amount and its currency, as mails and messages show it: '1.50 USD'."""
    return f"{format_amount(minor, currency)} {currency}"


MAX_AMOUNT_DIGITS = 9
"""Whole units an amount may have: far beyond any price here, and well inside an int64."""

_AMOUNT = re.compile(rf"([0-9]{{1,{MAX_AMOUNT_DIGITS}}})(?:\.([0-9]{{1,2}}))?")


def parse_amount(text: str, field: str) -> int:
    """'3', '3.5' or '3.50' → 350 minor units, without passing through a float. Digits 0-9
    only: `str.isdigit` would take '²' and '٣', which `int` then refuses or reads."""
    matched = _AMOUNT.fullmatch(text.strip()) if isinstance(text, str) else None
    if matched is None:
        raise InvalidInput("invalid_amount", f"{text!r} is not an amount like 3.50.", field)
    whole, fraction = matched.groups()
    return int(whole) * 100 + int((fraction or "").ljust(2, "0"))
