"""finance decodes stored events itself; here it must agree with the library's mapper."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from finance import events as ev
from finance.tests.scenario import Books
from headstore.topics import stored_topics
from services.billing.domain import Bill
from services.payouts.domain import Payee, PayoutRun


def test_topics_name_the_domain_classes() -> None:
    assert get_topic(Bill.Opened) == ev.BILL_OPENED
    assert get_topic(Bill.CaptureRecorded) == ev.CAPTURE_RECORDED
    assert get_topic(Bill.Charged) == ev.CHARGED
    assert get_topic(Bill.EarningsAccrued) == ev.EARNINGS_ACCRUED
    assert get_topic(Payee.Opened) == ev.PAYEE_OPENED
    assert get_topic(Payee.Credited) == ev.CREDITED
    assert get_topic(Payee.TransferSent) == ev.TRANSFER_SENT
    assert get_topic(Payee.TransferFailed) == ev.TRANSFER_FAILED
    assert get_topic(Payee.StatementIssued) == ev.STATEMENT_ISSUED
    assert get_topic(PayoutRun.Started) == ev.PAYOUT_RUN_STARTED


def test_finance_reads_every_name_the_services_store_an_event_under() -> None:
    """The stable name and the module path events were stored under before, as the services
    registered them (headstore.topics)."""
    for cls in (
        Bill.Opened,
        Bill.CaptureRecorded,
        Bill.Charged,
        Bill.EarningsAccrued,
        Payee.Opened,
        Payee.Credited,
        Payee.TransferSent,
        Payee.TransferFailed,
        Payee.StatementIssued,
        PayoutRun.Started,
    ):
        names = stored_topics(cls)
        assert len(names) == 2 and names[1].startswith("services.")
        assert {ev.STORED_AS[name] for name in names} == {get_topic(cls)}
        assert set(names) <= set(ev.BILLING_TOPICS + ev.PAYOUTS_TOPICS)


def test_decoding_equals_the_library_mapper_for_every_topic_used(standard: Books) -> None:
    refunded = standard.session("s-refunded", expert_id="expert-2", currency="EUR")
    standard.credit(refunded)
    standard.refund(refunded)
    disputed = standard.session("s-disputed")
    standard.credit(disputed)
    standard.dispute(disputed, "dp_1", "lost")
    seen: set[str] = set()
    for app in (standard.billing, standard.payouts):
        for notification in app.recorder.select_notifications(1, 10_000):
            if notification.topic not in ev.DATETIME_FIELDS:
                continue
            seen.add(notification.topic)
            event = app.mapper.to_domain_event(notification)
            decoded = ev.decode(notification.topic, notification.state)
            expected = {
                k: v
                for k, v in vars(event).items()
                if k not in ("originator_id", "originator_version")
            }
            assert decoded == expected, notification.topic
            for name, value in decoded.items():  # class defaults included
                assert getattr(event, name) == value
                assert type(getattr(event, name)) is type(value)
            for name in ev.DATETIME_FIELDS[notification.topic]:
                assert isinstance(decoded[name], datetime) and decoded[name].tzinfo is not None
            # the id the ledger keys on is the library's UUID, as text
            assert isinstance(event.originator_id, UUID)
            assert UUID(str(notification.originator_id)) == event.originator_id
    assert seen == set(ev.DATETIME_FIELDS), set(ev.DATETIME_FIELDS) - seen


def test_an_earnings_event_stored_before_the_commission_field_keeps_the_default(
    books: Books,
) -> None:
    bill = books.session("s-old", seconds=120)
    app = books.billing
    (stored,) = [
        n for n in app.recorder.select_notifications(1, 1000) if n.topic == ev.EARNINGS_ACCRUED
    ]
    field = f',"commission_minor":{bill.platform_share_minor}'.encode()
    old_state = stored.state.replace(field, b"")
    assert old_state != stored.state
    decoded = ev.decode(ev.EARNINGS_ACCRUED, old_state)
    event = app.mapper.to_domain_event(dataclasses.replace(stored, state=old_state))
    assert "commission_minor" not in decoded
    assert event.commission_minor == 0  # type: ignore[attr-defined]
    assert decoded["amount_minor"] == bill.expert_share_minor


def test_a_state_that_is_not_the_library_s_is_refused() -> None:
    with pytest.raises(ev.UndecodableEvent):
        ev.decode(ev.CHARGED, b'{"timestamp":{"_type_":"decimal_str","_data_":"1"}}')
    with pytest.raises(ev.UndecodableEvent):
        ev.decode(ev.CHARGED, b'{"timestamp":"2026-01-05"}')
    with pytest.raises(ev.UndecodableEvent):
        ev.decode(ev.CHARGED, b'{"class_version":2}')
