"""One weekly payout run for 20,000 payees against the real Stripe stand-in, over HTTP through
the official SDK, at Stripe's live rate limit (100 requests/s) and a 300 ms median latency.

Target: the run takes at most 1.2 × payees ÷ rate limit (240 s for 20,000 payees at 100/s):
linear in payees, and sending as fast as Stripe allows.

Setup (not timed; the stand-in answers at once and without a limit meanwhile):

1. The platform's balance in each currency: the stand-in settles in the five currencies (as
   `make run` has it) and starts with an opening balance (a top-up, available at once) of what
   every transfer due needs, plus 1%.
2. Payees as a platform has them: currencies USD 45%, EUR 25%, GBP 15%, CAD 10%, CHF 5%, each
   payee in a country of its currency (EUR: DE, FR, ES, IT, NL); 5% earn in a second currency
   too (USD), 3% have had more taken back than they earned (a refund: balance at or below zero,
   skipped by the run). One to four sessions each, earnings of 30 to 90 minutes at 1.00 to 6.00
   a minute less the 10% commission. Connected accounts are opened at the stand-in through
   the SDK (abroad under the recipient service agreement) and onboarded (its dev route); the
   `PayoutAccount` and `Payee` aggregates are saved in batches of 500 (a shortcut: production
   makes them one by one as payees activate and sessions end).

Measured: the stand-in is set to `BENCH_PAYOUTS_LATENCY_MS` (300) and `BENCH_PAYOUTS_RATE_LIMIT`
(100), then `PayoutsApplication.run_due` runs the week, as the service's timer does, with
`ConnectGateway` on the chassis's Stripe pool at the same rate limit and
`BENCH_PAYOUTS_WORKERS` (64) threads: it reads the balance, plans (one pass over the payees),
records the plan, sends the transfers and records each payee's outcome and statement.

Checked afterwards (the stand-in unlimited again): every transfer listed at the stand-in is one
of the plan's, none twice (`duplicated`), every one the run recorded as sent is there (`lost`),
and every payee with a positive balance was paid.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter as Multiset
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stripe
from stripe.params import AccountCreateParams

from bench.baseline import Stopwatch, isolated, machine, now_iso, pg_commit_rate, write_result
from cli.main import migrate
from cli.registry import SERVICES
from devtools.testing import stripe_stand_in
from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.settings import StripeLimits
from headstore.stripe_api import StripeSettings, stripe_pool
from services.payouts.adapters.stripe import ConnectGateway
from services.payouts.application import PayoutsApplication, PayoutsConfig
from services.payouts.domain import (
    EARNINGS,
    RECIPIENT,
    Payee,
    PayoutAccount,
    PayoutRun,
    run_id,
    service_agreement,
    transfer_group,
)

PAYEES = int(os.environ.get("BENCH_PAYOUTS_PAYEES", "20000"))
RATE_LIMIT = int(os.environ.get("BENCH_PAYOUTS_RATE_LIMIT", "100"))
LATENCY_MS = float(os.environ.get("BENCH_PAYOUTS_LATENCY_MS", "300"))
WORKERS = int(os.environ.get("BENCH_PAYOUTS_WORKERS", "64"))
TARGET_RATIO = 1.2
SEED = 20261203
SAVE_BATCH = 500
SETUP_WORKERS = 16

CURRENCIES = (("USD", 45), ("EUR", 25), ("GBP", 15), ("CAD", 10), ("CHF", 5))
COUNTRIES = {"USD": ("US",), "EUR": ("DE", "FR", "ES", "IT", "NL"), "GBP": ("GB",)}
COUNTRIES |= {"CAD": ("CA",), "CHF": ("CH",)}
SECOND_CURRENCY_SHARE = 0.05
TAKEN_BACK_SHARE = 0.03

ANCHOR = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
CONFIG = PayoutsConfig(week_anchor=ANCHOR, week_seconds=7 * 24 * 3600)


class TimedGateway(ConnectGateway):
    """The gateway, noting when the run started sending and when each transfer was answered."""

    sending_from: float | None = None
    answered: list[float]

    def concurrently(self, call: Any, items: Any) -> Any:
        self.sending_from = time.perf_counter()
        return super().concurrently(call, items)

    def transfer(self, idempotency_key: str, **kwargs: Any) -> Any:
        result = super().transfer(idempotency_key, **kwargs)
        self.answered.append(time.perf_counter())
        return result


def _network(url: str, **values: float) -> dict[str, Any]:
    """The stand-in's latency and rate limit (POST /_config/network), and its counters."""
    if values:
        answer = httpx.post(f"{url}/_config/network", data=values, timeout=30)
    else:
        answer = httpx.get(f"{url}/_config/network", timeout=30)
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def _population(rng: random.Random) -> list[dict[str, Any]]:
    names = [currency for currency, _ in CURRENCIES]
    weights = [weight for _, weight in CURRENCIES]
    payees = []
    for n in range(PAYEES):
        currency = rng.choices(names, weights)[0]
        currencies = [currency]
        if currency != "USD" and rng.random() < SECOND_CURRENCY_SHARE / 0.55:
            currencies.append("USD")
        sessions = [
            (c, rng.randint(30, 90) * rng.randint(100, 600) * 9 // 10)
            for c in currencies
            for _ in range(rng.randint(1, 4))
        ]
        payees.append(
            {
                "account_id": f"expert-{n}",
                "country": rng.choice(COUNTRIES[currency]),
                "sessions": sessions,
                "taken_back": rng.random() < TAKEN_BACK_SHARE,
            }
        )
    return payees


def _open_accounts(url: str, payees: list[dict[str, Any]]) -> None:
    """Connected accounts at the stand-in, onboarded (setup: many at once, no limit, and no
    idempotency keys, which the stand-in keeps and looks through on every keyed request)."""
    client = stripe.StripeClient(
        api_key=StripeSettings().api_key, base_addresses={"api": url}, max_network_retries=0
    )
    setup = stripe_pool("bench", StripeLimits(rate_limit=100_000, workers=SETUP_WORKERS))

    def open_one(payee: dict[str, Any]) -> str:
        params: AccountCreateParams = {
            "type": "express",
            "country": payee["country"],
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"account_id": payee["account_id"]},
        }
        if service_agreement(payee["country"], CONFIG.platform_country) == RECIPIENT:
            params["tos_acceptance"] = {"service_agreement": RECIPIENT}
        account = client.v1.accounts.create(params=params)
        client.raw_request("post", f"/_dev/accounts/{account.id}/complete_onboarding")
        return str(account.id)

    for payee, outcome in setup.map_unordered(open_one, payees):
        if isinstance(outcome, Exception):
            raise outcome
        payee["stripe_account_id"] = outcome
    setup.close()


def _store(app: PayoutsApplication, payees: list[dict[str, Any]]) -> None:
    """Each payee's active account and credits, saved in batches (setup shortcut)."""
    earned_at = ANCHOR + timedelta(days=2)
    for start in range(0, len(payees), SAVE_BATCH):
        aggregates: list[Any] = []
        for payee in payees[start : start + SAVE_BATCH]:
            account = PayoutAccount.open(
                payee["account_id"], payee["country"], payee["stripe_account_id"]
            )
            account.update_from_stripe(True)
            record = Payee.open(payee["account_id"])
            for index, (currency, amount) in enumerate(payee["sessions"]):
                record.credit(
                    entry=EARNINGS,
                    session_id=f"{payee['account_id']}-s{index}",
                    expert_id=payee["account_id"],
                    currency=currency,
                    amount_minor=amount,
                    commission_minor=amount // 9,
                    earned_at=earned_at,
                    week=0,
                )
            if payee["taken_back"]:
                currency = payee["sessions"][0][0]
                record.debit(
                    reference=f"re_{payee['account_id']}",
                    currency=currency,
                    amount_minor=record.balance(currency) + 100,
                    reason="refund",
                    week=0,
                )
            aggregates += [account, record]
        app.save(*aggregates)


def _due(payees: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    due: dict[tuple[str, str], int] = {}
    for payee in payees:
        if payee["taken_back"]:
            currencies = {c for c, _ in payee["sessions"]} - {payee["sessions"][0][0]}
        else:
            currencies = {c for c, _ in payee["sessions"]}
        for currency in currencies:
            due[(payee["account_id"], currency)] = sum(
                amount for c, amount in payee["sessions"] if c == currency
            )
    return due


def _listed_transfers(gateway: ConnectGateway, week: int) -> list[dict[str, Any]]:
    listed = gateway.client.v1.transfers.list(
        params={"transfer_group": transfer_group(week), "limit": 100}
    )
    return [transfer.to_dict() for transfer in listed.auto_paging_iter()]


def run() -> dict[str, Any]:
    rng = random.Random(SEED)
    population = _population(rng)
    due = _due(population)
    needed: dict[str, int] = {}
    for (_, currency), amount in due.items():
        needed[currency] = needed.get(currency, 0) + amount

    with isolated("payouts") as box:
        baseline = pg_commit_rate(box)
        migrate(box.settings, [SERVICES["payouts"]])
        stand_in_args = ["--settlement-currency", ",".join(c.lower() for c, _ in CURRENCIES)]
        for currency, amount in needed.items():
            stand_in_args += ["--opening-balance", f"{currency.lower()}={amount + amount // 100}"]
        with stripe_stand_in(box.log_dir / "stripe.log", *stand_in_args) as url:
            limits = StripeLimits(rate_limit=RATE_LIMIT, workers=WORKERS)
            gateway = TimedGateway(StripeSettings(api_base=url), stripe_pool("payouts", limits))
            gateway.answered = []
            fake_clock = FakeClock(ANCHOR + timedelta(days=3))
            previous_clock = headstore_clock.use(fake_clock)
            app = PayoutsApplication(box.settings, config=CONFIG)
            try:
                setup = Stopwatch()
                _open_accounts(url, population)
                _store(app, population)
                app.follow()  # as the service's timer does every tick
                setup_s = setup.elapsed()

                _network(url, latency_ms=LATENCY_MS, rate_limit=RATE_LIMIT)
                before = _network(url)
                throttled_before = gateway.pool.throttled_count._value.get()
                waits_before = gateway.pool.limit_waits._value.get()
                now = ANCHOR + timedelta(days=7, minutes=1)
                fake_clock.advance(now - fake_clock.now())
                watch = Stopwatch()
                cpu = time.process_time()
                report = app.run_due(now, gateway)
                cpu_s = time.process_time() - cpu
                seconds = watch.elapsed()
                ended = time.perf_counter()
                after = _network(url)
                _network(url, latency_ms=0, rate_limit=0)

                run = app.find(PayoutRun, run_id(0))
                assert run is not None
                listed = _listed_transfers(gateway, 0)
            finally:
                app.close()
                headstore_clock.use(previous_clock)
                gateway.close()

        planned = {(item["account_id"], item["currency"]) for item in run.planned}
        sent_at_stripe = Multiset(
            (t["metadata"].get("account_id", ""), t["currency"].upper()) for t in listed
        )
        duplicated = sum(count - 1 for count in sent_at_stripe.values() if count > 1)
        unexpected = sum(1 for key in sent_at_stripe if key not in planned)
        lost = sum(1 for key in due if key not in sent_at_stripe)
        target_s = TARGET_RATIO * PAYEES / RATE_LIMIT
        result = {
            "benchmark": "payouts",
            "timestamp": now_iso(),
            "payees": PAYEES,
            "transfers": len(planned),
            "seconds": round(seconds, 2),
            "target_s": round(target_s, 1),
            "ok": seconds <= target_s and not duplicated and not lost and not unexpected,
            "ratio_to_target": round(seconds / target_s, 3),
            "floor_s": round(len(planned) / RATE_LIMIT, 1),
            "transfers_per_s": round(report.sent / seconds, 1),
            "first_answer_s": round(gateway.answered[0] - (ended - seconds), 2)
            if gateway.answered
            else None,
            "send_s": round(gateway.answered[-1] - (gateway.sending_from or 0), 2)
            if gateway.answered
            else None,
            "record_tail_s": round(ended - gateway.answered[-1], 2) if gateway.answered else None,
            "sending_per_s": round(
                len(gateway.answered) / (gateway.answered[-1] - (gateway.sending_from or 0)), 1
            )
            if gateway.answered
            else None,
            "rate_limit": RATE_LIMIT,
            "latency_ms_median": LATENCY_MS,
            "workers": WORKERS,
            "sent": report.sent,
            "carried": report.carried,
            "failed": report.failed,
            "errors": report.errors,
            "statements": report.statements,
            "run_finished": run.finished,
            "skipped_at_or_below_zero": sum(1 for p in population if p["taken_back"]),
            "second_currency_payees": sum(
                1 for p in population if len({c for c, _ in p["sessions"]}) > 1
            ),
            "currencies": {c: sum(1 for (_, cur) in due if cur == c) for c, _ in CURRENCIES},
            "bench_process_cpu_s": round(cpu_s, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "stripe_requests": after["served"] - before["served"],
            "stripe_429s": after["refused"] - before["refused"],
            "pool_throttled": gateway.pool.throttled_count._value.get() - throttled_before,
            "pool_rate_limit_waits": gateway.pool.limit_waits._value.get() - waits_before,
            "listed_at_stripe": len(listed),
            "lost": lost,
            "duplicated": duplicated,
            "unexpected": unexpected,
            "setup_s": round(setup_s, 1),
            **baseline,
            "machine": machine(box.settings),
        }
    write_result("payouts", result)
    return result
