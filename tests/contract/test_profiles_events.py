"""Every event profiles publishes parses against its proto, and every declared profiles event
is published by some path: the contract in protos/ is the one the code keeps."""

from __future__ import annotations

from uuid import UUID

import pytest
from google.protobuf import json_format

from contracts.events.v1 import profiles_pb2
from headstore import clock
from headstore.clock import FakeClock
from headstore.domain import Aggregate, event_id
from headstore.envelope import Envelope
from headstore.links import open_sealed
from services.profiles.application import (
    DEFAULT_QUESTIONS,
    ProfilesApplication,
    ProfilesConfig,
)
from services.profiles.contract import translate
from services.profiles.tests import mailed_links

PROFILE_EVENTS = {name for name in profiles_pb2.DESCRIPTOR.message_types_by_name}


@pytest.fixture
def app():
    previous = clock.use(FakeClock())
    application = ProfilesApplication(
        mailed_links.settings(),
        config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192}),
    )
    yield application
    application.close()
    clock.use(previous)


def every_public_path(app: ProfilesApplication) -> None:
    """Drive the application through each path that publishes an event."""
    admin_id = app.sign_up("admin@example.com", "admin password", "Admin")
    app.grant_role(None, admin_id, "admin")
    trustees = [app.sign_up(f"t{n}@example.com", "trustee password", f"T{n}") for n in (1, 2)]
    for trustee in trustees:
        app.grant_role(admin_id, trustee, "trustee")
    client = app.sign_up("cli@example.com", "client password", "Cli")
    app.sign_up("CLI@example.com", "someone else's password", "Not Cli")  # the owner is told
    account = app.account(client)
    assert account.version >= 2
    app.verify_email(mailed_links.mailed_token(app, client))
    app.change_password(client, "client password", "new client password")
    app.request_password_reset("cli@example.com")
    app.reset_password(mailed_links.mailed_token(app, client), "reset client password")
    ambassador = app.sign_up("amb@example.com", "ambassador password", "Amb")
    code = app.appoint_ambassador(admin_id, ambassador, 1200).referral_code
    answers = [{"question_id": qid, "answer": "An answer."} for qid, _ in DEFAULT_QUESTIONS]
    applicants = [
        mailed_links.verified_account(app, f"{who}@example.com", who.title(), "applicant pw 1")
        for who in ("exp", "rej")
    ]
    accepted = app.apply_as_expert(applicants[0], "Exp", answers, code.lower())
    rejected = app.apply_as_expert(applicants[1], "Rej", answers, None)
    for trustee in trustees:
        app.review_application(trustee, accepted, True, "")
        app.review_application(trustee, rejected, False, "Not enough experience.")
    signup = mailed_links.mailed_token(app, accepted)
    expert = app.complete_expert_signup(signup, "applicant pw 1")["account"].id
    app.add_category(admin_id, "tax", "Tax")
    app.update_expert_profile(
        expert,
        {
            "offering": "Tax advice.",
            "categories": ["tax"],
            "languages": ["en"],
            "currency": "EUR",
            "rate_per_minute": 250,
            "free_minutes": 2,
        },
    )
    app.set_availability(expert, True)


def published(app: ProfilesApplication) -> list[Envelope]:
    envelopes = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        domain_event = app.mapper.to_domain_event(notification)
        assert isinstance(domain_event, Aggregate.Event)  # a timestamp and a correlation id
        payload = translate(domain_event, app)
        if payload is not None:
            envelopes.append(
                Envelope.wrap(
                    payload,
                    event_id=str(event_id(domain_event)),
                    occurred_at=domain_event.timestamp,
                    producer="profiles",
                    position=notification.id,
                    correlation_id=domain_event.correlation_id,
                )
            )
    return envelopes


def test_every_published_event_parses_against_its_proto(app):
    every_public_path(app)
    for envelope in published(app):
        wire = Envelope.from_json(envelope.dumps())
        message_class = getattr(profiles_pb2, wire.type)
        parsed = wire.parse(message_class)
        assert json_format.MessageToDict(parsed) == envelope.payload
        assert wire.version == 1
        assert wire.producer == "profiles"


def test_every_declared_profiles_event_is_published(app):
    every_public_path(app)
    assert {envelope.type for envelope in published(app)} == PROFILE_EVENTS


def test_mailed_links_in_events_are_the_tokens_the_application_accepts(app):
    client = app.sign_up("link@example.com", "client password", "Link")
    verification = [e for e in published(app) if e.type == "EmailVerificationRequested"][-1]
    sealed = verification.parse(profiles_pb2.EmailVerificationRequested).sealed_token
    token = open_sealed(sealed, mailed_links.LINK_PRIVATE_KEY)
    assert app.verify_email(token) == client


def test_no_published_event_carries_a_mailed_link_token_in_plain_text(app):
    every_public_path(app)
    tokens = {
        open_sealed(sealed, mailed_links.LINK_PRIVATE_KEY)
        for event in app.recorder.select_notifications(start=1, limit=10_000)
        for sealed in [
            getattr(app.mapper.to_domain_event(event), name, "")
            for name in ("sealed_token", "sealed_signup_token")
        ]
        if sealed
    }
    assert len(tokens) >= 4  # verification links, a reset link, a signup link
    wire = [envelope.dumps() for envelope in published(app)]
    for token in tokens:
        secret_part = token.partition(".")[2]
        assert not any(secret_part in message for message in wire)
    stored = [n.state for n in app.recorder.select_notifications(start=1, limit=10_000)]
    for token in tokens:
        assert not any(token.partition(".")[2].encode() in state for state in stored)


def test_referral_events_name_expert_and_ambassador_by_account_id(app):
    every_public_path(app)
    expert = app.account_by_email("exp@example.com")
    ambassador = app.account_by_email("amb@example.com")
    application = app.application(UUID(by_type(app, "ExpertApplied")[0]["applicationId"]))
    (appointed,) = by_type(app, "AmbassadorAppointed")
    (referred,) = by_type(app, "ExpertReferred")
    assert appointed == {
        "ambassadorId": str(ambassador.id),
        "referralCode": application.referral_code,
        "shareBasisPoints": 1200,
    }
    assert referred == {
        "expertId": str(expert.id),
        "ambassadorId": str(ambassador.id),
        "referralCode": application.referral_code,
        "shareBasisPoints": 1200,
        "applicationId": str(application.id),
    }


def by_type(app: ProfilesApplication, event_type: str) -> list[dict]:
    return [e.payload for e in published(app) if e.type == event_type]


def test_profile_events_name_the_expert_by_account_id(app):
    every_public_path(app)
    expert = app.account_by_email("exp@example.com")
    for envelope in published(app):
        if envelope.type in ("ExpertProfileUpdated", "RateChanged", "AvailabilityChanged"):
            assert envelope.payload["expertId"] == str(expert.id), envelope.type
