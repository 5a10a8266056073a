"""Accounts: sign-up, e-mail verification, the caller's account, passwords."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from contracts.profiles.v1 import profiles_pb2 as pb
from services.gateway.auth import Caller, current_caller
from services.gateway.ratelimits import RateLimits, rate_limits, request_address
from services.gateway.schemas import (
    Accepted,
    Account,
    AccountCreated,
    ChangePassword,
    RequestPasswordReset,
    ResetPassword,
    SignUp,
    VerifyEmail,
    error_responses,
)
from services.gateway.upstream import ProfilesClient, profiles

router = APIRouter(tags=["accounts"], responses=error_responses(422, 503))

Profiles = Annotated[ProfilesClient, Depends(profiles)]
SignedIn = Annotated[Caller, Depends(current_caller)]
Limits = Annotated[RateLimits, Depends(rate_limits)]
Address = Annotated[str, Depends(request_address)]


@router.post(
    "/v1/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountCreated,
    responses=error_responses(429),
    summary="Sign up as a client; a verification link is mailed (for an address that has an "
    "account, its owner is mailed instead: the answer is the same)",
)
async def sign_up(
    body: SignUp, service: Profiles, limits: Limits, address: Address
) -> AccountCreated:
    await limits.per_address_and("sign_up", address, "email", body.email)
    answer = await service.SignUp(
        pb.SignUpRequest(email=body.email, password=body.password, name=body.name)
    )
    return AccountCreated(account_id=answer.account_id)


@router.post(
    "/v1/accounts/verify",
    response_model=AccountCreated,
    summary="Verify an e-mail address with the token from the mailed link",
)
async def verify_email(body: VerifyEmail, service: Profiles) -> AccountCreated:
    answer = await service.VerifyEmail(pb.VerifyEmailRequest(token=body.token))
    return AccountCreated(account_id=answer.account_id)


@router.post(
    "/v1/accounts/me/verification",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(401, 409, 429),
    summary="Mail the caller a new verification link",
)
async def resend_verification(
    caller: SignedIn, service: Profiles, limits: Limits, address: Address
) -> Accepted:
    await limits.per_address_and("verification_resend", address, "account", caller.account_id)
    await service.ResendVerification(pb.ResendVerificationRequest(account_id=caller.account_id))
    return Accepted(message="A new verification link is on its way.")


@router.get(
    "/v1/me",
    response_model=Account,
    responses=error_responses(401, 404),
    summary="The caller's account",
)
async def me(caller: SignedIn, service: Profiles) -> Account:
    answer = await service.GetAccount(pb.GetAccountRequest(account_id=caller.account_id))
    return Account.from_proto(answer)


@router.put(
    "/v1/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401),
    summary="Change the caller's password (needs the current one)",
)
async def change_password(body: ChangePassword, caller: SignedIn, service: Profiles) -> Response:
    await service.ChangePassword(
        pb.ChangePasswordRequest(
            account_id=caller.account_id,
            current_password=body.current_password,
            new_password=body.new_password,
        ),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/password-resets",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(429),
    summary="Mail a password reset link (the answer never says whether the address exists)",
)
async def request_password_reset(
    body: RequestPasswordReset, service: Profiles, limits: Limits, address: Address
) -> Accepted:
    await limits.per_address_and("password_reset", address, "email", body.email)
    await service.RequestPasswordReset(pb.RequestPasswordResetRequest(email=body.email))
    return Accepted(message="If the address has an account, a reset link is on its way.")


@router.post(
    "/v1/password-resets/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(429),
    summary="Set a new password with the token from the mailed link",
)
async def reset_password(
    body: ResetPassword, service: Profiles, limits: Limits, address: Address
) -> Response:
    # A link's token starts with its account's id: attempts are counted per account too.
    account = body.token.partition(".")[0][:32] or "none"
    await limits.per_address_and("password_reset_confirm", address, "account", account)
    await service.ResetPassword(
        pb.ResetPasswordRequest(token=body.token, new_password=body.new_password),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
