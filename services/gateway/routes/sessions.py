"""Paid (and free) voice and video sessions: request, answer, join, switch mode, hang up, rate,
and what the session costs so far. The caller is always the participant the token names."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, status

from contracts.billing.v1 import billing_pb2
from contracts.calls.v1 import calls_pb2
from services.gateway.auth import Caller, current_caller, require_roles, verified_caller
from services.gateway.ratelimits import RateLimits, rate_limits, request_address
from services.gateway.schemas import (
    SESSION_MODES,
    AnswerSession,
    ExpertRating,
    RateSession,
    Rating,
    Refund,
    RefundReason,
    RequestSession,
    Session,
    SessionBill,
    SwitchMode,
    error_responses,
)
from services.gateway.upstream import BillingClient, CallsClient, billing, calls

# One router, tagged per route: an expert's rating is listed with the experts.
router = APIRouter(responses=error_responses(422, 503))

Calls = Annotated[CallsClient, Depends(calls)]
Billing = Annotated[BillingClient, Depends(billing)]
SignedIn = Annotated[Caller, Depends(current_caller)]
Verified = Annotated[Caller, Depends(verified_caller)]
Expert = Annotated[Caller, Depends(require_roles("expert"))]
Admin = Annotated[Caller, Depends(require_roles("admin"))]
Limits = Annotated[RateLimits, Depends(rate_limits)]
Address = Annotated[str, Depends(request_address)]
SessionId = Annotated[UUID, Path(description="The session's id.")]

# Session routes answer with `response_model_exclude_unset=True`: `join` is left out unless the
# service gave this participant join details (every other field is always set).


@router.post(
    "/v1/sessions",
    tags=["sessions"],
    status_code=status.HTTP_201_CREATED,
    response_model=Session,
    response_model_exclude_unset=True,
    responses=error_responses(401, 404, 409, 429),
    summary="Ask an online expert for a voice or video session (the caller is the client, with a "
    "verified e-mail and, unless the session is wholly free, a card on file)",
)
async def request_session(
    body: RequestSession, caller: Verified, service: Calls, limits: Limits, address: Address
) -> Session:
    await limits.per_address_and("session_request", address, "account", caller.account_id)
    answer = await service.RequestSession(body.to_proto(caller.account_id))
    return Session.from_proto(answer)


@router.post(
    "/v1/sessions/{session_id}/answer",
    tags=["sessions"],
    response_model=Session,
    response_model_exclude_unset=True,
    responses=error_responses(401, 403, 404, 409),
    summary="The expert accepts or declines a requested session",
)
async def answer_session(
    session_id: SessionId, body: AnswerSession, caller: Expert, service: Calls
) -> Session:
    answer = await service.AnswerSession(
        calls_pb2.AnswerSessionRequest(
            expert_id=caller.account_id, session_id=str(session_id), accept=body.accept
        ),
    )
    return Session.from_proto(answer)


@router.get(
    "/v1/sessions/{session_id}",
    tags=["sessions"],
    response_model=Session,
    response_model_exclude_unset=True,
    responses=error_responses(401, 404),
    summary="A session the caller takes part in, with their join details once the room is open",
)
async def get_session(session_id: SessionId, caller: SignedIn, service: Calls) -> Session:
    answer = await service.GetSession(
        calls_pb2.GetSessionRequest(participant_id=caller.account_id, session_id=str(session_id)),
    )
    return Session.from_proto(answer)


@router.post(
    "/v1/sessions/{session_id}/hangup",
    tags=["sessions"],
    response_model=Session,
    response_model_exclude_unset=True,
    responses=error_responses(401, 404, 409),
    summary="End the session (either participant); the started minutes are billed",
)
async def hang_up(session_id: SessionId, caller: SignedIn, service: Calls) -> Session:
    answer = await service.HangUp(
        calls_pb2.HangUpRequest(participant_id=caller.account_id, session_id=str(session_id)),
    )
    return Session.from_proto(answer)


@router.put(
    "/v1/sessions/{session_id}/mode",
    tags=["sessions"],
    response_model=Session,
    response_model_exclude_unset=True,
    responses=error_responses(401, 404, 409),
    summary="Switch between voice and video during the session",
)
async def switch_mode(
    session_id: SessionId, body: SwitchMode, caller: SignedIn, service: Calls
) -> Session:
    answer = await service.SwitchMode(
        calls_pb2.SwitchModeRequest(
            participant_id=caller.account_id,
            session_id=str(session_id),
            mode=SESSION_MODES[body.mode],
        ),
    )
    return Session.from_proto(answer)


@router.post(
    "/v1/sessions/{session_id}/rating",
    tags=["sessions"],
    status_code=status.HTTP_201_CREATED,
    response_model=Rating,
    responses=error_responses(401, 404, 409),
    summary="The client rates the session (1 to 5 stars) and may leave a review",
)
async def rate_session(
    session_id: SessionId, body: RateSession, caller: Verified, service: Calls
) -> Rating:
    answer = await service.RateSession(
        calls_pb2.RateSessionRequest(
            client_id=caller.account_id,
            session_id=str(session_id),
            stars=body.stars,
            review=body.review or "",
        ),
    )
    return Rating.from_proto(answer)


@router.get(
    "/v1/sessions/{session_id}/bill",
    tags=["sessions"],
    response_model=SessionBill,
    responses=error_responses(401, 404),
    summary="What the session costs so far (client) and earns so far (expert)",
)
async def session_bill(session_id: SessionId, caller: SignedIn, service: Billing) -> SessionBill:
    answer = await service.GetSessionBill(
        billing_pb2.GetSessionBillRequest(
            participant_id=caller.account_id, session_id=str(session_id)
        ),
    )
    return SessionBill.from_proto(answer)


@router.post(
    "/v1/sessions/{session_id}/refund",
    tags=["refunds"],
    status_code=status.HTTP_201_CREATED,
    response_model=Refund,
    responses=error_responses(401, 404, 412),
    summary="The client asks for the session's charge back, with a reason, within the refund "
    "window after the session ended (72 hours unless the platform says otherwise); asking "
    "again answers the first request",
)
async def request_refund(
    session_id: SessionId, body: RefundReason, caller: SignedIn, service: Billing
) -> Refund:
    answer = await service.RequestRefund(
        billing_pb2.RequestRefundRequest(
            client_id=caller.account_id, session_id=str(session_id), reason=body.reason
        )
    )
    return Refund.from_proto(answer)


@router.get(
    "/v1/sessions/{session_id}/refund",
    tags=["refunds"],
    response_model=Refund,
    responses=error_responses(401, 404),
    summary="The refund asked for this session (its participants and admins)",
)
async def session_refund(session_id: SessionId, caller: SignedIn, service: Billing) -> Refund:
    answer = await service.GetRefund(
        billing_pb2.GetRefundRequest(
            reader_id=caller.account_id,
            session_id=str(session_id),
            as_admin="admin" in caller.roles,
        )
    )
    return Refund.from_proto(answer)


@router.post(
    "/v1/sessions/{session_id}/refund/grant",
    tags=["refunds"],
    response_model=Refund,
    responses=error_responses(401, 404, 409),
    summary="The session's expert, or an admin, grants the refund: the charge goes back to the "
    "client's card, and the expert's share and the commission are taken back in the next payout",
)
async def grant_refund(session_id: SessionId, caller: SignedIn, service: Billing) -> Refund:
    answer = await service.GrantRefund(
        billing_pb2.GrantRefundRequest(
            granted_by=caller.account_id,
            session_id=str(session_id),
            as_admin="admin" in caller.roles,
        )
    )
    return Refund.from_proto(answer)


@router.post(
    "/v1/sessions/{session_id}/refund/refuse",
    tags=["refunds"],
    response_model=Refund,
    responses=error_responses(401, 403, 404, 409),
    summary="An admin refuses the refund, saying why (the client is told by mail)",
)
async def refuse_refund(
    session_id: SessionId, body: RefundReason, caller: Admin, service: Billing
) -> Refund:
    answer = await service.RefuseRefund(
        billing_pb2.RefuseRefundRequest(
            admin_id=caller.account_id, session_id=str(session_id), reason=body.reason
        )
    )
    return Refund.from_proto(answer)


@router.get(
    "/v1/experts/{expert_id}/rating",
    tags=["experts"],
    response_model=ExpertRating,
    responses=error_responses(404),
    summary="An expert's rating: how many ratings, and the average stars to one decimal",
)
async def expert_rating(
    expert_id: Annotated[UUID, Path(description="The expert's account id.")], service: Calls
) -> ExpertRating:
    answer = await service.GetExpertRating(
        calls_pb2.GetExpertRatingRequest(expert_id=str(expert_id))
    )
    return ExpertRating.from_proto(answer)
