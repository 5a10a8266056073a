"""Ambassadors: admins appoint them; an ambassador sees their referral code, the link to share,
their share of the platform's commission, and the experts they referred.

The referral link leads to the public apply page (`/apply?ref=<code>`) under the same public web
address as invite links (`Settings.public_url`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from contracts.profiles.v1 import profiles_pb2 as pb
from services.gateway.auth import Caller, require_roles
from services.gateway.schemas import Id, RequestBody, error_responses
from services.gateway.upstream import ProfilesClient, profiles

router = APIRouter(tags=["ambassadors"], responses=error_responses(422, 503))

Profiles = Annotated[ProfilesClient, Depends(profiles)]
Admin = Annotated[Caller, Depends(require_roles("admin"))]
AmbassadorCaller = Annotated[Caller, Depends(require_roles("ambassador"))]

BASIS_POINTS_PER_PERCENT = 100


PERCENT_PATTERN = (
    r"^(100(\.0{1,2})?|0?[1-9](\.[0-9]{1,2})?|[1-9][0-9](\.[0-9]{1,2})?"
    r"|0{0,2}\.(0[1-9]|[1-9][0-9]?))$"
)
"""0.01 to 100, at most two decimals, in digits 0-9."""


def _ascii_percent(value: object) -> object:
    """A percentage as a string is ASCII digits (Decimal would read '١٢' as 12, and '1e1')."""
    if isinstance(value, str) and not re.fullmatch(PERCENT_PATTERN, value):
        raise PydanticCustomError("invalid_number", "must be a percentage like 12.5, in digits 0-9")
    return value


Percent = Annotated[
    Decimal,
    Field(gt=0, le=100, decimal_places=2),
    BeforeValidator(_ascii_percent),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "multipleOf": 0.01},
                {"type": "string", "pattern": PERCENT_PATTERN},
            ]
        }
    ),
]


class AppointAmbassador(RequestBody):
    account_id: Id
    share_percent: Percent | None = Field(
        default=None,
        description=(
            "The ambassador's share of the platform's commission on the sessions of the experts "
            "they refer, in percent with at most two decimals (10 or 12.5; 0.01 to 100), as a "
            "JSON number or a string. Omitted: the platform's default (10%)."
        ),
        examples=[12.5],
    )

    def share_basis_points(self) -> int | None:
        if self.share_percent is None:
            return None
        return int(self.share_percent * BASIS_POINTS_PER_PERCENT)


class ReferredExpert(BaseModel):
    expert_id: str = Field(examples=["9a1c7e52-0d3b-4f6a-8e21-5b7c4d3a2f10"])
    name: str = Field(examples=["Grace Hopper"])
    referred_at: datetime | None = Field(description="When the expert signed up.")


class Ambassador(BaseModel):
    ambassador_id: str = Field(
        description="The ambassador's account id.",
        examples=["4f1c2b8e-3d7a-4c1e-9b0f-2a6d5e8c7b91"],
    )
    referral_code: str = Field(
        description="Applicants give it when they apply (in any case).", examples=["HS-K3JX7QPA"]
    )
    referral_link: str = Field(
        description="The public apply page with the code filled in.",
        examples=["https://headstore.example/apply?ref=HS-K3JX7QPA"],
    )
    share_percent: str = Field(
        description="Share of the platform's commission on referred experts' sessions.",
        examples=["12.50"],
    )
    share_basis_points: int = Field(description="The same share; 1250 is 12.5%.", examples=[1250])
    appointed_at: datetime | None
    referred_experts: list[ReferredExpert] = Field(description="Oldest first.")

    @classmethod
    def from_proto(cls, ambassador: pb.Ambassador, public_url: str) -> Ambassador:
        whole, hundredths = divmod(ambassador.share_basis_points, BASIS_POINTS_PER_PERCENT)
        return cls(
            ambassador_id=ambassador.ambassador_id,
            referral_code=ambassador.referral_code,
            referral_link=referral_link(public_url, ambassador.referral_code),
            share_percent=f"{whole}.{hundredths:02d}",
            share_basis_points=ambassador.share_basis_points,
            appointed_at=_time(ambassador, "appointed_at"),
            referred_experts=[
                ReferredExpert(
                    expert_id=expert.expert_id,
                    name=expert.name,
                    referred_at=_time(expert, "referred_at"),
                )
                for expert in ambassador.referred_experts
            ],
        )


def referral_link(public_url: str, referral_code: str) -> str:
    return f"{public_url.rstrip('/')}/apply?ref={quote(referral_code, safe='')}"


def _time(message: pb.Ambassador | pb.ReferredExpert, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    moment: datetime = getattr(message, field).ToDatetime(tzinfo=UTC)
    return moment


def _ambassador(request: Request, answer: pb.Ambassador) -> Ambassador:
    return Ambassador.from_proto(answer, request.app.state.settings.public_url)


@router.post(
    "/v1/admin/ambassadors",
    status_code=status.HTTP_201_CREATED,
    response_model=Ambassador,
    tags=["admin"],
    responses=error_responses(401, 403, 404, 409),
    summary="Appoint an account an ambassador (admin): it gets a referral code of its own",
    description=(
        "Grants the account the ambassador role and a unique referral code. `share_percent` is "
        "the ambassador's share of the platform's commission on the sessions of the experts "
        "they refer, in percent (`10`, `12.5`; at most two decimals, 0.01 to 100); without it "
        "the platform's default applies (10%, `PROFILES_AMBASSADOR_SHARE_BASIS_POINTS`). The "
        "answer gives the share both as a decimal string and in basis points (1250 = 12.5%). "
        "Appointing an ambassador again is refused with 409 `already_ambassador`; an unknown "
        "account is 404 `account_not_found`."
    ),
)
async def appoint_ambassador(
    request: Request, body: AppointAmbassador, caller: Admin, service: Profiles
) -> Ambassador:
    appoint = pb.AppointAmbassadorRequest(
        admin_id=caller.account_id, account_id=str(body.account_id)
    )
    share = body.share_basis_points()
    if share is not None:
        appoint.share_basis_points = share
    return _ambassador(request, await service.AppointAmbassador(appoint))


@router.get(
    "/v1/ambassadors/me",
    response_model=Ambassador,
    responses=error_responses(401, 403, 404),
    summary="The calling ambassador's referral code and link, share, and referred experts",
    description=(
        "Share `referral_link` with experts you recommend: it opens the application form with "
        "your code filled in. An expert counts as referred once their application is accepted "
        "and they have signed up. An account that holds the ambassador role but was never "
        "appointed has no code yet: 404 `ambassador_not_found`."
    ),
)
async def my_ambassadorship(
    request: Request, caller: AmbassadorCaller, service: Profiles
) -> Ambassador:
    answer = await service.GetAmbassador(pb.GetAmbassadorRequest(ambassador_id=caller.account_id))
    return _ambassador(request, answer)
