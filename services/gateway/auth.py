"""Who is calling: the access token (a JWT the profiles service signed with HS256, for this
issuer and audience) is checked here, and then against the account as profiles knows it now
(`GetAccessState`, cached for a second or two): a token issued before the account's current
credentials version (a password change or reset since) is revoked, and the roles and e-mail
state that count are the current ones, so a role granted works without signing in again.

Routes about "me" take the account id from the token, never from the request body.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt
from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contracts.profiles.v1 import profiles_pb2 as pb
from headstore.errors import Forbidden, NotFound, Unauthenticated
from headstore.settings import Settings
from services.gateway.upstream import ProfilesClient, profiles

LEEWAY_SECONDS = 5
ROLES = ("client", "expert", "ambassador", "trustee", "admin")
DEFAULT_ACCESS_STATE_SECONDS = 1.0
"""How long the gateway trusts profiles' last answer about an account: the most a revoked token
or a role change can lag behind."""

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


@dataclass(frozen=True)
class AccessToken:
    """What a genuine access token says: whose it is and at which credentials version."""

    account_id: str
    credentials_version: int


def _unauthenticated(message: str) -> Unauthenticated:
    return Unauthenticated("unauthenticated", message)


def verify_access_token(token: str, settings: Settings) -> AccessToken:
    """The claims of a valid, unexpired access token; Unauthenticated otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "exp", "iat", "iss", "aud", "ver"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthenticated("Your sign-in has expired; refresh it or sign in again.") from None
    except jwt.InvalidTokenError:
        raise _unauthenticated("The access token is not valid; sign in again.") from None
    version = claims["ver"]
    if (
        claims.get("typ") != "access"
        or not isinstance(claims["sub"], str)
        or not claims["sub"]
        or isinstance(version, bool)
        or not isinstance(version, int)
    ):
        raise _unauthenticated("The access token is not valid; sign in again.")
    return AccessToken(claims["sub"], version)


class AccessStates:
    """Profiles' answers to GetAccessState, kept for `seconds` per account."""

    def __init__(
        self, seconds: float, timer: Callable[[], float] = time.monotonic, size: int = 100_000
    ) -> None:
        self.cache: TTLCache[str, pb.AccessState] = TTLCache(size, ttl=seconds, timer=timer)

    async def get(
        self, profiles: ProfilesClient, account_id: str, newer_than: int = 0
    ) -> pb.AccessState:
        """The account's state, asked again if the cached one is from before credentials
        version `newer_than` (a token issued since says the cached answer is out of date)."""
        state = self.cache.get(account_id)
        if state is None or state.credentials_version < newer_than:
            try:
                state = await profiles.GetAccessState(
                    pb.GetAccessStateRequest(account_id=account_id)
                )
            except NotFound:
                raise _unauthenticated("This account no longer exists.") from None
            self.cache[account_id] = state
        return state


async def caller_of(
    token: str, settings: Settings, states: AccessStates, service: ProfilesClient
) -> Caller:
    """The caller an access token stands for, with their current roles; Unauthenticated
    (`token_revoked`) for a token from before a password change or reset."""
    claims = verify_access_token(token, settings)
    state = await states.get(service, claims.account_id, newer_than=claims.credentials_version)
    if state.credentials_version != claims.credentials_version:
        raise Unauthenticated(
            "token_revoked",
            "Your password was changed or reset since you signed in: sign in again.",
        )
    return Caller(claims.account_id, frozenset(state.roles), state.email_verified)


async def current_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    service: ProfilesClient = Depends(profiles),
) -> Caller:
    """FastAPI dependency: the signed-in caller; 401 `unauthenticated` without a valid token,
    401 `token_revoked` for one issued before the account's password changed."""
    if credentials is None:
        raise _unauthenticated("Sign in to do this: send 'Authorization: Bearer <access token>'.")
    return await caller_of(
        credentials.credentials,
        request.app.state.settings,
        request.app.state.access_states,
        service,
    )


EMAIL_NOT_VERIFIED = (
    "Verify your e-mail address first: follow the link we e-mailed you, or ask for a new one "
    "(POST /v1/accounts/me/verification)."
)


async def verified_caller(caller: Caller = Depends(current_caller)) -> Caller:
    """FastAPI dependency: the signed-in caller, if their e-mail address is verified (as
    profiles knows it now); else 403 `email_not_verified`. Saving a card, requesting and rating
    a session and applying as an expert need it."""
    if not caller.email_verified:
        raise Forbidden("email_not_verified", EMAIL_NOT_VERIFIED)
    return caller


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
