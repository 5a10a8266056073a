"""Payouts: what each payee (an expert, or an ambassador) has earned and been paid, their
Stripe connected account, and the weekly runs that transfer the unpaid balance.

Weeks are numbered from a configured anchor with a configured length (`PayoutWeeks`), so tests
run a week in seconds. Week `w` holds what was earned from `start(w)` (inclusive) to
`start(w + 1)`; the run labelled `w` starts once week `w` is over and pays everything earned
up to its end. A failed transfer leaves the balance unpaid, so the next run pays it.

One module per aggregate (payout_account, payee, referral, expert_statistics, payout_run),
what they share in values.py.
"""

from __future__ import annotations

from headstore.topics import register_stable_topics
from services.payouts.domain.expert_statistics import ExpertStatistics, statistics_id
from services.payouts.domain.payee import Payee, payee_id
from services.payouts.domain.payout_account import (
    ACTIVE,
    PENDING,
    RESTRICTED,
    PayoutAccount,
    payout_account_id,
)
from services.payouts.domain.payout_run import PayoutRun, run_id, transfer_group, transfer_key
from services.payouts.domain.referral import Referral, referral_id
from services.payouts.domain.values import (
    AMBASSADOR_SHARE,
    BASIS_POINTS,
    CARRIED,
    EARNINGS,
    ENTRIES,
    FAILED,
    FULL,
    KEPT_WEEKS,
    PAYOUT_COUNTRIES,
    RECIPIENT,
    SENT,
    PayoutWeeks,
    check_country,
    payout_countries,
    service_agreement,
    share_of,
)

__all__ = [
    "ACTIVE",
    "AMBASSADOR_SHARE",
    "BASIS_POINTS",
    "CARRIED",
    "EARNINGS",
    "ENTRIES",
    "ExpertStatistics",
    "FAILED",
    "FULL",
    "KEPT_WEEKS",
    "PAYOUT_COUNTRIES",
    "PENDING",
    "Payee",
    "PayoutAccount",
    "PayoutRun",
    "PayoutWeeks",
    "RECIPIENT",
    "RESTRICTED",
    "Referral",
    "SENT",
    "check_country",
    "payee_id",
    "payout_account_id",
    "payout_countries",
    "referral_id",
    "run_id",
    "service_agreement",
    "share_of",
    "statistics_id",
    "transfer_group",
    "transfer_key",
]

# Stored as `payouts:Payee.Credited` and so on, wherever the classes live; the topics stored
# while they lived in services/payouts/domain.py resolve to the same classes (headstore.topics).
register_stable_topics(
    "payouts",
    PayoutAccount,
    Payee,
    Referral,
    ExpertStatistics,
    PayoutRun,
    previous=("services.payouts.domain",),
)
