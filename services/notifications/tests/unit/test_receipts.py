"""Receipts after each session: to the client and the expert, with total, minutes and rate."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from google.protobuf.message import Message

from cli.parked import ConsumerPlace
from contracts.events.v1 import billing_pb2, money_pb2, profiles_pb2
from headstore.consumers import handlers
from headstore.envelope import Envelope
from services.notifications import templates
from services.notifications.service import NotificationsService


def envelope(payload: Message, producer: str, position: int) -> str:
    return Envelope.wrap(
        payload,
        event_id=str(uuid4()),
        occurred_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        producer=producer,
        position=position,
        correlation_id="corr-1",
    ).dumps()


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency="USD", minor=minor)


def charged() -> billing_pb2.SessionCharged:
    return billing_pb2.SessionCharged(
        session_id="s-1",
        client_id="client-1",
        expert_id="expert-1",
        minutes=30,
        billed_minutes=30,
        rate_per_minute=usd(300),
        total=usd(9000),
        expert_share=usd(8100),
        platform_share=usd(900),
    )


def register(service, account_id: str, email: str, name: str, position: int) -> None:
    event = profiles_pb2.AccountRegistered(
        account_id=account_id, email=email, name=name, roles=["client"]
    )
    assert service.on_account_registered(envelope(event, "profiles", position)) == "processed"


def test_both_sides_get_a_receipt_with_total_minutes_and_rate(service, app):
    register(service, "client-1", "cleo@example.com", "Cleo", 1)
    register(service, "expert-1", "ada@example.com", "Ada", 2)
    assert service.on_session_charged(envelope(charged(), "billing", 1)) == "processed"

    [client_mail] = [app.get_email(v.email_id) for v in app.emails_to("cleo@example.com", 10)]
    [expert_mail] = [app.get_email(v.email_id) for v in app.emails_to("ada@example.com", 10)]
    assert client_mail.template == templates.RECEIPT_CLIENT
    assert "Total: 90.00 USD" in client_mail.text
    assert "Minutes: 30" in client_mail.text and "Rate: 3.00 USD per minute" in client_mail.text
    assert expert_mail.template == templates.RECEIPT_EXPERT
    assert "Your earnings: 81.00 USD" in expert_mail.text
    assert "Headstore commission: 9.00 USD" in expert_mail.text


def test_free_minutes_are_shown_on_the_receipt():
    rendered = templates.session_receipt(
        "Cleo",
        for_expert=False,
        other_name="Ada",
        session_id="s-2",
        minutes=10,
        billed_minutes=7,
        rate_minor=200,
        total_minor=1400,
        expert_share_minor=1260,
        currency="USD",
    )
    assert "Minutes: 10 (3 free)" in rendered.text
    assert "Total: 14.00 USD" in rendered.text


def test_a_receipt_for_an_unknown_account_is_parked_and_sent_by_replay_once_it_is_known(
    service, app, monkeypatch
):
    monkeypatch.setenv("CONSUMER_ATTEMPTS", "3")
    monkeypatch.setenv("CONSUMER_RETRY_SECONDS", "0")
    register(service, "client-1", "cleo@example.com", "Cleo", 1)
    assert service.on_session_charged(envelope(charged(), "billing", 1)) == "parked"
    assert app.emails_to("cleo@example.com", 10) == []
    [parked] = app.parking.parked()
    assert parked.attempts == 3
    assert "no address yet for account expert-1" in parked.reason

    register(service, "expert-1", "ada@example.com", "Ada", 2)
    [place] = [
        ConsumerPlace(app, NotificationsService, s)
        for s in handlers(NotificationsService)
        if s.upstream == parked.handler
    ]
    assert place.replay(None).startswith("1 applied")
    assert len(app.emails_to("cleo@example.com", 10)) == 1
    assert app.parking.parked() == []
    place.replay(None)  # nothing left: nothing sent twice
    assert len(app.emails_to("cleo@example.com", 10)) == 1
