"""Becoming an expert and being found, through the public API."""

from __future__ import annotations

import pytest

from devtools.testing import wait_until
from tests.e2e.conftest import link_token

pytestmark = pytest.mark.e2e

ANSWERS = [
    {"question_id": "expertise", "answer": "Twenty years of corporate tax advice."},
    {"question_id": "credentials", "answer": "Chartered tax adviser."},
    {"question_id": "clients", "answer": "Founders of small companies."},
    {"question_id": "availability", "answer": "I check messages twice a day."},
]

PROFILE = {
    "job_title": "Tax adviser",
    "company": "Lovelace & Co",
    "offering": "Corporate tax planning for founders and small companies.",
    "description": "I help founders keep their books and taxes simple.",
    "categories": ["finance", "law"],
    "tags": ["tax", "startups"],
    "languages": ["en", "de"],
    "currency": "USD",
    "rate_per_minute": "3.00",
    "free_minutes": 3,
}


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def staff(platform, email: str, role: str) -> dict:
    platform.api.post(
        "/v1/accounts", json={"email": email, "password": "staff password", "name": role.title()}
    )
    if role != "client":
        platform.grant_role(email, role)
    answer = platform.api.post(
        "/v1/auth/login", json={"email": email, "password": "staff password"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


APPLICANT_PASSWORD = "applicant password"


def verified_applicant(platform, email: str, name: str = "Ada Lovelace") -> dict:
    """Someone who signed up, confirmed their address with the mailed link and logged in: who
    may apply."""
    api = platform.api
    signed = api.post(
        "/v1/accounts", json={"email": email, "password": APPLICANT_PASSWORD, "name": name}
    )
    assert signed.status_code == 201, signed.text
    confirmation = platform.wait_for_mail(email, "Confirm your e-mail")
    verified = api.post(
        "/v1/accounts/verify", json={"token": link_token(confirmation, "/verify-email")}
    )
    assert verified.status_code == 200, verified.text
    logged_in = api.post("/v1/auth/login", json={"email": email, "password": APPLICANT_PASSWORD})
    assert logged_in.status_code == 200, logged_in.text
    return logged_in.json()


def accepted_expert(
    platform, email: str = "ada@example.com", referral_code: str | None = None
) -> dict:
    """An applicant (brought by an ambassador, with `referral_code`) who applies with their
    verified account, is approved by two trustees and becomes an expert through the mailed
    link (with the account's password)."""
    api = platform.api
    trustees = [staff(platform, f"trustee{n}-{email}", "trustee") for n in (1, 2)]
    applicant = verified_applicant(platform, email)
    application = {"name": "Ada Lovelace", "answers": ANSWERS}
    if referral_code:
        application["referral_code"] = referral_code
    applied = api.post("/v1/expert-applications", json=application, headers=bearer(applicant))
    assert applied.status_code == 201, applied.text
    application_id = applied.json()["application_id"]

    pending = api.get("/v1/expert-applications", headers=bearer(trustees[0]))
    assert application_id in [a["application_id"] for a in pending.json()["applications"]]
    for trustee in trustees:
        reviewed = api.post(
            f"/v1/expert-applications/{application_id}/reviews",
            json={"approve": True, "comment": "Strong answers."},
            headers=bearer(trustee),
        )
        assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "accepted"

    welcome = platform.wait_for_mail(email, "accepted")
    signed = api.post(
        "/v1/expert-signup",
        json={
            "signup_token": link_token(welcome, "/expert-signup"),
            "password": APPLICANT_PASSWORD,
        },
    )
    assert signed.status_code == 201, signed.text
    tokens: dict = signed.json()
    assert "expert" in tokens["account"]["roles"]
    # The gateway keeps what it last heard of the account (the applicant, a client) a moment.
    wait_until(
        lambda: api.get("/v1/experts/me/profile", headers=bearer(tokens)).status_code == 200,
        timeout=10,
        what="the expert role to count at the gateway",
    )
    return tokens


def test_applicant_becomes_an_expert_goes_online_and_is_found(platform):
    api = platform.api
    expert = accepted_expert(platform)

    offline = api.put("/v1/experts/me/availability", json={"online": True}, headers=bearer(expert))
    assert offline.status_code == 409
    assert offline.json()["code"] == "profile_incomplete"

    completed = api.patch("/v1/experts/me/profile", json=PROFILE, headers=bearer(expert))
    assert completed.status_code == 200, completed.text
    assert completed.json()["rate_per_minute"] == {
        "currency": "USD",
        "amount": "3.00",
        "minor": 300,
    }
    online = api.put("/v1/experts/me/availability", json={"online": True}, headers=bearer(expert))
    assert online.status_code == 200, online.text

    found = api.get(
        "/v1/experts",
        params={
            "q": "tax planning",
            "category": "finance",
            "language": "de",
            "currency": "USD",
            "min_rate": "2.00",
            "max_rate": "5.00",
            "availability": "online",
        },
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["total"] == 1
    assert body["experts"][0]["name"] == "Ada Lovelace"
    assert body["experts"][0]["availability"] == "online"
    assert body["experts"][0]["expert_id"] == expert["account"]["account_id"]
    public = api.get(f"/v1/experts/{expert['account']['account_id']}")
    assert public.status_code == 200, public.text
    assert public.json()["offering"] == PROFILE["offering"]

    too_dear = api.get("/v1/experts", params={"q": "tax", "max_rate": "2.00"})
    assert too_dear.json()["total"] == 0


def test_signup_link_works_once(platform):
    api = platform.api
    accepted_expert(platform, "once@example.com")
    welcome = platform.wait_for_mail("once@example.com", "accepted")
    again = api.post(
        "/v1/expert-signup",
        json={
            "signup_token": link_token(welcome, "/expert-signup"),
            "password": "another password",
        },
    )
    assert again.status_code == 409
    assert again.json()["code"] == "signup_link_used"


def test_contact_details_are_refused_and_change_nothing(platform):
    api = platform.api
    expert = accepted_expert(platform, "grace@example.com")
    assert (
        api.patch("/v1/experts/me/profile", json=PROFILE, headers=bearer(expert)).status_code == 200
    )

    for field, text, found in (
        ("offering", "Write to me at grace@example.com for a discount.", "grace@example.com"),
        ("description", "Call +1 (555) 123-4567 any time.", "555"),
        ("offering", "See www.grace-tax.io for prices.", "grace-tax.io"),
    ):
        refused = api.patch("/v1/experts/me/profile", json={field: text}, headers=bearer(expert))
        assert refused.status_code == 422, refused.text
        error = refused.json()
        assert (error["code"], error["field"]) == ("contact_details_not_allowed", field)
        assert found in error["message"]

    profile = api.get("/v1/experts/me/profile", headers=bearer(expert)).json()
    assert profile["offering"] == PROFILE["offering"]
    assert profile["description"] == PROFILE["description"]


def test_a_trustee_cannot_review_their_own_application(platform):
    api = platform.api
    trustee = staff(platform, "tess@example.com", "trustee")
    unverified = api.post(
        "/v1/expert-applications",
        json={"name": "Tess", "answers": ANSWERS},
        headers=bearer(trustee),
    )
    assert unverified.status_code == 403
    assert unverified.json()["code"] == "email_not_verified"
    confirmation = platform.wait_for_mail("tess@example.com", "Confirm your e-mail")
    verified = api.post(
        "/v1/accounts/verify", json={"token": link_token(confirmation, "/verify-email")}
    )
    assert verified.status_code == 200, verified.text

    def apply():
        answer = api.post(
            "/v1/expert-applications",
            json={"name": "Tess", "answers": ANSWERS},
            headers=bearer(trustee),
        )
        # The gateway keeps what it last heard of the account (unverified) a moment.
        return None if answer.status_code == 403 else answer

    applied = wait_until(apply, timeout=10, what="the verified address to count")
    assert applied.status_code == 201, applied.text
    application_id = applied.json()["application_id"]
    own = api.post(
        f"/v1/expert-applications/{application_id}/reviews",
        json={"approve": True, "comment": "Excellent."},
        headers=bearer(trustee),
    )
    assert own.status_code == 403
    assert own.json()["code"] == "own_application"
    listed = api.get("/v1/expert-applications", headers=bearer(trustee)).json()
    tess = next(a for a in listed["applications"] if a["application_id"] == application_id)
    assert tess["reviews"] == []


def test_staff_only_routes_refuse_others(platform):
    api = platform.api
    client = staff(platform, "client@example.com", "client")
    listed = api.get("/v1/expert-applications", headers=bearer(client))
    assert listed.status_code == 403
    assert listed.json()["code"] == "forbidden"
    assert api.get("/v1/expert-applications").status_code == 401


def test_rejected_profile_and_review_inputs_change_nothing(platform):
    api = platform.api
    expert = accepted_expert(platform, "hal@example.com")
    assert (
        api.patch("/v1/experts/me/profile", json=PROFILE, headers=bearer(expert)).status_code == 200
    )
    before = api.get("/v1/experts/me/profile", headers=bearer(expert)).json()

    for body, code in (
        ({"rate_per_minute": "16.00"}, "rate_out_of_bounds"),
        ({"rate_per_minute": "0.50"}, "rate_out_of_bounds"),
        ({"rate_per_minute": "3.005"}, "invalid_amount"),
        ({"currency": "JPY"}, "unsupported_currency"),
        ({"categories": ["astrology"]}, "unknown_category"),
        ({"languages": ["xx"]}, "unknown_language"),
        ({"offering": "x" * 501}, "offering_too_long"),
        ({"free_minutes": 31}, "free_minutes_out_of_bounds"),
    ):
        refused = api.patch("/v1/experts/me/profile", json=body, headers=bearer(expert))
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["code"] == code, refused.json()
    assert api.get("/v1/experts/me/profile", headers=bearer(expert)).json() == before

    trustee = staff(platform, "t3-hal@example.com", "trustee")
    ivy = bearer(verified_applicant(platform, "ivy@example.com", "Ivy"))
    applied = api.post(
        "/v1/expert-applications", json={"name": "Ivy", "answers": ANSWERS[:2]}, headers=ivy
    )
    assert applied.status_code == 422
    assert applied.json()["code"] == "answer_required"
    applied = api.post(
        "/v1/expert-applications", json={"name": "Ivy", "answers": ANSWERS}, headers=ivy
    )
    application_id = applied.json()["application_id"]
    no_comment = api.post(
        f"/v1/expert-applications/{application_id}/reviews",
        json={"approve": False, "comment": ""},
        headers=bearer(trustee),
    )
    assert no_comment.status_code == 422
    assert no_comment.json()["code"] == "comment_required"
    listed = api.get("/v1/expert-applications", headers=bearer(trustee)).json()
    ivy = next(a for a in listed["applications"] if a["application_id"] == application_id)
    assert (ivy["status"], ivy["reviews"]) == ("under_review", [])
