"""Who is calling: the access token (a JWT the profiles service signed with HS256) is checked
here, without a call, and routes ask for the roles they need.

Routes about "me" take the account id from the token, never from the request body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from headstore.errors import Forbidden, Unauthenticated

LEEWAY_SECONDS = 5
ROLES = ("client", "expert", "ambassador", "trustee", "admin")

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="The access_token from /v1/auth/login, /v1/auth/refresh or /v1/expert-signup.",
)


@dataclass(frozen=True)
class Caller:
    account_id: str
    roles: frozenset[str]
    email_verified: bool


def _unauthenticated(message: str) -> Unauthenticated:
    return Unauthenticated("unauthenticated", message)


def verify_access_token(token: str, secret: str) -> Caller:
    """The caller an access token names; Unauthenticated if it is not a valid, current one."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthenticated("Your sign-in has expired; refresh it or sign in again.") from None
    except jwt.InvalidTokenError:
        raise _unauthenticated("The access token is not valid; sign in again.") from None
    roles = claims.get("roles", [])
    if (
        claims.get("typ") != "access"
        or not isinstance(claims["sub"], str)
        or not claims["sub"]
        or not isinstance(roles, list)
        or not all(isinstance(role, str) for role in roles)
    ):
        raise _unauthenticated("The access token is not valid; sign in again.")
    return Caller(claims["sub"], frozenset(roles), bool(claims.get("email_verified", False)))


async def current_caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Caller:
    """FastAPI dependency: the signed-in caller; 401 `unauthenticated` without a valid token."""
    if credentials is None:
        raise _unauthenticated("Sign in to do this: send 'Authorization: Bearer <access token>'.")
    return verify_access_token(credentials.credentials, request.app.state.settings.jwt_secret)


def require_roles(*roles: str) -> Callable[..., Awaitable[Caller]]:
    """FastAPI dependency: the caller, if they hold at least one of `roles`; else 403."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"require_roles needs roles from {ROLES}, not {sorted(unknown)}")
    wanted = frozenset(roles)

    async def dependency(caller: Caller = Depends(current_caller)) -> Caller:
        if not caller.roles & wanted:
            needed = " or ".join(roles)
            raise Forbidden("forbidden", f"Only an account with the {needed} role can do this.")
        return caller

    return dependency
