"""Expert profiles, availability and the public directory."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from contracts.calls.v1 import calls_pb2
from contracts.profiles.v1 import profiles_pb2 as pb
from headstore.money import parse_amount
from services.gateway.auth import Caller, require_roles
from services.gateway.schemas import (
    Amount,
    CurrencyCode,
    ExpertProfile,
    ExpertRating,
    ExpertSearchResults,
    SetAvailability,
    UpdateExpertProfile,
    error_responses,
    text_field,
    whole_number,
)
from services.gateway.upstream import CallsClient, ProfilesClient, calls, profiles

router = APIRouter(tags=["experts"], responses=error_responses(422, 503))

Profiles = Annotated[ProfilesClient, Depends(profiles)]
Expert = Annotated[Caller, Depends(require_roles("expert"))]


MAX_PAGE_SIZE = 50
"""The directory's largest page (profiles refuses more)."""

RateFilter = Annotated[Amount | None, Query(examples=["1.50"])]
SearchWords = Annotated[str, *text_field(200), Query(description="Words to look for.")]
CategorySlug = Annotated[str, *text_field(40)]
TagFilter = Annotated[str, *text_field(30)]
LanguageFilter = Annotated[str, *text_field(2)]
Page = Annotated[int, *whole_number(1, 10_000, "The page, from 1")]
PageSize = Annotated[int, *whole_number(1, MAX_PAGE_SIZE, "Experts per page")]
ExpertId = Annotated[UUID, Path(description="The expert's account id.")]


def _amount(text: str | None, field: str) -> int | None:
    return None if text is None else parse_amount(text, field)


@router.get(
    "/v1/experts/me/profile",
    response_model=ExpertProfile,
    responses=error_responses(401, 403, 404),
    summary="The calling expert's own profile",
)
async def my_profile(caller: Expert, service: Profiles) -> ExpertProfile:
    answer = await service.GetExpertProfile(pb.GetExpertProfileRequest(expert_id=caller.account_id))
    return ExpertProfile.from_proto(answer)


@router.patch(
    "/v1/experts/me/profile",
    response_model=ExpertProfile,
    responses=error_responses(401, 403, 404),
    summary="Change the calling expert's profile; fields left out stay as they are",
)
async def update_profile(
    body: UpdateExpertProfile, caller: Expert, service: Profiles
) -> ExpertProfile:
    rate = _amount(body.rate_per_minute, "rate_per_minute")
    answer = await service.UpdateExpertProfile(body.to_proto(caller.account_id, rate))
    return ExpertProfile.from_proto(answer)


@router.put(
    "/v1/experts/me/availability",
    response_model=ExpertProfile,
    responses=error_responses(401, 403, 409),
    summary="Go online (take sessions) or offline",
)
async def set_availability(
    body: SetAvailability, caller: Expert, service: Profiles
) -> ExpertProfile:
    answer = await service.SetAvailability(
        pb.SetAvailabilityRequest(expert_id=caller.account_id, online=body.online),
    )
    return ExpertProfile.from_proto(answer)


@router.get(
    "/v1/experts/{expert_id}",
    response_model=ExpertProfile,
    responses=error_responses(404),
    summary="An expert's public profile",
)
async def get_expert(
    expert_id: ExpertId, service: Profiles, sessions: Annotated[CallsClient, Depends(calls)]
) -> ExpertProfile:
    """With the expert's average rating from sessions; the profile shows even when the
    ratings cannot be had right now."""
    answer, rating = await asyncio.gather(
        service.GetExpertProfile(pb.GetExpertProfileRequest(expert_id=str(expert_id))),
        sessions.GetExpertRating(calls_pb2.GetExpertRatingRequest(expert_id=str(expert_id))),
        return_exceptions=True,
    )
    if isinstance(answer, BaseException):
        raise answer
    profile = ExpertProfile.from_proto(answer)
    if not isinstance(rating, BaseException):
        profile.rating = ExpertRating.from_proto(rating)
    return profile


@router.get(
    "/v1/experts",
    response_model=ExpertSearchResults,
    summary="Find experts by words, category, tag, language, currency, rate and availability",
)
async def search_experts(
    service: Profiles,
    q: SearchWords = "",
    category: Annotated[CategorySlug, Query(examples=["tax-law"])] = "",
    tag: Annotated[TagFilter, Query(examples=["vat"])] = "",
    language: Annotated[LanguageFilter, Query(examples=["en"])] = "",
    currency: Annotated[CurrencyCode | None, Query()] = None,
    min_rate: RateFilter = None,
    max_rate: RateFilter = None,
    availability: Literal["online", "offline", "busy"] | None = Query(default=None),
    sort: Literal["relevance", "rate_asc", "rate_desc", "name"] | None = Query(default=None),
    page: Page = 1,
    page_size: PageSize = 20,
) -> ExpertSearchResults:
    request = pb.SearchExpertsRequest(
        query=q,
        category=category,
        tag=tag,
        language=language,
        currency=currency or "",
        availability=availability or "",
        sort=sort or "",
        page=page,
        page_size=page_size,
    )
    min_minor = _amount(min_rate, "min_rate")
    max_minor = _amount(max_rate, "max_rate")
    if min_minor is not None and max_minor is not None and min_minor > max_minor:
        # Each bound is valid; together they leave no rate, so no expert matches. An empty
        # page, not an error: the document cannot say that one bound depends on the other.
        return ExpertSearchResults(experts=[], total=0, page=page, page_size=page_size)
    if min_minor is not None:
        request.min_rate = min_minor
    if max_minor is not None:
        request.max_rate = max_minor
    answer = await service.SearchExperts(request)
    return ExpertSearchResults.from_proto(answer)
