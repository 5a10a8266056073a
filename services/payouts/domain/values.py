"""What more than one payouts aggregate uses: payout countries, the kinds of credit, transfer
outcomes, basis points and the payout calendar (`PayoutWeeks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from headstore.errors import InvalidInput

PAYOUT_COUNTRIES = {
    "US": "United States",
    "GB": "United Kingdom",
    "AU": "Australia",
    "CA": "Canada",
    "DK": "Denmark",
    "FI": "Finland",
    "IE": "Ireland",
    "NO": "Norway",
    "SE": "Sweden",
    "AT": "Austria",
    "BE": "Belgium",
    "FR": "France",
    "DE": "Germany",
    "IT": "Italy",
    "JP": "Japan",
    "LU": "Luxembourg",
    "NL": "Netherlands",
    "ES": "Spain",
    "BR": "Brazil",
    "MX": "Mexico",
    "PT": "Portugal",
    "SG": "Singapore",
    "CH": "Switzerland",
}
"""The FAQ's 23 payout countries, by ISO 3166-1 alpha-2 code."""

EARNINGS = "earnings"
AMBASSADOR_SHARE = "ambassador_share"
ENTRIES = (EARNINGS, AMBASSADOR_SHARE)


SENT = "sent"
FAILED = "failed"

BASIS_POINTS = 10_000


def check_country(country: str) -> str:
    code = (country or "").strip().upper()
    if code not in PAYOUT_COUNTRIES:
        raise InvalidInput(
            "unsupported_payout_country",
            f"Payouts are not available in {country!r}. They are available in: "
            + ", ".join(sorted(PAYOUT_COUNTRIES.values()))
            + ".",
            "country",
        )
    return code


def share_of(amount_minor: int, basis_points: int) -> int:
    """basis_points/10,000 of a non-negative amount, rounded half up."""
    if amount_minor < 0 or not 0 <= basis_points <= BASIS_POINTS:
        raise ValueError("a share is of a non-negative amount, at most 100%")
    return (2 * amount_minor * basis_points + BASIS_POINTS) // (2 * BASIS_POINTS)


@dataclass(frozen=True)
class PayoutWeeks:
    """The payout calendar: week 0 starts at `anchor`, each lasts `length`."""

    anchor: datetime
    length: timedelta

    def __post_init__(self) -> None:
        if self.anchor.tzinfo is None:
            raise ValueError("the payout week anchor needs a time zone")
        if self.length <= timedelta(0):
            raise ValueError("a payout week lasts a positive time")

    def week_of(self, moment: datetime) -> int:
        return (moment - self.anchor) // self.length

    def start(self, week: int) -> datetime:
        return self.anchor + self.length * week

    def end(self, week: int) -> datetime:
        return self.start(week + 1)

    def last_finished(self, now: datetime) -> int:
        """The newest week that is over at `now`: the one a run at `now` pays up to."""
        return self.week_of(now) - 1
