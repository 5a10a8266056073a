"""The ledgers: billing's and payouts' stored events folded into per-session, per-payee-week,
per-currency and per-transfer rows.

`Ledger.fold(rows)` takes stored rows `(notification_id, originator_id, topic, state)` oldest
first; rows of topics the ledgers do not use are skipped by topic, unparsed. `Ledger.tables()`
gives every table as a header and rows sorted deterministically, amounts as integer minor
units.

Where each figure comes from:
- a session is a charged Bill (`Bill.Charged`: its terms, minutes, total and the charge time).
  Its captured amount is the sum of the bill's `Bill.CaptureRecorded`. Its expert share and
  commission are those of `Bill.EarningsAccrued` (what payouts credits) when the bill has one,
  else `Charged`'s expert and platform shares. `Bill.MinuteBilled` is never summed: a race can
  record one minute after the end that the charge leaves out.
- ambassador columns come from payouts' `Payee.Credited` entries "ambassador_share" for the
  session; platform net = commission − ambassador shares.
- expert weeks: per payee, week and currency, the credits of that week (`Payee.Credited`,
  earnings and ambassador shares apart) and the transfers of the run labelled with that week
  (`Payee.TransferSent`, `Payee.TransferFailed`).
- a payee is named by its account id (`Payee.Opened`); its aggregate id is uuid5 of it.
- a week's start comes from statements (`Payee.StatementIssued.period_start`) and runs
  (`PayoutRun.Started.cutoff` is the start of the next week); two known starts give the whole
  calendar, which is evenly spaced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from finance import events as ev
from finance.events import check_known, decode, utc_iso

AMBASSADOR_SHARE = "ambassador_share"
EARNINGS = "earnings"
SENT = "sent"
FAILED = "failed"

SESSIONS = "sessions"
CAPTURES = "captures"
EXPERT_WEEKS = "expert_weeks"
CURRENCIES = "currencies"
TRANSFERS = "transfers"
ADJUSTMENTS = "adjustments"
DEBITS = "debits"

REFUND = "refund"
DISPUTE_LOST = "dispute_lost"

COLUMNS: dict[str, tuple[str, ...]] = {
    SESSIONS: (
        "session_id",
        "client_id",
        "expert_id",
        "currency",
        "minutes",
        "billed_minutes",
        "rate_minor",
        "total_minor",
        "captured_minor",
        "expert_share_minor",
        "commission_minor",
        "ambassador_id",
        "ambassador_share_minor",
        "platform_net_minor",
        "charged_at",
        "payment_intents",
    ),
    CAPTURES: (
        "session_id",
        "block",
        "payment_intent_id",
        "currency",
        "amount_minor",
        "captured_at",
    ),
    EXPERT_WEEKS: (
        "payee_id",
        "week",
        "week_start",
        "currency",
        "earnings_minor",
        "ambassador_shares_minor",
        "transferred_minor",
        "failed_minor",
        "transfer_ids",
    ),
    CURRENCIES: (
        "currency",
        "sessions",
        "captured_minor",
        "expert_earnings_minor",
        "commission_minor",
        "ambassador_shares_minor",
        "platform_net_minor",
        "transferred_minor",
        "unpaid_minor",
    ),
    TRANSFERS: (
        "payee_id",
        "week",
        "currency",
        "amount_minor",
        "status",
        "transfer_id",
        "transfer_group",
        "reason",
        "recorded_at",
    ),
    ADJUSTMENTS: (
        "kind",
        "reference",
        "session_id",
        "expert_id",
        "currency",
        "amount_minor",
        "expert_share_minor",
        "commission_minor",
        "ambassador_share_minor",
        "platform_net_minor",
        "payment_intents",
        "refund_ids",
        "recorded_at",
    ),
    DEBITS: (
        "payee_id",
        "week",
        "currency",
        "reference",
        "amount_minor",
        "recorded_at",
    ),
}
"""Every table, in the order it is written, with its columns in order."""

Row = tuple[Any, ...]


@dataclass(slots=True)
class BillEntry:
    session_id: str = ""
    client_id: str = ""
    expert_id: str = ""
    currency: str = ""
    rate_minor: int = 0
    captures: list[tuple[int, str, int, datetime]] = field(default_factory=list)
    charged: dict[str, Any] | None = None
    earnings: dict[str, Any] | None = None


@dataclass(slots=True)
class Credit:
    payee: str  # the Payee's aggregate id
    entry: str
    session_id: str
    expert_id: str
    currency: str
    amount_minor: int
    commission_minor: int
    week: int


@dataclass(slots=True)
class TransferEntry:
    payee: str
    week: int
    currency: str
    amount_minor: int
    status: str
    transfer_id: str
    transfer_group: str
    reason: str
    recorded_at: datetime


@dataclass(slots=True)
class Adjustment:
    """Money given back after a charge: a refund made, or a dispute lost."""

    kind: str
    reference: str  # as payouts' debits name it: refund:<session> or dispute:<dispute id>
    session_id: str
    expert_id: str
    currency: str
    amount_minor: int
    expert_share_minor: int
    commission_minor: int
    refunds: list[tuple[str, str]]  # (payment intent, provider refund id)
    recorded_at: datetime


@dataclass(slots=True)
class Debit:
    payee: str
    week: int
    currency: str
    reference: str
    amount_minor: int
    recorded_at: datetime


class Ledger:
    """Fresh, in-memory ledgers, filled by folding stored events."""

    def __init__(self) -> None:
        self.bills: dict[str, BillEntry] = {}
        self.payees: dict[str, str] = {}  # Payee aggregate id -> account id
        self.credits: list[Credit] = []
        self.transfers: list[TransferEntry] = []
        self.week_starts: dict[int, datetime] = {}
        self.adjustments: list[Adjustment] = []
        self.refunded: dict[str, list[tuple[str, str]]] = defaultdict(list)  # by Refund id
        self.debits: list[Debit] = []
        self.events = 0  # rows folded, of any topic
        self.used = 0  # rows whose state was decoded
        handlers = {
            ev.BILL_OPENED: self._bill_opened,
            ev.CAPTURE_RECORDED: self._capture_recorded,
            ev.CHARGED: self._charged,
            ev.EARNINGS_ACCRUED: self._earnings_accrued,
            ev.PAYEE_OPENED: self._payee_opened,
            ev.CREDITED: self._credited,
            ev.TRANSFER_SENT: self._transfer_sent,
            ev.TRANSFER_FAILED: self._transfer_failed,
            ev.STATEMENT_ISSUED: self._statement_issued,
            ev.PAYOUT_RUN_STARTED: self._run_started,
            ev.REFUND_CAPTURE_REFUNDED: self._capture_refunded,
            ev.REFUND_MADE: self._refund_made,
            ev.DISPUTE_OPENED: self._dispute_opened,
            ev.DISPUTE_CLOSED: self._dispute_closed,
            ev.PAYEE_DEBITED: self._debited,
        }
        # Keyed by every name an event may be stored under (finance.events.STORED_AS).
        self._handlers = {name: handlers[topic] for name, topic in ev.STORED_AS.items()}

    # -- folding ----------------------------------------------------------------------------

    def fold(self, rows: Iterable[Row]) -> None:
        """Apply stored rows `(notification_id, originator_id, topic, state, ...)` in order. A
        billing or payouts event the ledgers neither read nor know to carry no money raises
        `finance.events.UnknownMoneyEvent`, naming its topic."""
        handlers = self._handlers
        count = used = 0
        for row in rows:
            count += 1
            handler = handlers.get(row[2])
            if handler is not None:
                used += 1
                handler(str(row[1]), decode(row[2], row[3]))
            else:
                check_known(row[2], row[0])
        self.events += count
        self.used += used

    def _bill(self, bill_id: str) -> BillEntry:
        bill = self.bills.get(bill_id)
        if bill is None:
            bill = self.bills[bill_id] = BillEntry()
        return bill

    def _bill_opened(self, bill_id: str, f: dict[str, Any]) -> None:
        bill = self._bill(bill_id)
        bill.session_id = f["session_id"]
        bill.client_id = f["client_id"]
        bill.expert_id = f["expert_id"]
        bill.currency = f["currency"]
        bill.rate_minor = f["rate_minor"]

    def _capture_recorded(self, bill_id: str, f: dict[str, Any]) -> None:
        self._bill(bill_id).captures.append(
            (f["block"], f["payment_intent_id"], f["amount_minor"], f["timestamp"])
        )

    def _charged(self, bill_id: str, f: dict[str, Any]) -> None:
        bill = self._bill(bill_id)
        bill.charged = f
        if not bill.session_id:  # Opened is always first; this only guards a damaged log
            bill.session_id = f["session_id"]
            bill.currency = f["currency"]

    def _earnings_accrued(self, bill_id: str, f: dict[str, Any]) -> None:
        self._bill(bill_id).earnings = f

    def _payee_opened(self, payee: str, f: dict[str, Any]) -> None:
        self.payees[payee] = f["account_id"]

    def _credited(self, payee: str, f: dict[str, Any]) -> None:
        self.credits.append(
            Credit(
                payee,
                f["entry"],
                f["session_id"],
                f["expert_id"],
                f["currency"],
                f["amount_minor"],
                f["commission_minor"],
                f["week"],
            )
        )

    def _transfer_sent(self, payee: str, f: dict[str, Any]) -> None:
        self.transfers.append(
            TransferEntry(
                payee,
                f["week"],
                f["currency"],
                f["amount_minor"],
                SENT,
                f["transfer_id"],
                f["transfer_group"],
                "",
                f["timestamp"],
            )
        )

    def _transfer_failed(self, payee: str, f: dict[str, Any]) -> None:
        self.transfers.append(
            TransferEntry(
                payee,
                f["week"],
                f["currency"],
                f["amount_minor"],
                FAILED,
                "",
                "",
                f["reason"],
                f["timestamp"],
            )
        )

    def _statement_issued(self, payee: str, f: dict[str, Any]) -> None:
        self.week_starts[f["week"]] = f["period_start"]
        self.week_starts[f["week"] + 1] = f["period_end"]

    def _run_started(self, run: str, f: dict[str, Any]) -> None:
        self.week_starts[f["week"] + 1] = f["cutoff"]

    def _capture_refunded(self, refund: str, f: dict[str, Any]) -> None:
        self.refunded[refund].append((f["payment_intent_id"], f["provider_refund_id"]))

    def _refund_made(self, refund: str, f: dict[str, Any]) -> None:
        self.adjustments.append(
            Adjustment(
                REFUND,
                f"refund:{f['session_id']}",
                f["session_id"],
                f["expert_id"],
                f["currency"],
                f["amount_minor"],
                f["expert_share_minor"],
                f["platform_share_minor"],
                list(self.refunded.pop(refund, ())),
                f["timestamp"],
            )
        )

    def _dispute_opened(self, dispute: str, f: dict[str, Any]) -> None:
        pass  # no money moves until it closes; read so its topic is known to carry none

    def _dispute_closed(self, dispute: str, f: dict[str, Any]) -> None:
        if f["outcome"] != "lost":
            return
        self.adjustments.append(
            Adjustment(
                DISPUTE_LOST,
                f"dispute:{f['provider_dispute_id']}",
                f["session_id"],
                f["expert_id"],
                f["currency"],
                f["amount_minor"],
                f["expert_share_minor"],
                f["platform_share_minor"],
                [],
                f["timestamp"],
            )
        )

    def _debited(self, payee: str, f: dict[str, Any]) -> None:
        self.debits.append(
            Debit(
                payee,
                f["week"],
                f["currency"],
                f["reference"],
                f["amount_minor"],
                f["timestamp"],
            )
        )

    # -- tables -----------------------------------------------------------------------------

    def payee_name(self, payee: str) -> str:
        """The payee's account id (its aggregate id if its Opened event is missing)."""
        return self.payees.get(payee, payee)

    def week_start(self, week: int) -> str:
        """The ISO start of `week` if the events tell it, else ''."""
        known = self.week_starts
        if week in known:
            return utc_iso(known[week])
        if len(known) < 2:
            return ""
        (w1, s1), (w2, s2) = sorted(known.items())[:2]
        length = (s2 - s1) / (w2 - w1)
        return utc_iso(s1 + length * (week - w1))

    def tables(self) -> dict[str, list[Row]]:
        """Every table's rows, sorted; columns as in COLUMNS."""
        shares: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for credit in self.credits:
            if credit.entry == AMBASSADOR_SHARE:
                shares[credit.session_id].append(
                    (self.payee_name(credit.payee), credit.amount_minor)
                )

        sessions: list[Row] = []
        captures: list[Row] = []
        for bill in self.bills.values():
            ordered = sorted(bill.captures)
            for block, intent, amount, at in ordered:
                captures.append(
                    (bill.session_id, block, intent, bill.currency, amount, utc_iso(at))
                )
            charge = bill.charged
            if charge is None:
                continue
            earned = bill.earnings
            if earned is not None:
                expert_share = earned["amount_minor"]
                commission = earned.get("commission_minor", charge["platform_share_minor"])
            else:
                expert_share = charge["expert_share_minor"]
                commission = charge["platform_share_minor"]
            ambassadors = sorted(shares.get(charge["session_id"], ()))
            ambassador_share = sum(amount for _, amount in ambassadors)
            sessions.append(
                (
                    charge["session_id"],
                    charge["client_id"],
                    charge["expert_id"],
                    charge["currency"],
                    charge["minutes"],
                    charge["billed_minutes"],
                    charge["rate_minor"],
                    charge["total_minor"],
                    sum(amount for _, _, amount, _ in ordered),
                    expert_share,
                    commission,
                    ";".join(name for name, _ in ambassadors),
                    ambassador_share,
                    commission - ambassador_share,
                    utc_iso(charge["timestamp"]),
                    ";".join(intent for _, intent, _, _ in ordered),
                )
            )
        sessions.sort()
        captures.sort()

        weeks: dict[tuple[str, int, str], list[Any]] = {}

        def week_row(payee: str, week: int, currency: str) -> list[Any]:
            key = (self.payee_name(payee), week, currency)
            row = weeks.get(key)
            if row is None:
                row = weeks[key] = [0, 0, 0, 0, []]
            return row

        for credit in self.credits:
            row = week_row(credit.payee, credit.week, credit.currency)
            row[0 if credit.entry == EARNINGS else 1] += credit.amount_minor
        transfers: list[Row] = []
        for transfer in self.transfers:
            row = week_row(transfer.payee, transfer.week, transfer.currency)
            if transfer.status == SENT:
                row[2] += transfer.amount_minor
                row[4].append(transfer.transfer_id)
            else:
                row[3] += transfer.amount_minor
            transfers.append(
                (
                    self.payee_name(transfer.payee),
                    transfer.week,
                    transfer.currency,
                    transfer.amount_minor,
                    transfer.status,
                    transfer.transfer_id,
                    transfer.transfer_group,
                    transfer.reason,
                    utc_iso(transfer.recorded_at),
                )
            )
        transfers.sort()
        expert_weeks: list[Row] = [
            (payee, week, self.week_start(week), currency, *values[:4], ";".join(sorted(values[4])))
            for (payee, week, currency), values in sorted(weeks.items())
        ]

        totals: dict[str, list[int]] = defaultdict(lambda: [0] * 8)
        for s in sessions:
            total = totals[s[3]]
            total[0] += 1
            total[1] += s[8]
            total[2] += s[9]
            total[3] += s[10]
            total[4] += s[12]
            total[5] += s[13]
        for credit in self.credits:
            totals[credit.currency][7] += credit.amount_minor
        for t in transfers:
            if t[4] == SENT:
                totals[t[2]][6] += t[3]
                totals[t[2]][7] -= t[3]
        currencies: list[Row] = [(currency, *totals[currency]) for currency in sorted(totals)]

        taken_back: dict[str, list[tuple[str, int]]] = defaultdict(list)
        debits: list[Row] = []
        for debit in self.debits:
            name = self.payee_name(debit.payee)
            taken_back[debit.reference].append((name, debit.amount_minor))
            debits.append(
                (
                    name,
                    debit.week,
                    debit.currency,
                    debit.reference,
                    debit.amount_minor,
                    utc_iso(debit.recorded_at),
                )
            )
        debits.sort()
        adjustments: list[Row] = []
        for a in self.adjustments:
            ambassador_share = sum(
                amount for name, amount in taken_back.get(a.reference, ()) if name != a.expert_id
            )
            adjustments.append(
                (
                    a.kind,
                    a.reference,
                    a.session_id,
                    a.expert_id,
                    a.currency,
                    a.amount_minor,
                    a.expert_share_minor,
                    a.commission_minor,
                    ambassador_share,
                    a.commission_minor - ambassador_share,
                    ";".join(intent for intent, _ in a.refunds),
                    ";".join(refund for _, refund in a.refunds),
                    utc_iso(a.recorded_at),
                )
            )
        adjustments.sort()
        return {
            SESSIONS: sessions,
            CAPTURES: captures,
            EXPERT_WEEKS: expert_weeks,
            CURRENCIES: currencies,
            TRANSFERS: transfers,
            ADJUSTMENTS: adjustments,
            DEBITS: debits,
        }
