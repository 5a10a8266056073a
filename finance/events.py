"""The stored events finance reads, decoded straight from what eventsourcing stored.

The library stores an event as a row (originator_id, originator_version, topic, state, and the
notification_id of the log). `state` is the event's attributes less the originator id and
version, encoded by the library's `JSONTranscoder`: plain JSON, with a datetime as
`{"_type_": "datetime_iso", "_data_": "<isoformat>"}` (and a UUID as `uuid_hex`, a Decimal as
`decimal_str`; none of the events read here carry either). `topic` names the event class:
its stable name (`billing:Bill.Opened`, headstore/topics.py) or, for events stored before the
services registered stable names, its module path then (`services.billing.domain:Bill.Opened`).
Both are read alike.

Building the library's event objects (topic resolution, a transcoder hook per JSON object, an
object per event) costs more than finance needs, so `decode` parses the JSON once with the
standard library and converts only the attributes known to be datetimes. Events of other topics
are skipped by topic and never parsed. finance/tests/test_events.py proves that, for every
topic below, `decode` gives what the library's mapper (`app.mapper.to_domain_event`) gives.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

_BILL = "billing:Bill."
_PAYEE = "payouts:Payee."

BILL_OPENED = _BILL + "Opened"
CAPTURE_RECORDED = _BILL + "CaptureRecorded"
CHARGED = _BILL + "Charged"
EARNINGS_ACCRUED = _BILL + "EarningsAccrued"

PAYEE_OPENED = _PAYEE + "Opened"
CREDITED = _PAYEE + "Credited"
TRANSFER_SENT = _PAYEE + "TransferSent"
TRANSFER_FAILED = _PAYEE + "TransferFailed"
STATEMENT_ISSUED = _PAYEE + "StatementIssued"
PAYOUT_RUN_STARTED = "payouts:PayoutRun.Started"

REFUND_CAPTURE_REFUNDED = "billing:Refund.CaptureRefunded"
REFUND_MADE = "billing:Refund.Made"
DISPUTE_OPENED = "billing:Dispute.Opened"
DISPUTE_CLOSED = "billing:Dispute.Closed"
PAYEE_DEBITED = _PAYEE + "Debited"

DATETIME_FIELDS: dict[str, tuple[str, ...]] = {
    BILL_OPENED: ("timestamp",),
    CAPTURE_RECORDED: ("timestamp",),
    CHARGED: ("timestamp",),
    EARNINGS_ACCRUED: ("timestamp",),
    PAYEE_OPENED: ("timestamp",),
    CREDITED: ("timestamp", "earned_at"),
    TRANSFER_SENT: ("timestamp",),
    TRANSFER_FAILED: ("timestamp",),
    STATEMENT_ISSUED: ("timestamp", "period_start", "period_end"),
    PAYOUT_RUN_STARTED: ("timestamp", "cutoff"),
    REFUND_CAPTURE_REFUNDED: ("timestamp",),
    REFUND_MADE: ("timestamp",),
    DISPUTE_OPENED: ("timestamp",),
    DISPUTE_CLOSED: ("timestamp",),
    PAYEE_DEBITED: ("timestamp",),
}
"""Every topic the ledgers use, by its stable name, with its attributes stored as datetimes."""

WITHOUT_MONEY = frozenset(
    {
        # billing: a bill's steps before its charge (the charge and its captures are read),
        # cards and customers, a refund's request and answer (its money is in Made).
        *(
            _BILL + name
            for name in (
                "Started",
                "HoldRequested",
                "HoldPlaced",
                "HoldFailed",
                "HoldCancelled",
                "MinuteBilled",
                "MinuteBillingReversed",
                "Ended",
                "SettlementPlanned",
                "Voided",
            )
        ),
        "billing:CardOnFile.Saved",
        "billing:CardOnFile.Replaced",
        "billing:StripeCustomer.Recorded",
        "billing:Refund.Requested",
        "billing:Refund.Granted",
        "billing:Refund.Refused",
        # payouts: accounts, referrals (the shares are credits), statistics, a run's end,
        # holds of disputed sessions (they change what is due, not what is owed), and a
        # transfer carried to the next run (nothing moved; the amount stays due).
        "payouts:PayoutAccount.Opened",
        "payouts:PayoutAccount.Activated",
        "payouts:PayoutAccount.Restricted",
        "payouts:Referral.Recorded",
        "payouts:ExpertStatistics.Opened",
        "payouts:ExpertStatistics.SessionCounted",
        "payouts:ExpertStatistics.RatingCounted",
        "payouts:PayoutRun.Finished",
        _PAYEE + "Held",
        _PAYEE + "Released",
        _PAYEE + "TransferCarried",
    }
)
"""Every stored billing and payouts event the ledgers read nothing from: they carry no money
the ledgers must account for. A topic of either service that is neither used nor listed here
stops a replay (`UnknownMoneyEvent`): a new event that moves money is never skipped unseen."""

FORMER_MODULES = {"billing": "services.billing.domain", "payouts": "services.payouts.domain"}
"""Where the classes lived when events were stored under module paths."""


def former_topic(topic: str) -> str:
    """The name `topic` was stored under before stable names: `services.billing.domain:...`."""
    service, _, name = topic.partition(":")
    return f"{FORMER_MODULES[service]}:{name}"


STORED_AS: dict[str, str] = {
    **{topic: topic for topic in DATETIME_FIELDS},
    **{former_topic(topic): topic for topic in DATETIME_FIELDS},
}
"""Every name a used event may be stored under, to its stable name."""


SERVICE_PREFIXES = (
    "billing:",
    "payouts:",
    *(f"{m}:" for m in ("services.billing.domain", "services.payouts.domain")),
)
"""The stored names of billing's and payouts' events: stable, or the module paths of old."""

KNOWN_WITHOUT_MONEY = frozenset({*WITHOUT_MONEY, *(former_topic(topic) for topic in WITHOUT_MONEY)})


class UnknownMoneyEvent(ValueError):
    """A stored billing or payouts event the ledgers neither read nor know to carry no money."""

    def __init__(self, topic: str, notification_id: Any) -> None:
        super().__init__(
            f"unknown_money_event: stored event {topic} (notification {notification_id}) is "
            "not one the ledgers read, nor on the list of events without money "
            "(finance/events.py WITHOUT_MONEY): teach the ledger what it means before replaying"
        )
        self.code = "unknown_money_event"
        self.topic = topic


def check_known(topic: str, notification_id: Any) -> None:
    """Raise UnknownMoneyEvent for a billing or payouts topic the ledgers do not know."""
    if topic.startswith(SERVICE_PREFIXES) and topic not in KNOWN_WITHOUT_MONEY:
        raise UnknownMoneyEvent(topic, notification_id)


def _stored_names(*topics: str) -> tuple[str, ...]:
    return tuple(name for name, topic in STORED_AS.items() if topic in topics)


BILLING_TOPICS = _stored_names(
    BILL_OPENED,
    CAPTURE_RECORDED,
    CHARGED,
    EARNINGS_ACCRUED,
    REFUND_CAPTURE_REFUNDED,
    REFUND_MADE,
    DISPUTE_OPENED,
    DISPUTE_CLOSED,
)
PAYOUTS_TOPICS = _stored_names(
    PAYEE_OPENED,
    CREDITED,
    TRANSFER_SENT,
    TRANSFER_FAILED,
    STATEMENT_ISSUED,
    PAYOUT_RUN_STARTED,
    PAYEE_DEBITED,
)
"""What the ledgers read from each store, under every name it may be stored under."""

_DATETIME = "datetime_iso"


class UndecodableEvent(ValueError):
    """A stored event this module cannot read as the library would."""


def decode(topic: str, state: bytes) -> dict[str, Any]:
    """The attributes of a stored event of `topic` (one of STORED_AS), as the library's mapper
    would set them, without originator_id and originator_version."""
    fields: dict[str, Any] = json.loads(state)
    if "class_version" in fields:  # the library would upcast it; these classes have none
        raise UndecodableEvent(f"{topic}: class_version {fields['class_version']} is unknown")
    for name in DATETIME_FIELDS[STORED_AS[topic]]:
        value = fields.get(name)
        if value is None:
            continue
        try:
            if value["_type_"] != _DATETIME:
                raise UndecodableEvent(f"{topic}.{name} is a {value['_type_']}, not a datetime")
            fields[name] = datetime.fromisoformat(value["_data_"])
        except (TypeError, KeyError, ValueError) as error:
            if isinstance(error, UndecodableEvent):
                raise
            raise UndecodableEvent(f"{topic}.{name} is not a stored datetime: {value!r}") from None
    return fields


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds, always one width: 2026-01-05T09:08:30.000000+00:00."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
