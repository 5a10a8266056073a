"""Becoming an expert: the assessment, applications, trustee reviews, the signup link."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, status

from contracts.profiles.v1 import profiles_pb2 as pb
from services.gateway.auth import Caller, require_roles, verified_caller
from services.gateway.schemas import (
    Application,
    ApplicationCreated,
    Applications,
    ApplyAsExpert,
    Assessment,
    CompleteExpertSignup,
    ReviewApplication,
    Tokens,
    error_responses,
)
from services.gateway.upstream import ProfilesClient, profiles

router = APIRouter(tags=["becoming an expert"], responses=error_responses(422, 503))

Profiles = Annotated[ProfilesClient, Depends(profiles)]
Trustee = Annotated[Caller, Depends(require_roles("trustee"))]
Verified = Annotated[Caller, Depends(verified_caller)]


@router.get(
    "/v1/expert-assessment",
    response_model=Assessment,
    summary="The questions an applicant answers",
)
async def assessment(service: Profiles) -> Assessment:
    return Assessment.from_proto(await service.GetAssessment(pb.GetAssessmentRequest()))


@router.post(
    "/v1/expert-applications",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationCreated,
    responses=error_responses(409),
    summary="Apply as an expert, signed in with a verified e-mail address (the application's "
    "address); trustees review the answers",
)
async def apply(body: ApplyAsExpert, caller: Verified, service: Profiles) -> ApplicationCreated:
    answer = await service.ApplyAsExpert(body.to_proto(caller.account_id))
    return ApplicationCreated(application_id=answer.application_id)


@router.get(
    "/v1/expert-applications",
    response_model=Applications,
    responses=error_responses(401, 403),
    summary="Applications for trustees to review",
)
async def list_applications(
    caller: Trustee,
    service: Profiles,
    status: Literal["pending", "accepted", "rejected", "all"] = Query(default="pending"),
) -> Applications:
    answer = await service.ListApplications(
        pb.ListApplicationsRequest(trustee_id=caller.account_id, status=status),
    )
    return Applications(applications=[Application.from_proto(a) for a in answer.applications])


@router.post(
    "/v1/expert-applications/{application_id}/reviews",
    response_model=Application,
    responses=error_responses(401, 403, 404, 409),
    summary="Approve or reject an application, as a trustee (not one's own: 403 own_application)",
)
async def review_application(
    application_id: Annotated[UUID, Path(description="The application's id.")],
    body: ReviewApplication,
    caller: Trustee,
    service: Profiles,
) -> Application:
    answer = await service.ReviewApplication(
        pb.ReviewApplicationRequest(
            trustee_id=caller.account_id,
            application_id=str(application_id),
            approve=body.approve,
            comment=body.comment,
        ),
    )
    return Application.from_proto(answer)


@router.post(
    "/v1/expert-signup",
    status_code=status.HTTP_201_CREATED,
    response_model=Tokens,
    responses=error_responses(409),
    summary="Create the accepted expert's account with the token from the mailed signup link",
)
async def complete_expert_signup(body: CompleteExpertSignup, service: Profiles) -> Tokens:
    answer = await service.CompleteExpertSignup(
        pb.CompleteExpertSignupRequest(signup_token=body.signup_token, password=body.password),
    )
    return Tokens.from_proto(answer)
