"""`headstore finance reconcile`: checks a replay's CSV files against themselves and against
Stripe's balance transactions, and lists every difference.

Within the ledger:
- each session: captured = total charged = expert share + commission; commission = ambassador
  share + platform net (never negative); total = billed minutes × rate; its captures
  (captures.csv) add up to its captured amount and name its payment intents;
- each currency (currencies.csv): commission = ambassador shares + platform net, and every
  total equals the sum of the rows it totals (sessions.csv, transfers.csv, expert_weeks.csv);
- each payee, week and currency: the transfers recorded in expert_weeks.csv are those of
  transfers.csv; for each payee and currency the transfers sent up to any week never exceed
  what was credited up to that week (a balance never goes negative);
Against Stripe (the official SDK, `STRIPE_API_KEY`, `STRIPE_API_BASE`):
- each capture of the ledger against the balance transaction of its PaymentIntent's charge
  (`latest_charge`, type charge or payment), and each sent transfer against its balance
  transaction (type transfer, negative), both ways: in the ledger but not at Stripe, at Stripe
  but not in the ledger, amounts or currencies that differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import stripe

from finance.export import SQL_TYPES, read_csv
from finance.ledger import (
    ADJUSTMENTS,
    CAPTURES,
    COLUMNS,
    CURRENCIES,
    DEBITS,
    EXPERT_WEEKS,
    FAILED,
    SENT,
    SESSIONS,
    TRANSFERS,
)
from headstore.stripe_api import StripeSettings

CHARGE_TYPES = ("charge", "payment")

INT_COLUMNS = {
    name: {c for c, kind in types.items() if kind.split()[0] in ("integer", "bigint")}
    for name, types in SQL_TYPES.items()
}
TIME_COLUMNS = {
    name: {c for c, kind in types.items() if kind.split()[0] == "timestamptz"}
    for name, types in SQL_TYPES.items()
}


@dataclass
class Report:
    differences: list[str] = field(default_factory=list)
    sessions: int = 0
    transfers: int = 0
    captures: int = 0
    stripe_checked: bool = False

    def add(self, text: str) -> None:
        self.differences.append(text)

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        if self.ok:
            return (
                f"reconciled: {self.sessions} sessions, {self.transfers} transfers, "
                "zero differences"
            )
        return f"{len(self.differences)} differences"


# --- reading the ledger --------------------------------------------------------------------------


@dataclass
class LedgerFiles:
    """The rows of a replay's CSV files, numbers parsed; a row that does not parse is left
    out (and reported)."""

    rows: dict[str, list[dict[str, Any]]]

    def __getitem__(self, name: str) -> list[dict[str, Any]]:
        return self.rows[name]


def load(directory: Path, report: Report) -> LedgerFiles:
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in COLUMNS:
        path = directory / f"{name}.csv"
        rows[name] = []
        if not path.exists():
            report.add(f"{path}: missing")
            continue
        header, records = read_csv(path)
        if tuple(header) != COLUMNS[name]:
            missing = [c for c in COLUMNS[name] if c not in header]
            if missing:
                report.add(f"{name}.csv: columns missing: {', '.join(missing)}")
                continue
            report.add(f"{name}.csv: columns are {', '.join(header)}; expected the replay's")
        for line, record in enumerate(records, start=2):
            parsed = _parse(name, line, record, report)
            if parsed is not None:
                rows[name].append(parsed)
    return LedgerFiles(rows)


def _parse(name: str, line: int, record: dict[str, Any], report: Report) -> dict[str, Any] | None:
    parsed: dict[str, Any] = dict(record, _where=f"{name}.csv line {line}")
    ok = True
    for column in INT_COLUMNS[name]:
        text = record.get(column)
        try:
            parsed[column] = int(text or "")
        except ValueError:
            report.add(f"{name}.csv line {line}: {column} is not a whole number: {text!r}")
            ok = False
    for column in TIME_COLUMNS[name]:
        text = record.get(column) or ""
        if not text:
            parsed[column] = None
            continue
        try:
            parsed[column] = datetime.fromisoformat(text)
        except ValueError:
            report.add(f"{name}.csv line {line}: {column} is not an ISO 8601 time: {text!r}")
            ok = False
    return parsed if ok else None


# --- checks within the ledger --------------------------------------------------------------------


def check_ledger(ledger: LedgerFiles, report: Report) -> None:
    sessions = ledger[SESSIONS]
    report.sessions = len(sessions)
    report.transfers = len(ledger[TRANSFERS])
    report.captures = len(ledger[CAPTURES])
    _check_sessions(ledger, report)
    _check_currencies(ledger, report)
    _check_payees(ledger, report)
    _check_adjustments(ledger, report)


def _differs(report: Report, where: str, what: str, left: int, right: int, how: str) -> None:
    if left != right:
        report.add(f"{where}: {what} {left} != {how} {right}")


def _check_sessions(ledger: LedgerFiles, report: Report) -> None:
    captures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for capture in ledger[CAPTURES]:
        captures[capture["session_id"]].append(capture)
    seen: set[str] = set()
    for s in ledger[SESSIONS]:
        where = f"{s['_where']} (session {s['session_id']})"
        if s["session_id"] in seen:
            report.add(f"{where}: the session appears twice")
        seen.add(s["session_id"])
        captured, total = s["captured_minor"], s["total_minor"]
        _differs(report, where, "captured_minor", captured, total, "total_minor")
        _differs(
            report,
            where,
            "captured_minor",
            captured,
            s["expert_share_minor"] + s["commission_minor"],
            "expert_share_minor + commission_minor",
        )
        _differs(
            report,
            where,
            "commission_minor",
            s["commission_minor"],
            s["ambassador_share_minor"] + s["platform_net_minor"],
            "ambassador_share_minor + platform_net_minor",
        )
        _differs(
            report,
            where,
            "total_minor",
            total,
            s["billed_minutes"] * s["rate_minor"],
            "billed_minutes × rate_minor",
        )
        if s["platform_net_minor"] < 0:
            report.add(f"{where}: platform_net_minor {s['platform_net_minor']} is negative")
        own = sorted(captures.pop(s["session_id"], []), key=lambda c: c["block"])
        _differs(
            report,
            where,
            "captured_minor",
            captured,
            sum(c["amount_minor"] for c in own),
            "the sum of its captures.csv rows",
        )
        intents = ";".join(c["payment_intent_id"] for c in own)
        if s["payment_intents"] != intents:
            report.add(
                f"{where}: payment_intents {s['payment_intents']!r} != captures.csv {intents!r}"
            )
        if any(c["currency"] != s["currency"] for c in own):
            report.add(f"{where}: a capture's currency is not {s['currency']}")


def _sum(rows: Iterable[dict[str, Any]], column: str) -> int:
    return sum(int(row[column]) for row in rows)


def _check_currencies(ledger: LedgerFiles, report: Report) -> None:
    by_currency: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in ledger[SESSIONS]:
        total = by_currency[s["currency"]]
        total["sessions"] += 1
        total["captured_minor"] += s["captured_minor"]
        total["expert_earnings_minor"] += s["expert_share_minor"]
        total["commission_minor"] += s["commission_minor"]
        total["ambassador_shares_minor"] += s["ambassador_share_minor"]
        total["platform_net_minor"] += s["platform_net_minor"]
    for t in ledger[TRANSFERS]:
        if t["status"] == SENT:
            by_currency[t["currency"]]["transferred_minor"] += t["amount_minor"]
            by_currency[t["currency"]]["unpaid_minor"] -= t["amount_minor"]
    for w in ledger[EXPERT_WEEKS]:
        by_currency[w["currency"]]["unpaid_minor"] += (
            w["earnings_minor"] + w["ambassador_shares_minor"]
        )
    sources = {
        "sessions": "sessions.csv rows",
        "captured_minor": "sessions.csv captured_minor",
        "expert_earnings_minor": "sessions.csv expert_share_minor",
        "commission_minor": "sessions.csv commission_minor",
        "ambassador_shares_minor": "sessions.csv ambassador_share_minor",
        "platform_net_minor": "sessions.csv platform_net_minor",
        "transferred_minor": "transfers.csv sent amount_minor",
        "unpaid_minor": "expert_weeks.csv credits − transfers.csv sent",
    }
    listed: set[str] = set()
    for row in ledger[CURRENCIES]:
        currency = row["currency"]
        where = f"{row['_where']} ({currency})"
        if currency in listed:
            report.add(f"{where}: the currency appears twice")
        listed.add(currency)
        _differs(
            report,
            where,
            "commission_minor",
            row["commission_minor"],
            row["ambassador_shares_minor"] + row["platform_net_minor"],
            "ambassador_shares_minor + platform_net_minor",
        )
        totals = by_currency.get(currency, {})
        for column, source in sources.items():
            _differs(report, where, column, row[column], totals.get(column, 0), f"sum of {source}")
    for currency in sorted(set(by_currency) - listed):
        if any(by_currency[currency].values()):
            report.add(f"currencies.csv: no row for {currency}, which the other files have")


def _check_payees(ledger: LedgerFiles, report: Report) -> None:
    recorded: dict[tuple[str, int, str], dict[str, Any]] = {}
    for t in ledger[TRANSFERS]:
        key = (t["payee_id"], t["week"], t["currency"])
        entry = recorded.setdefault(key, {SENT: 0, FAILED: 0, "ids": []})
        if t["status"] not in (SENT, FAILED):
            report.add(f"{t['_where']}: status {t['status']!r} is neither sent nor failed")
            continue
        entry[t["status"]] += t["amount_minor"]
        if t["status"] == SENT:
            entry["ids"].append(t["transfer_id"])
            if not t["transfer_id"]:
                report.add(f"{t['_where']}: a sent transfer without transfer_id")
        if t["amount_minor"] <= 0:
            report.add(f"{t['_where']}: amount_minor {t['amount_minor']} is not positive")
    balances: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for w in ledger[EXPERT_WEEKS]:
        key = (w["payee_id"], w["week"], w["currency"])
        where = f"{w['_where']} (payee {w['payee_id']}, week {w['week']}, {w['currency']})"
        entry = recorded.pop(key, {SENT: 0, FAILED: 0, "ids": []})
        _differs(report, where, "transferred_minor", w["transferred_minor"], entry[SENT],
                 "sum of transfers.csv sent")  # fmt: skip
        _differs(report, where, "failed_minor", w["failed_minor"], entry[FAILED],
                 "sum of transfers.csv failed")  # fmt: skip
        ids = ";".join(sorted(entry["ids"]))
        if w["transfer_ids"] != ids:
            report.add(f"{where}: transfer_ids {w['transfer_ids']!r} != transfers.csv {ids!r}")
        balances[(w["payee_id"], w["currency"])].append(
            (w["week"], w["earnings_minor"] + w["ambassador_shares_minor"], w["transferred_minor"])
        )
    for (payee, week, currency), entry in sorted(recorded.items()):
        report.add(
            f"transfers.csv: payee {payee} week {week} {currency}: transfers (sent "
            f"{entry[SENT]}, failed {entry[FAILED]}) with no expert_weeks.csv row"
        )
    for (payee, currency), weeks in sorted(balances.items()):
        credited = sent = 0
        for week, credit, transferred in sorted(weeks):
            credited += credit
            sent += transferred
            if sent > credited:
                report.add(
                    f"payee {payee} {currency}: transfers sent through week {week} ({sent}) "
                    f"exceed the credits through week {week} ({credited}): the balance is "
                    "negative"
                )
                break


def _check_adjustments(ledger: LedgerFiles, report: Report) -> None:
    """Each refund or lost dispute: amount = expert share + commission, commission = ambassador
    share + platform net, no more than its session captured; the payees' debits for it are the
    expert's share (from the expert) and the ambassador shares; every debit has its cause."""
    sessions = {s["session_id"]: s for s in ledger[SESSIONS]}
    debits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in ledger[DEBITS]:
        debits[d["reference"]].append(d)
        if d["amount_minor"] <= 0:
            report.add(f"{d['_where']}: amount_minor {d['amount_minor']} is not positive")
    taken: dict[str, int] = defaultdict(int)
    for a in ledger[ADJUSTMENTS]:
        where = f"{a['_where']} ({a['reference']})"
        _differs(report, where, "amount_minor", a["amount_minor"],
                 a["expert_share_minor"] + a["commission_minor"],
                 "expert_share_minor + commission_minor")  # fmt: skip
        _differs(report, where, "commission_minor", a["commission_minor"],
                 a["ambassador_share_minor"] + a["platform_net_minor"],
                 "ambassador_share_minor + platform_net_minor")  # fmt: skip
        session = sessions.get(a["session_id"])
        if session is None:
            report.add(f"{where}: session {a['session_id']} is not a charged session")
        else:
            taken[a["session_id"]] += a["amount_minor"]
            if taken[a["session_id"]] > session["captured_minor"]:
                report.add(
                    f"{where}: more given back for session {a['session_id']} "
                    f"({taken[a['session_id']]}) than was captured ({session['captured_minor']})"
                )
        own = debits.pop(a["reference"], [])
        expert = sum(d["amount_minor"] for d in own if d["payee_id"] == a["expert_id"])
        others = sum(d["amount_minor"] for d in own if d["payee_id"] != a["expert_id"])
        _differs(report, where, "expert_share_minor", a["expert_share_minor"], expert,
                 "the expert's debits.csv rows")  # fmt: skip
        _differs(report, where, "ambassador_share_minor", a["ambassador_share_minor"], others,
                 "the ambassadors' debits.csv rows")  # fmt: skip
    for reference, rows in sorted(debits.items()):
        for d in rows:
            report.add(f"{d['_where']}: debit {reference} of no refund or lost dispute")


# --- against Stripe ------------------------------------------------------------------------------


def _in_window(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if moment is None:
        return since is None and until is None
    return (since is None or moment >= since) and (until is None or moment < until)


def check_stripe(
    ledger: LedgerFiles,
    report: Report,
    client: stripe.StripeClient,
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """The ledger's captures and transfers against Stripe's balance transactions."""
    created: dict[str, int] = {}
    if since is not None:
        created["gte"] = int(since.timestamp())
    if until is not None:
        created["lt"] = int(until.timestamp())

    def transactions(kind: str) -> list[Any]:
        params: dict[str, Any] = {"type": kind, "limit": 100}
        if created:
            params["created"] = created
        return list(client.v1.balance_transactions.list(params).auto_paging_iter())  # type: ignore[arg-type]

    charge_of: dict[str, str] = {}  # payment intent -> its (captured) charge
    intent_of: dict[str, str] = {}
    for payment_intent in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
        charge: Any = payment_intent.latest_charge  # the charge's id, or the expanded charge
        charge_id = charge if isinstance(charge, str) else getattr(charge, "id", None)
        if charge_id and payment_intent.status == "succeeded":
            charge_of[payment_intent.id] = charge_id
            intent_of[charge_id] = payment_intent.id
    booked: dict[str, list[Any]] = defaultdict(list)  # charge -> its balance transactions
    for kind in CHARGE_TYPES:
        for txn in transactions(kind):
            booked[str(txn.source)].append(txn)

    ledger_captures: dict[str, dict[str, Any]] = {}
    for capture in ledger[CAPTURES]:
        if not _in_window(capture["captured_at"], since, until):
            continue
        entry = ledger_captures.setdefault(
            capture["payment_intent_id"],
            {"amount": 0, "currency": capture["currency"], "session": capture["session_id"]},
        )
        entry["amount"] += capture["amount_minor"]
    for intent, entry in sorted(ledger_captures.items()):
        what = f"capture of {intent} (session {entry['session']})"
        amount, currency = entry["amount"], entry["currency"]
        charge_id = charge_of.get(intent)
        if charge_id is None:
            report.add(
                f"{what}: in the ledger ({amount} {currency}), not a captured PaymentIntent at "
                "Stripe"
            )
            continue
        txns = booked.pop(charge_id, [])
        if not txns:
            report.add(
                f"{what}: in the ledger ({amount} {currency}), no balance transaction at Stripe "
                f"for its charge {charge_id}"
            )
            continue
        stripe_amount = sum(int(t.amount) for t in txns)
        if len(txns) > 1:
            report.add(f"{what}: Stripe has {len(txns)} balance transactions for {charge_id}")
        if stripe_amount != amount:
            report.add(
                f"{what}: amounts differ: ledger {amount} {currency}, Stripe {stripe_amount} "
                f"({charge_id})"
            )
        if any(str(t.currency).upper() != currency.upper() for t in txns):
            report.add(f"{what}: currencies differ: ledger {currency}, Stripe {txns[0].currency}")
    for charge_id, txns in sorted(booked.items()):
        for txn in txns:
            report.add(
                f"charge {charge_id} (PaymentIntent {intent_of.get(charge_id, 'none')}): at "
                f"Stripe ({txn.amount} {str(txn.currency).upper()}, {txn.id}), not in the ledger"
            )

    refunded: dict[str, dict[str, Any]] = {}  # provider refund id -> the ledger's refund
    captured: dict[str, int] = defaultdict(int)
    for capture in ledger[CAPTURES]:
        captured[capture["payment_intent_id"]] += capture["amount_minor"]
    for a in ledger[ADJUSTMENTS]:
        if not _in_window(a["recorded_at"], since, until):
            continue
        intents = [i for i in a["payment_intents"].split(";") if i]
        for intent, refund_id in zip(
            intents, [r for r in a["refund_ids"].split(";") if r], strict=False
        ):
            refunded[refund_id] = {
                "amount": captured.get(intent, 0),
                "currency": a["currency"],
                "session": a["session_id"],
            }
    at_stripe: dict[str, list[Any]] = defaultdict(list)
    for txn in transactions("refund"):
        at_stripe[str(txn.source)].append(txn)
    for refund_id, entry in sorted(refunded.items()):
        what = f"refund {refund_id} (session {entry['session']})"
        txns = at_stripe.pop(refund_id, [])
        if not txns:
            report.add(
                f"{what}: in the ledger ({entry['amount']} {entry['currency']}), not at Stripe"
            )
            continue
        stripe_amount = -sum(int(t.amount) for t in txns)
        if stripe_amount != entry["amount"]:
            report.add(
                f"{what}: amounts differ: ledger {entry['amount']} {entry['currency']}, "
                f"Stripe {stripe_amount}"
            )
        if any(str(t.currency).upper() != entry["currency"].upper() for t in txns):
            report.add(
                f"{what}: currencies differ: ledger {entry['currency']}, Stripe {txns[0].currency}"
            )
    for refund_id, txns in sorted(at_stripe.items()):
        for txn in txns:
            report.add(
                f"refund {refund_id}: at Stripe ({-int(txn.amount)} {str(txn.currency).upper()}, "
                f"{txn.id}), not in the ledger"
            )

    ledger_transfers: dict[str, dict[str, Any]] = {}
    for t in ledger[TRANSFERS]:
        if t["status"] == SENT and _in_window(t["recorded_at"], since, until):
            if t["transfer_id"] in ledger_transfers:
                report.add(f"{t['_where']}: transfer {t['transfer_id']} appears twice")
            ledger_transfers[t["transfer_id"]] = t
    transfers: dict[str, list[Any]] = defaultdict(list)
    for txn in transactions("transfer"):
        transfers[str(txn.source)].append(txn)
    for transfer_id, t in sorted(ledger_transfers.items()):
        what = f"transfer {transfer_id} (payee {t['payee_id']}, week {t['week']})"
        amount, currency = t["amount_minor"], t["currency"]
        txns = transfers.pop(transfer_id, [])
        if not txns:
            report.add(f"{what}: in the ledger ({amount} {currency}), not at Stripe")
            continue
        stripe_amount = -sum(int(x.amount) for x in txns)
        if stripe_amount != amount:
            report.add(
                f"{what}: amounts differ: ledger {amount} {currency}, Stripe {stripe_amount}"
            )
        if any(str(x.currency).upper() != currency.upper() for x in txns):
            report.add(f"{what}: currencies differ: ledger {currency}, Stripe {txns[0].currency}")
    for transfer_id, txns in sorted(transfers.items()):
        for txn in txns:
            report.add(
                f"transfer {transfer_id}: at Stripe ({-int(txn.amount)} "
                f"{str(txn.currency).upper()}, {txn.id}), not in the ledger"
            )
    report.stripe_checked = True


def reconcile(
    directory: Path,
    *,
    client: stripe.StripeClient | None = None,
    with_stripe: bool = True,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    report = Report()
    ledger = load(directory, report)
    check_ledger(ledger, report)
    if with_stripe:
        check_stripe(ledger, report, client or StripeSettings.from_env().client(), since, until)
    return report
