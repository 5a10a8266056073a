"""`headstore finance replay|reconcile` (also `python -m finance.cli ...`).

Only the standard library is imported up front: `headstore`'s own CLI builds this parser for
every command, including those that must patch eventlet before anything else is imported."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from finance import DEFAULT_OUT

if TYPE_CHECKING:
    from headstore.settings import Settings


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def add_commands(parser: argparse.ArgumentParser) -> None:
    """The `finance` subcommands, on `parser` (headstore's `finance` command, or our own)."""
    commands = parser.add_subparsers(dest="finance_command", required=True)
    run = commands.add_parser(
        "replay", help="replay billing and payouts events into CSV files and the finance database"
    )
    run.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the CSV files go")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    check = commands.add_parser(
        "reconcile", help="check a replay's ledgers against themselves and Stripe"
    )
    check.add_argument(
        "--ledger", type=Path, help="the CSV files of a replay (default: replay now, to a temp dir)"
    )
    check.add_argument("--quiet", action="store_true", help="no progress bar when replaying")
    check.add_argument("--no-stripe", action="store_true", help="skip the comparison with Stripe")
    check.add_argument(
        "--since", type=_moment, help="compare only what was booked from this time (ISO 8601)"
    )
    check.add_argument(
        "--until", type=_moment, help="compare only what was booked before this time (ISO 8601)"
    )


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    import stripe

    from finance.reconcile import reconcile
    from finance.replay import replay
    from headstore.settings import Settings

    settings = settings or Settings.from_env()
    if args.finance_command == "replay":
        result = replay(settings, args.out, quiet=args.quiet)
        heads = ", ".join(f"{store} to {head}" for store, head in result.heads.items())
        print(
            f"replayed {result.events} events ({heads}) in {result.seconds:.1f} s: "
            f"{result.sessions} sessions, {result.transfers} transfers "
            f"-> {args.out}/ and database {result.projection}"
        )
        return 0
    with tempfile.TemporaryDirectory(prefix="finance-ledger-") as temporary:
        ledger = args.ledger
        if ledger is None:
            ledger = Path(temporary)
            replay(settings, ledger, quiet=args.quiet, projection=False)
        try:
            report = reconcile(
                ledger, with_stripe=not args.no_stripe, since=args.since, until=args.until
            )
        except stripe.StripeError as error:
            print(f"cannot read Stripe's balance transactions: {error}", file=sys.stderr)
            return 2
    for difference in report.differences:
        print(difference)
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="headstore finance", description=__doc__)
    add_commands(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
