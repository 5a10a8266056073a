"""Signing in and out: access and refresh tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from contracts.profiles.v1 import profiles_pb2 as pb
from headstore.errors import Unauthenticated
from services.gateway.ratelimits import RateLimits, rate_limits, request_address
from services.gateway.schemas import LogIn, LogOut, RefreshTokens, Tokens, error_responses
from services.gateway.upstream import ProfilesClient, profiles

router = APIRouter(tags=["sign-in"], responses=error_responses(422, 503))

Profiles = Annotated[ProfilesClient, Depends(profiles)]
Limits = Annotated[RateLimits, Depends(rate_limits)]
Address = Annotated[str, Depends(request_address)]


@router.post(
    "/v1/auth/login",
    response_model=Tokens,
    responses=error_responses(401, 429),
    summary="Sign in with e-mail and password (failures are limited per client address)",
)
async def log_in(body: LogIn, service: Profiles, limits: Limits, address: Address) -> Tokens:
    await limits.before_log_in(address, body.email)
    try:
        answer = await service.LogIn(pb.LogInRequest(email=body.email, password=body.password))
    except Unauthenticated:
        await limits.log_in_failed(address, body.email)
        raise
    return Tokens.from_proto(answer)


@router.post(
    "/v1/auth/refresh",
    response_model=Tokens,
    responses=error_responses(401),
    summary="Trade a refresh token (single use) for a new pair of tokens",
)
async def refresh(body: RefreshTokens, service: Profiles) -> Tokens:
    answer = await service.RefreshTokens(pb.RefreshTokensRequest(refresh_token=body.refresh_token))
    return Tokens.from_proto(answer)


@router.post(
    "/v1/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Sign out: the refresh token stops working",
)
async def log_out(body: LogOut, service: Profiles) -> Response:
    await service.LogOut(pb.LogOutRequest(refresh_token=body.refresh_token))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
