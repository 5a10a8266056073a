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
CARRIED = "carried"
"""Not sent this run because the platform's available balance did not cover it (seen in the
plan, or Stripe's `balance_insufficient`): the amount stays due and the next run pays it."""

KEPT_WEEKS = 8
"""How many of the newest weeks a payee keeps in detail (per-week totals, the credits of those
weeks by session, transfer outcomes, statements); older weeks are folded into the totals, so a
payee's state (and its snapshot) stays the same size however long it earns."""

BASIS_POINTS = 10_000


EUROPE = frozenset(
    {"AT", "BE", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "LU", "NL", "NO", "PT", "SE"}
)
"""The FAQ's payout countries in the European Economic Area, the United Kingdom and
Switzerland, between which Stripe lets a platform in one of them pay connected accounts."""

FULL = "full"
RECIPIENT = "recipient"


def payout_countries(platform_country: str) -> dict[str, str]:
    """The FAQ's payout countries where a platform registered in `platform_country` can pay
    connected accounts, by code. Stripe's cross-border payouts let a platform in the United
    States pay accounts in every one of them (accounts abroad under the recipient service
    agreement); a platform in Europe pays accounts in Europe; one elsewhere, accounts in its
    own country."""
    platform = platform_country.upper()
    if platform == "US":
        reachable = set(PAYOUT_COUNTRIES)
    elif platform in EUROPE:
        reachable = set(EUROPE)
    else:
        reachable = {platform}
    return {code: name for code, name in PAYOUT_COUNTRIES.items() if code in reachable}


def country_name(code: str) -> str:
    return PAYOUT_COUNTRIES.get(code, code)


def check_country(country: str, platform_country: str = "US") -> str:
    """The payout country's code, if the platform can pay accounts there; else InvalidInput
    `unsupported_payout_country`, naming the country and where payouts are available."""
    code = (country or "").strip().upper()
    allowed = payout_countries(platform_country)
    if code not in allowed:
        named = f"{PAYOUT_COUNTRIES[code]} ({code})" if code in PAYOUT_COUNTRIES else repr(country)
        raise InvalidInput(
            "unsupported_payout_country",
            f"Payouts are not available in {named}. A platform registered in "
            f"{country_name(platform_country.upper())} pays out in: "
            + ", ".join(sorted(allowed.values()))
            + ".",
            "country",
        )
    return code


def service_agreement(country: str, platform_country: str) -> str:
    """Stripe's service agreement for a connected account in `country`: the full one at home,
    the recipient one abroad (an account that only receives transfers from the platform)."""
    return FULL if country.upper() == platform_country.upper() else RECIPIENT


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
