"""Sign-up does not tell anyone which addresses have accounts: a sign-up with a taken address is
answered like a new one, changes nothing of the account, and its owner is mailed instead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts.events.v1 import profiles_pb2 as events
from headstore.errors import NotFound
from services.profiles.application import ProfilesApplication, ProfilesConfig
from services.profiles.contract import translate
from services.profiles.domain import Account
from services.profiles.tests import mailed_links


@pytest.fixture
def app() -> Iterator[ProfilesApplication]:
    application = ProfilesApplication(
        mailed_links.settings(),
        config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192}),
    )
    yield application
    application.close()


def test_a_sign_up_with_a_taken_address_answers_like_a_new_one_and_changes_no_account(
    app,
) -> None:
    owner = app.sign_up("owner@example.com", "owner password", "Owner")
    before = app.account(owner)
    answered = app.sign_up("OWNER@example.com", "attacker password", "Mallory")
    assert answered != owner
    with pytest.raises(NotFound):
        app.account(answered)  # the id names nothing
    after = app.account(owner)
    assert (after.display_name, after.password_hash) == ("Owner", before.password_hash)
    assert after.credentials_version == before.credentials_version
    assert app.log_in("owner@example.com", "owner password")["account"].id == owner


def test_the_owner_is_told_of_the_attempt_by_a_public_event(app) -> None:
    owner = app.sign_up("owner@example.com", "owner password", "Owner")
    app.sign_up("owner@example.com", "attacker password", "Mallory")
    [attempt] = [e for e in app.events.get(owner) if isinstance(e, Account.SignUpAttempted)]
    message = translate(attempt, app)
    assert message == events.SignUpAttempted(
        account_id=str(owner), email="owner@example.com", name="Owner"
    )


def test_a_new_address_gets_a_verification_link_and_no_attempt(app) -> None:
    account = app.sign_up("new@example.com", "new password", "New")
    kinds = [type(e).__name__ for e in app.events.get(account)]
    assert kinds == ["Registered", "EmailVerificationRequested"]
