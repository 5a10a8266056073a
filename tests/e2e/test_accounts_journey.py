"""A person's account, through the public API, with mail read from the real mailbox."""

from __future__ import annotations

import pytest

from devtools.testing import wait_until
from tests.e2e.conftest import link_token

pytestmark = pytest.mark.e2e


def log_in(platform, email: str, password: str):
    return platform.api.post("/v1/auth/login", json={"email": email, "password": password})


def revoked(platform, access_token: str) -> bool:
    """The gateway refuses the token as revoked (after its short cache of the account)."""

    def refused() -> bool:
        me = platform.api.get("/v1/me", headers={"Authorization": f"Bearer {access_token}"})
        return me.status_code == 401 and me.json()["code"] == "token_revoked"

    return bool(wait_until(refused, timeout=5, what="the old access token to be refused"))


def test_sign_up_verify_log_in_change_and_reset_password(platform):
    api = platform.api
    signed = api.post(
        "/v1/accounts",
        json={"email": "mia@example.com", "password": "first password", "name": "Mia"},
    )
    assert signed.status_code == 201, signed.text

    verification = platform.wait_for_mail("mia@example.com", "Confirm your e-mail")
    verified = api.post(
        "/v1/accounts/verify", json={"token": link_token(verification, "/verify-email")}
    )
    assert verified.status_code == 200, verified.text

    tokens = log_in(platform, "mia@example.com", "first password").json()
    me = api.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["email_verified"] is True

    changed = api.put(
        "/v1/me/password",
        json={"current_password": "first password", "new_password": "second password"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert changed.status_code == 204, changed.text
    assert log_in(platform, "mia@example.com", "first password").status_code == 401
    assert revoked(platform, tokens["access_token"])  # the token from before the change
    second = log_in(platform, "mia@example.com", "second password")
    assert second.status_code == 200
    platform.wait_for_mail("mia@example.com", "password was changed")

    assert api.post("/v1/password-resets", json={"email": "mia@example.com"}).status_code == 202
    reset_mail = platform.wait_for_mail("mia@example.com", "Reset your")
    token = link_token(reset_mail, "/reset-password")
    reset = api.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "third password"}
    )
    assert reset.status_code == 204, reset.text
    assert revoked(platform, second.json()["access_token"])
    assert log_in(platform, "mia@example.com", "third password").status_code == 200

    reused = api.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "fourth password"}
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "reset_link_used"
    assert log_in(platform, "mia@example.com", "third password").status_code == 200


def test_a_reset_for_an_unknown_address_says_the_same_and_mails_nothing(platform):
    answer = platform.api.post("/v1/password-resets", json={"email": "ghost@example.com"})
    assert answer.status_code == 202
    platform.api.post(
        "/v1/accounts",
        json={"email": "marker@example.com", "password": "long enough", "name": "Marker"},
    )
    # Mails leave in order: once the later sign-up's mail is out, the reset would have been.
    platform.wait_for_mail("marker@example.com", "Confirm your e-mail")
    assert platform.mails_to("ghost@example.com") == []


def test_a_sign_up_with_a_taken_address_looks_new_and_mails_the_owner(platform):
    api = platform.api
    body = {"email": "noor@example.com", "password": "owner password", "name": "Noor"}
    first = api.post("/v1/accounts", json=body)
    again = api.post(
        "/v1/accounts",
        json={"email": "Noor@Example.com", "password": "prober password", "name": "Prober"},
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert set(first.json()) == set(again.json()) == {"account_id"}
    assert again.json()["account_id"] != first.json()["account_id"]
    told = platform.wait_for_mail("noor@example.com", "tried to sign up")
    assert "Reset your password" in told["text"] or "reset" in told["text"]
    assert log_in(platform, "noor@example.com", "owner password").status_code == 200
    assert log_in(platform, "noor@example.com", "prober password").status_code == 401


def test_rejected_sign_ups_change_nothing(platform):
    api = platform.api
    cases = [
        ({"email": "not-an-address", "password": "long enough", "name": "Zed"}, "email"),
        ({"email": "zed@example.com", "password": "short", "name": "Zed"}, "password"),
        ({"email": "zed@example.com", "password": "long enough", "name": ""}, None),
    ]
    for body, field in cases:
        answer = api.post("/v1/accounts", json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()
        assert set(error) == {"code", "message", "field"}
        if field:
            assert error["field"] == field
    # None of those stored anything: the address is still free.
    assert (
        api.post(
            "/v1/accounts",
            json={"email": "zed@example.com", "password": "long enough", "name": "Zed"},
        ).status_code
        == 201
    )
    assert log_in(platform, "zed@example.com", "short").status_code == 401


def test_repeated_failed_log_ins_are_slowed_down_for_the_guesser_not_the_owner(platform):
    api = platform.api
    api.post(
        "/v1/accounts",
        json={"email": "kit@example.com", "password": "right password", "name": "Kit"},
    )
    guesser = {"X-Forwarded-For": "198.51.100.7"}  # through the proxy the gateway trusts here

    def attempt(password: str, headers: dict[str, str]):
        return api.post(
            "/v1/auth/login",
            json={"email": "kit@example.com", "password": password},
            headers=headers,
        )

    codes = [attempt("wrong password", guesser).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429
    throttled = attempt("right password", guesser)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "rate_limited"
    assert int(throttled.headers["Retry-After"]) > 0
    # The owner, from their own address, is not held back by the guesser's failures.
    owner = attempt("right password", {"X-Forwarded-For": "203.0.113.20"})
    assert owner.status_code == 200, owner.text
