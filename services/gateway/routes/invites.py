"""Invite links: the expert's permanent link for paid sessions, one-time links for a free
session, and what a link is (public, so the invited client can see whom it leads to)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from contracts.calls.v1 import calls_pb2
from headstore.errors import InvalidInput, NotFound
from services.gateway.auth import Caller, require_roles
from services.gateway.schemas import InviteLink, Token, error_responses
from services.gateway.upstream import CallsClient, calls

router = APIRouter(tags=["invite links"], responses=error_responses(422, 503))

Calls = Annotated[CallsClient, Depends(calls)]
Expert = Annotated[Caller, Depends(require_roles("expert"))]


def _link(request: Request, link: calls_pb2.InviteLink) -> InviteLink:
    return InviteLink.from_proto(link, request.app.state.settings.public_url)


@router.get(
    "/v1/experts/me/invite-links/paid",
    response_model=InviteLink,
    responses=error_responses(401, 403),
    summary="The calling expert's link for paid sessions: it never changes and never expires",
)
async def paid_link(request: Request, caller: Expert, service: Calls) -> InviteLink:
    answer = await service.GetPaidLink(calls_pb2.GetPaidLinkRequest(expert_id=caller.account_id))
    return _link(request, answer)


@router.post(
    "/v1/experts/me/invite-links/free",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteLink,
    responses=error_responses(401, 403),
    summary="A new one-time link for a whole free session with the calling expert",
)
async def create_free_link(request: Request, caller: Expert, service: Calls) -> InviteLink:
    answer = await service.CreateFreeLink(
        calls_pb2.CreateFreeLinkRequest(expert_id=caller.account_id)
    )
    return _link(request, answer)


@router.get(
    "/v1/invite-links/{token}",
    response_model=InviteLink,
    responses=error_responses(404, 409),
    summary="What an invite link is: whose it is, paid or free, and whether it was used "
    "(404 for a token that opens no link, 409 for an expired free link)",
)
async def get_invite_link(
    request: Request, token: Annotated[Token, Path()], service: Calls
) -> InviteLink:
    try:
        answer = await service.GetInviteLink(calls_pb2.GetInviteLinkRequest(token=token))
    except InvalidInput as error:
        # A token that is not one of ours names no link: the address does not exist.
        raise NotFound(error.code, error.message, "token") from error
    return _link(request, answer)
