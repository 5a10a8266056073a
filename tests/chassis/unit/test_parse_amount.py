"""Amounts people type: ASCII digits, at most two decimals, a bounded number of them."""

from __future__ import annotations

import pytest

from headstore.errors import InvalidInput
from headstore.money import parse_amount


@pytest.mark.parametrize(
    ("text", "minor"), [("3", 300), ("3.5", 350), (" 3.50 ", 350), ("0.01", 1), ("15.00", 1500)]
)
def test_amounts_become_minor_units(text: str, minor: int) -> None:
    assert parse_amount(text, "rate") == minor


@pytest.mark.parametrize(
    "text",
    ["²", "٣", "３", "1" * 30, "3.", ".5", "3.505", "-1", "+1", "1e3", "1_000", "", "NaN"],
)
def test_anything_else_is_invalid_amount_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, "rate_per_minute")
    assert (caught.value.code, caught.value.field) == ("invalid_amount", "rate_per_minute")
