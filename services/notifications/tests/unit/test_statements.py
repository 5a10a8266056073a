"""The weekly payout statement: to the payee, per currency what was earned, transferred (or
why not) and is still unpaid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.events.v1 import money_pb2, payouts_pb2
from services.notifications import templates

from .test_receipts import envelope, register

WEEK_START = datetime(2026, 1, 5, tzinfo=UTC)


def money(minor: int, currency: str) -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


def statement() -> payouts_pb2.PayoutStatementIssued:
    issued = payouts_pb2.PayoutStatementIssued(account_id="expert-1", week=105)
    issued.period_start.FromDatetime(WEEK_START)
    issued.period_end.FromDatetime(WEEK_START + timedelta(days=7))
    issued.lines.add(
        earnings=money(8100, "USD"),
        ambassador_shares=money(0, "USD"),
        amount=money(9360, "USD"),
        status="sent",
        transfer_id="tr_1",
        balance=money(0, "USD"),
    )
    issued.lines.add(
        earnings=money(675, "EUR"),
        ambassador_shares=money(50, "EUR"),
        amount=money(725, "EUR"),
        status="failed",
        reason="Your destination account needs transfers enabled.",
        balance=money(725, "EUR"),
    )
    return issued


def test_the_payee_gets_the_weeks_statement(service, app):
    register(service, "expert-1", "ada@example.com", "Ada", 1)
    assert service.on_payout_statement(envelope(statement(), "payouts", 1)) == "processed"
    [mail] = [app.get_email(v.email_id) for v in app.emails_to("ada@example.com", 10)]
    assert mail.template == templates.PAYOUT_STATEMENT
    assert mail.subject == "Your Headstore payout: 93.60 USD"
    assert "05 January 2026 to 11 January 2026" in mail.text
    assert "Transferred to your Stripe account: 93.60 USD" in mail.text
    assert "Earned from sessions this week: 81.00 USD" in mail.text
    assert "Not transferred: 7.25 EUR (Your destination account needs transfers enabled.)" in (
        mail.text
    )
    assert "Ambassador shares this week: 0.50 EUR" in mail.text
    assert "Still unpaid: 7.25 EUR" in mail.text


def test_a_repeated_statement_event_sends_one_mail(service, app):
    register(service, "expert-1", "ada@example.com", "Ada", 1)
    service.on_payout_statement(envelope(statement(), "payouts", 1))
    assert service.on_payout_statement(envelope(statement(), "payouts", 1)) == "duplicate"
    assert len(app.emails_to("ada@example.com", 10)) == 1
