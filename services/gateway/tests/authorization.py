"""Who may call what: the roles the authorization matrix and the API fuzz call as, and the one
request per route that they send."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.gateway.tests.conftest import access_token
from services.gateway.tests.fakes_calls_billing import CLIENT_ID, EXPERT_ID, SESSION_ID

OTHER_CLIENT_ID = "0c11e7a2-4b5d-4e6f-8a7b-9c0d1e2f3a4b"
OTHER_EXPERT_ID = "0e8e7a2b-5c6d-4f70-9182-a3b4c5d6e7f9"
TRUSTEE_ID = "7a0e5bc1-2d3e-4f5a-8b6c-7d8e9f0a1b2c"
ADMIN_ID = "ad01c2b3-a4d5-4e6f-9788-99aabbccddee"
AMBASSADOR_ID = "a3ba55ad-0123-4456-8789-abcdef012345"


@dataclass(frozen=True)
class Role:
    name: str
    account_id: str | None
    roles: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        if self.account_id is None:
            return {}
        return {"Authorization": f"Bearer {self.token()}"}

    def token(self) -> str:
        assert self.account_id is not None
        return access_token(self.roles, self.account_id)


ANONYMOUS = Role("anonymous", None)
CLIENT = Role("client", CLIENT_ID, ("client",))
OTHER_CLIENT = Role("another client", OTHER_CLIENT_ID, ("client",))
EXPERT = Role("expert", EXPERT_ID, ("expert",))
OTHER_EXPERT = Role("another expert", OTHER_EXPERT_ID, ("expert",))
TRUSTEE = Role("trustee", TRUSTEE_ID, ("client", "trustee"))
ADMIN = Role("admin", ADMIN_ID, ("client", "admin"))
AMBASSADOR = Role("ambassador", AMBASSADOR_ID, ("client", "ambassador"))
ROLES = (ANONYMOUS, CLIENT, OTHER_CLIENT, EXPERT, OTHER_EXPERT, TRUSTEE, ADMIN, AMBASSADOR)
"""The client and the expert are the two participants of SESSION_ID; the others are not."""

ACCEPTED = 101
"""A WebSocket accepted (the HTTP status of the upgrade); refusals are close codes."""


@dataclass(frozen=True)
class Call:
    """What to send to a route: concrete path parameters, a query, a JSON body, headers."""

    path_params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None


PATH_PARAMS = {
    "session_id": SESSION_ID,
    "expert_id": EXPERT_ID,
    "application_id": "0b9e6a3c-5f7d-4e21-8a4b-3c2d1e0f9a87",
    "account_id": OTHER_CLIENT_ID,
    "token": "tok-paid-1",
    "name": "app.js",
}


def concrete(path: str, params: dict[str, str] | None = None) -> str:
    values = {**PATH_PARAMS, **(params or {})}
    return path.format(**values)
