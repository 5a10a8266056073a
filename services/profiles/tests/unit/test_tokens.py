"""Mailed-link tokens are random, single use and expire; access tokens name issuer, audience and
the account's credentials version, which every password change or reset raises."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import jwt
import pytest
from nameko.testing.services import worker_factory

from contracts.profiles.v1 import profiles_pb2 as api
from headstore import clock
from headstore.clock import FakeClock
from headstore.errors import InvalidInput, PreconditionFailed
from services.profiles.application import ProfilesApplication, ProfilesConfig
from services.profiles.service import ProfilesService
from services.profiles.tests import mailed_links

PASSWORD = "client password"
PUBLISHED_TOKEN_SECRET = "dev-only-token-secret-change-me-in-production-42"
"""The default of the TOKEN_SECRET that mailed-link tokens were once derived from, as it was
committed to the repository (and so known to anyone)."""


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    previous = clock.use(fake)
    yield fake
    clock.use(previous)


@pytest.fixture
def app(fake_clock: FakeClock) -> Iterator[ProfilesApplication]:
    application = ProfilesApplication(
        mailed_links.settings(),
        config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192}),
    )
    yield application
    application.close()


@pytest.fixture
def client(app: ProfilesApplication) -> UUID:
    return app.sign_up("cli@example.com", PASSWORD, "Cli")


def old_scheme_token(kind: str, aggregate_id: UUID, version: int) -> str:
    """How mailed-link tokens were made before: HMAC(TOKEN_SECRET, kind:aggregate:version),
    with the secret's default committed to the repository."""
    mac = hmac.new(
        PUBLISHED_TOKEN_SECRET.encode(),
        f"{kind}:{aggregate_id}:{version}".encode(),
        hashlib.sha256,
    )
    return f"{aggregate_id.hex}.{mac.hexdigest()}"


def test_a_reset_link_forged_from_the_published_secret_is_refused(app, client) -> None:
    app.request_password_reset("cli@example.com")
    before = app.account(client)
    for version in range(1, before.version + 3):  # the handful of tries the old scheme needed
        with pytest.raises(InvalidInput) as refused:
            app.reset_password(old_scheme_token("reset", client, version), "attacker password")
        assert refused.value.code == "reset_link_invalid"
    after = app.account(client)
    assert after.version == before.version
    assert after.password_hash == before.password_hash
    assert app.log_in("cli@example.com", PASSWORD)["account"].id == client


def test_a_verification_link_forged_from_the_published_secret_is_refused(app, client) -> None:
    for version in range(1, app.account(client).version + 3):
        with pytest.raises(InvalidInput):
            app.verify_email(old_scheme_token("verify", client, version))
    assert not app.account(client).email_verified


def test_mailed_tokens_are_random_and_stored_only_as_digests(app, client) -> None:
    first = mailed_links.mailed_token(app, client)
    app.resend_verification(client)
    second = mailed_links.mailed_token(app, client)
    assert first != second
    assert first.startswith(client.hex + ".") and len(first.partition(".")[2]) >= 43
    state = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=100))
    for token in (first, second):
        assert token.partition(".")[2].encode() not in state
        assert hashlib.sha256(token.encode()).hexdigest().encode() in state


def test_a_reset_link_works_once(app, client) -> None:
    app.request_password_reset("cli@example.com")
    token = mailed_links.mailed_token(app, client)
    app.reset_password(token, "second password")
    with pytest.raises(PreconditionFailed) as refused:
        app.reset_password(token, "third password")
    assert refused.value.code == "reset_link_used"


def test_a_reset_link_expires_after_its_configured_lifetime(app, client, fake_clock) -> None:
    app.request_password_reset("cli@example.com")
    token = mailed_links.mailed_token(app, client)
    fake_clock.advance(app.config.reset_lifetime + timedelta(seconds=1))
    with pytest.raises(PreconditionFailed) as refused:
        app.reset_password(token, "second password")
    assert refused.value.code == "reset_link_expired"


def test_lifetimes_come_from_the_environment(monkeypatch) -> None:
    for name, seconds in (
        ("ACCESS_TOKEN_SECONDS", 60),
        ("VERIFICATION_LINK_SECONDS", 61),
        ("RESET_LINK_SECONDS", 62),
        ("REFRESH_TOKEN_SECONDS", 63),
        ("SIGNUP_LINK_SECONDS", 64),
    ):
        monkeypatch.setenv(name, str(seconds))
    config = ProfilesConfig.from_env()
    assert config.access_token_seconds == 60
    assert config.verification_lifetime == timedelta(seconds=61)
    assert config.reset_lifetime == timedelta(seconds=62)
    assert config.refresh_lifetime == timedelta(seconds=63)
    assert config.signup_lifetime == timedelta(seconds=64)


def test_a_lifetime_that_is_not_positive_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setenv("REFRESH_TOKEN_SECONDS", "0")
    with pytest.raises(ValueError, match="REFRESH_TOKEN_SECONDS"):
        ProfilesConfig.from_env()


def claims(app: ProfilesApplication, token: str) -> dict:
    return jwt.decode(
        token,
        app.settings.jwt_secret,
        algorithms=["HS256"],
        audience=app.settings.jwt_audience,
        issuer=app.settings.jwt_issuer,
        options={"verify_exp": False},
    )


def test_an_access_token_names_issuer_audience_version_and_the_configured_lifetime(
    app, client
) -> None:
    issued = claims(app, app.log_in("cli@example.com", PASSWORD)["access_token"])
    assert issued["iss"] == "headstore" and issued["aud"] == "headstore-api"
    assert issued["sub"] == str(client)
    assert issued["ver"] == 1
    assert issued["exp"] - issued["iat"] == app.config.access_token_seconds


def test_a_password_change_raises_the_credentials_version(app, client) -> None:
    old = claims(app, app.log_in("cli@example.com", PASSWORD)["access_token"])
    app.change_password(client, PASSWORD, "changed password")
    assert app.account(client).credentials_version == old["ver"] + 1
    new = claims(app, app.log_in("cli@example.com", "changed password")["access_token"])
    assert new["ver"] == old["ver"] + 1


def test_a_password_reset_raises_the_credentials_version(app, client) -> None:
    before = app.account(client).credentials_version
    app.request_password_reset("cli@example.com")
    assert app.account(client).credentials_version == before  # asking changes nothing yet
    app.reset_password(mailed_links.mailed_token(app, client), "reset password")
    assert app.account(client).credentials_version == before + 1


def test_access_state_answers_the_current_version_roles_and_e_mail_state(app, client) -> None:
    service = worker_factory(ProfilesService, store=app)
    app.verify_email(mailed_links.mailed_token(app, client))
    app.grant_role(None, client, "trustee")
    app.change_password(client, PASSWORD, "changed password")
    state = service.GetAccessState(api.GetAccessStateRequest(account_id=str(client)), None)
    assert state == api.AccessState(
        account_id=str(client),
        credentials_version=2,
        roles=["client", "trustee"],
        email_verified=True,
    )
