"""Amounts in minor units as people read them: one formatter for mails, messages, the API and
the live view, right for negative amounts and for each currency's minor unit."""

from __future__ import annotations

import pytest

from headstore.money import CURRENCIES, MINOR_UNIT_DIGITS, Money, format_amount, format_money


@pytest.mark.parametrize(
    ("minor", "shown"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (99, "0.99"),
        (100, "1.00"),
        (150, "1.50"),
        (9000, "90.00"),
        (123_456_789_012, "1234567890.12"),
        (-1, "-0.01"),
        (-99, "-0.99"),
        (-100, "-1.00"),
        (-150, "-1.50"),
        (-123_456_789_012, "-1234567890.12"),
    ],
)
def test_minor_units_read_as_an_amount(minor: int, shown: str) -> None:
    assert format_amount(minor, "USD") == shown


def test_a_negative_amount_is_the_positive_one_with_a_minus_sign() -> None:
    for minor in (1, 50, 150, 9999, 10**12 + 7):
        assert format_amount(-minor, "EUR") == "-" + format_amount(minor, "EUR")


@pytest.mark.parametrize("currency", CURRENCIES)
def test_every_currency_we_take_has_two_decimals(currency: str) -> None:
    assert MINOR_UNIT_DIGITS[currency] == 2
    assert format_amount(-150, currency) == "-1.50"
    assert format_money(8100, currency) == f"81.00 {currency}"


def test_every_currency_we_take_has_its_minor_unit_known() -> None:
    assert set(MINOR_UNIT_DIGITS) == set(CURRENCIES)


def test_an_unknown_currency_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="JPY"):
        format_amount(100, "JPY")


def test_money_prints_as_the_formatter_shows_it() -> None:
    """The FAQ's example: 30 minutes at 3.00 USD/min, 81.00 to the expert, 9.00 to the platform."""
    assert str(Money("USD", 9000)) == "90.00 USD"
    assert str(Money("USD", 8100)) == "81.00 USD"
    assert str(Money("GBP", -1)) == "-0.01 GBP"
