"""WebSocket /v1/sessions/{id}/live: the session as it happens, for its two participants."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from contracts.calls.v1 import calls_pb2
from headstore.context import correlation_id, new_correlation_id
from headstore.errors import DomainError
from services.gateway.auth import caller_of
from services.gateway.live import CLIENT, EXPERT
from services.gateway.upstream import ProfilesClient, upstreams

router = APIRouter(tags=["sessions"])

# WebSocket close codes in the application range: 4000 + the HTTP status they stand for.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
"""As for the HTTP routes of a session: to anyone but its participants it does not exist."""


async def participant_role(websocket: WebSocket, account_id: str, session_id: str) -> str | None:
    """ "client" or "expert" if the caller takes part in the session; None otherwise."""
    try:
        session = await upstreams(websocket).calls.GetSession(
            calls_pb2.GetSessionRequest(participant_id=account_id, session_id=session_id)
        )
    except DomainError:
        return None
    if session.client_id == account_id:
        return CLIENT
    if session.expert_id == account_id:
        return EXPERT
    return None


@router.websocket("/v1/sessions/{session_id}/live")
async def live_session(
    websocket: WebSocket,
    session_id: str,
    access_token: str = Query(
        description="The caller's access token (browsers cannot set headers on a WebSocket)."
    ),
) -> None:
    """Messages, as JSON: `started`, `minute` (the client sees `cost_so_far`, the expert
    `earnings_so_far`), `warning` (`minutes_left`), `payment_problem`, `mode`, `ended`
    (`reason`), `charged` (the client's `total`, the expert's `earnings`)."""
    # The calls made for this socket share one correlation id (no middleware gives a socket
    # one); the socket has a task of its own, so the id ends with it.
    correlation_id.set(new_correlation_id())
    profiles = upstreams(websocket).profiles
    try:
        caller = await caller_of(
            access_token, websocket.app.state.settings, websocket.app.state.access_states, profiles
        )
    except DomainError as error:
        await websocket.close(code=CLOSE_UNAUTHENTICATED, reason=error.message)
        return
    role = await participant_role(websocket, caller.account_id, session_id)
    if role is None:
        await websocket.close(code=CLOSE_NOT_FOUND, reason="No such session.")
        return
    hub = websocket.app.state.live
    queue = hub.watch(session_id, role)  # before accepting: nothing sent after is missed
    hung_up: asyncio.Task[None] | None = None
    revoked: asyncio.Task[str] | None = None
    try:
        await websocket.accept()
        hung_up = asyncio.create_task(_until_disconnected(websocket))
        revoked = asyncio.create_task(_until_revoked(websocket, access_token, profiles))
        while True:
            next_message = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait(
                {next_message, hung_up, revoked}, return_when=asyncio.FIRST_COMPLETED
            )
            if hung_up in done:
                next_message.cancel()
                return
            if revoked in done:
                next_message.cancel()
                await websocket.close(code=CLOSE_UNAUTHENTICATED, reason=revoked.result())
                return
            message: dict[str, Any] = next_message.result()
            await websocket.send_json(message)
            if message["type"] == "charged":  # the last thing a session has to say
                await websocket.close()
                return
    except WebSocketDisconnect:
        return
    finally:
        for task in (hung_up, revoked):
            if task is not None:
                task.cancel()
        hub.unwatch(session_id, queue)


async def _until_revoked(websocket: WebSocket, access_token: str, profiles: ProfilesClient) -> str:
    """Checks the token again every `live_recheck_seconds`, so a socket opened before a
    password change (or with a token that has since expired) does not stay open; returns why
    it no longer holds."""
    state = websocket.app.state
    while True:
        await asyncio.sleep(state.live_recheck_seconds)
        try:
            await caller_of(access_token, state.settings, state.access_states, profiles)
        except DomainError as error:
            return error.message


async def _until_disconnected(websocket: WebSocket) -> None:
    """Read (and ignore) what the participant sends, until they go."""
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        return
