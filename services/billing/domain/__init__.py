"""The billing domain: one `Bill` per paid session (bill.py), one `CardOnFile` per client
(card_on_file.py), the client's `StripeCustomer` (stripe_customer.py), a session's `Refund`
(refund.py) and the `Dispute`s of its charge (dispute.py). Pure: no I/O and no
clock reads; the application passes in the time. Money is integer minor units with the bill's
currency.
"""

from __future__ import annotations

from headstore.topics import register_stable_topics
from services.billing.domain.bill import (
    MAX_SESSION_MINUTES,
    Bill,
    HoldStatus,
    Operation,
    PaymentStep,
    bill_id,
    check_aware,
)
from services.billing.domain.card_on_file import (
    ACCEPTED_BRANDS,
    BRAND_NAMES,
    EUROPE,
    INTERNATIONAL_BRANDS,
    US_BRANDS,
    CardOnFile,
    card_id,
    check_card,
    normalise_brand,
)
from services.billing.domain.dispute import LOST, WON, Dispute, dispute_id
from services.billing.domain.refund import (
    CLIENT_REQUEST,
    STRIPE_DASHBOARD,
    Refund,
    RefundState,
    RefundStep,
    refund_id,
)
from services.billing.domain.stripe_customer import StripeCustomer, stripe_customer_id
from services.billing.domain.values import MAX_ID_LENGTH

__all__ = [
    "ACCEPTED_BRANDS",
    "BRAND_NAMES",
    "Bill",
    "CLIENT_REQUEST",
    "CardOnFile",
    "Dispute",
    "EUROPE",
    "HoldStatus",
    "INTERNATIONAL_BRANDS",
    "LOST",
    "MAX_ID_LENGTH",
    "MAX_SESSION_MINUTES",
    "Operation",
    "PaymentStep",
    "Refund",
    "RefundState",
    "RefundStep",
    "STRIPE_DASHBOARD",
    "StripeCustomer",
    "US_BRANDS",
    "WON",
    "bill_id",
    "card_id",
    "check_aware",
    "check_card",
    "dispute_id",
    "normalise_brand",
    "refund_id",
    "stripe_customer_id",
]

# Stored as `billing:Bill.Opened` and so on, wherever the classes live; the topics stored while
# they lived in services/billing/domain.py resolve to the same classes (headstore.topics).
register_stable_topics("billing", Bill, CardOnFile, previous=("services.billing.domain",))
register_stable_topics("billing", StripeCustomer)  # new since the move: no former path
register_stable_topics("billing", Refund, Dispute)
