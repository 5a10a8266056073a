"""What both billing aggregates check the same way."""

from __future__ import annotations

from headstore.errors import InvalidInput
from headstore.text import check_text

MAX_ID_LENGTH = 255
"""Stripe's ids and ours are far shorter."""


def check_id(value: str, field: str, label: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field}_required", f"{label} is required.", field)
    return check_text(value, field, MAX_ID_LENGTH, min_length=1, label=label)
