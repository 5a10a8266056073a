"""The calls nameko service: gRPC for participants, events from profiles and billing, the
clock-driven timer (answer timeouts, warnings, the 90-minute limit, lost participants), and the
HTTP endpoint where Janus posts what happens in the rooms."""

from __future__ import annotations

import json
import logging
from uuid import UUID

from nameko.timer import timer
from nameko.web.handlers import http
from prometheus_client import Gauge
from werkzeug.wrappers import Request

from contracts.calls.v1 import calls_pb2 as api
from contracts.calls.v1 import calls_pb2_grpc
from contracts.events.v1 import calls_pb2 as events
from contracts.events.v1 import money_pb2
from headstore import clock, metrics
from headstore.consumers import consumes
from headstore.dependencies import Leadership, MetricsServer, Store
from headstore.errors import InvalidInput, parse_id
from headstore.grpc import Grpc, GrpcContext, grpc_method
from headstore.health import HealthCheck
from headstore.settings import Settings
from services.calls import contract
from services.calls.adapters.janus import JanusEvent
from services.calls.application import (
    CallsApplication,
    CallsConfig,
    ClientCardSaved,
    ExpertAvailabilityChange,
    ExpertProfileUpdate,
    ExpertRateChange,
    InviteLinkView,
    PaymentAuthorized,
    PaymentFailed,
    Processing,
)
from services.calls.dependencies import JanusEvents
from services.calls.domain import (
    ACCEPTED,
    AUTHORIZED,
    DECLINED,
    ENDED,
    LIVE,
    REQUESTED,
    ROOM_OPEN,
    VIDEO,
    VOICE,
    Session,
)
from services.calls.rooms import JanusRooms, display_of

log = logging.getLogger(__name__)

grpc = Grpc.implementing(calls_pb2_grpc.CallsServiceStub)
handled = grpc_method("calls")
TICK_SECONDS = CallsConfig.from_env().tick_seconds

STATES = {
    REQUESTED: "requested",
    ACCEPTED: "accepted",
    AUTHORIZED: "accepted",
    ROOM_OPEN: "ready",
    LIVE: "live",
    DECLINED: "declined",
    ENDED: "ended",
}
MODES = {VOICE: events.SESSION_MODE_VOICE, VIDEO: events.SESSION_MODE_VIDEO}
MODE_NAMES: dict[int, str] = {value: key for key, value in MODES.items()}


def calls_application(settings: Settings) -> CallsApplication:
    return CallsApplication(settings, rooms=JanusRooms())


def mode_name(mode: int) -> str:
    if mode not in MODE_NAMES:
        raise InvalidInput("invalid_mode", "A session is voice or video.", "mode")
    return MODE_NAMES[mode]


def session_message(session: Session, participant_id: UUID | None = None) -> api.Session:
    message = api.Session(
        session_id=str(session.id),
        client_id=str(session.client_id),
        expert_id=str(session.expert_id),
        mode=MODES.get(session.mode, events.SESSION_MODE_VOICE),
        state=STATES.get(session.status, session.status),
        rate_per_minute=money_pb2.Money(currency=session.currency, minor=session.rate_minor),
        free_minutes=session.free_minutes,
        free_session=session.free_session,
        end_reason=session.end_reason or "",
        max_minutes=session.max_minutes,
    )
    if session.spending_cap_minor:
        message.spending_cap.CopyFrom(
            money_pb2.Money(currency=session.currency, minor=session.spending_cap_minor)
        )
    if session.started_at is not None:
        message.started_at.FromDatetime(session.started_at)
    if session.ended_at is not None:
        message.ended_at.FromDatetime(session.ended_at)
    role = session.role_of(participant_id) if participant_id is not None else None
    if (
        participant_id is not None
        and role is not None
        and session.room is not None
        and session.status in (ROOM_OPEN, LIVE)
    ):
        message.join.CopyFrom(
            api.JoinDetails(
                janus_url=session.room.get("server_url", ""),
                room_id=int(session.room["room_id"]),
                token=session.token_for(participant_id) or "",
                display=display_of(role, session.id),
            )
        )
    return message


def live_sessions() -> Gauge:
    return metrics.gauge("calls_live_sessions", "Sessions in progress")


def sessions_ended(reason: str) -> None:
    metrics.counter("calls_sessions_ended", "Sessions ended, by reason", ("reason",)).labels(
        reason
    ).inc()


def janus_events(kind: str) -> None:
    metrics.counter("calls_janus_events", "Events Janus posted, by type", ("type",)).labels(
        kind
    ).inc()


class CallsService(HealthCheck):
    name = "calls"
    store = Store(calls_application)
    timer_lease = Leadership("timer")
    metrics = MetricsServer(lambda settings: settings.metrics_ports["calls"])
    janus = JanusEvents()

    # -- sessions -----------------------------------------------------------------------------

    @grpc
    @handled
    def RequestSession(  # noqa: N802
        self, request: api.RequestSessionRequest, context: GrpcContext
    ) -> api.Session:
        session = self.store.request_session(
            parse_id(request.client_id, "client_id"),
            parse_id(request.expert_id, "expert_id"),
            mode_name(request.mode),
            request.invite_token or None,
            request.spending_cap_minor,
        )
        return session_message(session, session.client_id)

    @grpc
    @handled
    def AnswerSession(  # noqa: N802
        self, request: api.AnswerSessionRequest, context: GrpcContext
    ) -> api.Session:
        expert_id = parse_id(request.expert_id, "expert_id")
        session = self.store.answer_session(
            parse_id(request.session_id, "session_id"), expert_id, request.accept
        )
        return session_message(session, expert_id)

    @grpc
    @handled
    def GetSession(  # noqa: N802
        self, request: api.GetSessionRequest, context: GrpcContext
    ) -> api.Session:
        participant = parse_id(request.participant_id, "participant_id")
        session = self.store.session(parse_id(request.session_id, "session_id"), participant)
        return session_message(session, participant)

    @grpc
    @handled
    def HangUp(  # noqa: N802
        self, request: api.HangUpRequest, context: GrpcContext
    ) -> api.Session:
        participant = parse_id(request.participant_id, "participant_id")
        session = self.store.hang_up(parse_id(request.session_id, "session_id"), participant)
        return session_message(session, participant)

    @grpc
    @handled
    def SwitchMode(  # noqa: N802
        self, request: api.SwitchModeRequest, context: GrpcContext
    ) -> api.Session:
        participant = parse_id(request.participant_id, "participant_id")
        session = self.store.switch_mode(
            parse_id(request.session_id, "session_id"), participant, mode_name(request.mode)
        )
        return session_message(session, participant)

    @grpc
    @handled
    def RateSession(  # noqa: N802
        self, request: api.RateSessionRequest, context: GrpcContext
    ) -> api.Rating:
        self.store.rate_session(
            parse_id(request.session_id, "session_id"),
            parse_id(request.client_id, "client_id"),
            request.stars,
            request.review,
        )
        return api.Rating(session_id=request.session_id, stars=request.stars, review=request.review)

    # -- invite links and ratings -------------------------------------------------------------

    @grpc
    @handled
    def GetPaidLink(  # noqa: N802
        self, request: api.GetPaidLinkRequest, context: GrpcContext
    ) -> api.InviteLink:
        return self._link(self.store.paid_link(parse_id(request.expert_id, "expert_id")))

    @grpc
    @handled
    def CreateFreeLink(  # noqa: N802
        self, request: api.CreateFreeLinkRequest, context: GrpcContext
    ) -> api.InviteLink:
        return self._link(self.store.create_free_link(parse_id(request.expert_id, "expert_id")))

    @grpc
    @handled
    def GetInviteLink(  # noqa: N802
        self, request: api.GetInviteLinkRequest, context: GrpcContext
    ) -> api.InviteLink:
        return self._link(self.store.invite_link(request.token))

    @staticmethod
    def _link(view: InviteLinkView) -> api.InviteLink:
        kind = (
            events.INVITE_LINK_KIND_FREE if view.kind == "free" else (events.INVITE_LINK_KIND_PAID)
        )
        return api.InviteLink(
            link_id=str(view.link_id),
            expert_id=str(view.expert_id),
            kind=kind,
            token=view.token,
            redeemed=view.used,
        )

    @grpc
    @handled
    def GetExpertRating(  # noqa: N802
        self, request: api.GetExpertRatingRequest, context: GrpcContext
    ) -> api.ExpertRating:
        expert_id = parse_id(request.expert_id, "expert_id")
        summary = self.store.expert_rating(expert_id)
        return api.ExpertRating(
            expert_id=str(expert_id), count=summary.count, average_tenths=summary.average_tenths
        )

    # -- other services' events (contract.SUBSCRIPTIONS: their queues, streams, translations) --

    @consumes(contract.EXPERT_PROFILE_UPDATED)
    def on_expert_profile_updated(
        self, app: CallsApplication, update: ExpertProfileUpdate, processing: Processing
    ) -> None:
        app.update_expert_profile(processing, update)

    @consumes(contract.RATE_CHANGED)
    def on_rate_changed(
        self, app: CallsApplication, change: ExpertRateChange, processing: Processing
    ) -> None:
        app.change_expert_rate(processing, change)

    @consumes(contract.AVAILABILITY_CHANGED)
    def on_availability_changed(
        self, app: CallsApplication, change: ExpertAvailabilityChange, processing: Processing
    ) -> None:
        app.change_expert_availability(processing, change)

    @consumes(contract.CARD_SAVED)
    def on_card_saved(
        self, app: CallsApplication, saved: ClientCardSaved, processing: Processing
    ) -> None:
        app.save_client_card(processing, saved)

    @consumes(contract.PAYMENT_AUTHORIZED)
    def on_payment_authorized(
        self, app: CallsApplication, authorized: PaymentAuthorized, processing: Processing
    ) -> None:
        app.payment_authorized(processing, authorized)

    @consumes(contract.PAYMENT_AUTHORIZATION_FAILED)
    def on_payment_authorization_failed(
        self, app: CallsApplication, failed: PaymentFailed, processing: Processing
    ) -> None:
        app.payment_failed(processing, failed)

    # -- the clock ------------------------------------------------------------------------------

    @timer(interval=TICK_SECONDS)
    def tick(self) -> int:
        """Apply what is due (one replica at a time); returns how many actions it applied."""
        if not self.timer_lease.held():
            self.store.follow()
            return 0
        done = self.store.tick(clock.now())
        for _, action in done:
            if action.startswith("end"):
                sessions_ended(action)
        live_sessions().set(self.store.count_live())
        return len(done)

    # -- Janus ----------------------------------------------------------------------------------

    @http("POST", "/janus/events")
    def janus_events(self, request: Request) -> tuple[int, str] | tuple[int, dict[str, str], str]:
        """Janus' event handler posts here (HTTP basic auth): participants' media up or gone,
        as of when the events arrive."""
        if not self.janus.admits(request.authorization):
            janus_events("refused")
            return 401, {"WWW-Authenticate": 'Basic realm="janus-events"'}, "unauthorized"
        received_at = clock.now()
        try:
            received = JanusEvent.parse_body(request.get_data())
        except (ValueError, TypeError, json.JSONDecodeError):
            return 400, "not Janus events"
        for event in received:
            janus_events(event.name or str(event.type))
            change = self.janus.presence.observe(event, self.store, received_at)
            if change is None:
                continue
            try:
                if change.connected:
                    self.store.participant_connected(change.session_id, change.role, change.at)
                else:
                    self.store.participant_disconnected(change.session_id, change.role, change.at)
            except Exception:
                log.exception("presence of %s in %s not recorded", change.role, change.session_id)
        return 200, "ok"
