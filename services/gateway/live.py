"""The live view of a session: what each participant must see while it runs (each billed
minute with the cost so far or the earnings so far, warnings, the end and its reason).

A consumer thread takes those events from RabbitMQ on a queue of this gateway process's own
(exclusive, deleted when the process goes: a live view needs no history) and hands them to the
asyncio loop, where each connected WebSocket gets the participant's view of them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import defaultdict
from typing import Any

from kombu import Connection, Queue, binding

from contracts.events.v1 import billing_pb2, calls_pb2
from headstore.envelope import Envelope, event_exchange
from headstore.money import format_amount

log = logging.getLogger(__name__)

CLIENT, EXPERT = "client", "expert"

LIVE_EVENTS: dict[tuple[str, str], Any] = {
    ("calls", "SessionStarted"): calls_pb2.SessionStarted,
    ("calls", "SessionModeChanged"): calls_pb2.SessionModeChanged,
    ("calls", "SessionTimeWarning"): calls_pb2.SessionTimeWarning,
    ("calls", "SessionEnded"): calls_pb2.SessionEnded,
    ("billing", "MinuteBilled"): billing_pb2.MinuteBilled,
    ("billing", "PaymentAuthorizationFailed"): billing_pb2.PaymentAuthorizationFailed,
    ("billing", "SessionCharged"): billing_pb2.SessionCharged,
}

MODES = {calls_pb2.SESSION_MODE_VOICE: "voice", calls_pb2.SESSION_MODE_VIDEO: "video"}


def money(amount: Any) -> dict[str, Any]:
    return {
        "currency": amount.currency,
        "amount": format_amount(amount.minor, amount.currency),
        "minor": amount.minor,
    }


def view(event: Any, role: str) -> dict[str, Any] | None:
    """What a participant in `role` sees of a live event (None: nothing for them)."""
    match event:
        case calls_pb2.SessionStarted():
            return {
                "type": "started",
                "started_at": event.started_at.ToJsonString(),
                "mode": MODES.get(event.mode, "voice"),
                "max_minutes": event.max_minutes,
            }
        case calls_pb2.SessionModeChanged():
            return {"type": "mode", "mode": MODES.get(event.mode, "voice")}
        case calls_pb2.SessionTimeWarning():
            return {"type": "warning", "minutes_left": event.minutes_left}
        case calls_pb2.SessionEnded():
            return {"type": "ended", "reason": event.reason}
        case billing_pb2.MinuteBilled():
            if role == CLIENT:
                return {
                    "type": "minute",
                    "minute": event.minute,
                    "cost_so_far": money(event.cost_so_far),
                }
            return {
                "type": "minute",
                "minute": event.minute,
                "earnings_so_far": money(event.earnings_so_far),
            }
        case billing_pb2.PaymentAuthorizationFailed():
            if role == CLIENT:
                return {
                    "type": "payment_problem",
                    "message": event.reason,
                    "ends_session": event.ends_session,
                }
            return {"type": "payment_problem", "ends_session": event.ends_session}
        case billing_pb2.SessionCharged():
            if role == CLIENT:
                return {"type": "charged", "total": money(event.total), "minutes": event.minutes}
            return {
                "type": "charged",
                "earnings": money(event.expert_share),
                "minutes": event.minutes,
            }
    return None


class LiveHub:
    """Who is watching which session, in this gateway process."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watchers: dict[str, set[tuple[str, asyncio.Queue[dict[str, Any]]]]] = defaultdict(set)

    def watch(self, session_id: str, role: str) -> asyncio.Queue[dict[str, Any]]:
        self.loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.watchers[session_id].add((role, queue))
        return queue

    def unwatch(self, session_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        watchers = self.watchers.get(session_id, set())
        for entry in [entry for entry in watchers if entry[1] is queue]:
            watchers.discard(entry)
        if not watchers:
            self.watchers.pop(session_id, None)

    def deliver(self, envelope: Envelope) -> None:
        """From the consumer thread: queue each watcher's view on the event loop."""
        message_class = LIVE_EVENTS.get((envelope.producer, envelope.type))
        if message_class is None or self.loop is None:
            return
        event = envelope.parse(message_class)
        self.loop.call_soon_threadsafe(self._fan_out, event.session_id, event)

    def _fan_out(self, session_id: str, event: Any) -> None:
        for role, queue in list(self.watchers.get(session_id, ())):
            shown = view(event, role)
            if shown is not None and not queue.full():
                queue.put_nowait(shown)


class LiveConsumer:
    """Feeds a LiveHub from RabbitMQ in a thread of its own, until stopped."""

    def __init__(self, amqp_uri: str, hub: LiveHub) -> None:
        self.amqp_uri = amqp_uri
        self.hub = hub
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="live-events", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def queue(self) -> Queue:
        return Queue(
            f"gateway-live-{uuid.uuid4().hex[:12]}",
            bindings=[
                binding(event_exchange(producer), routing_key=event_type)
                for producer, event_type in LIVE_EVENTS
            ],
            exclusive=True,
            auto_delete=True,
            durable=False,
        )

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._consume()
            except Exception:
                log.exception("live events consumer failed; reconnecting")
                self.stopping.wait(1.0)

    def _consume(self) -> None:
        with Connection(self.amqp_uri, heartbeat=30) as connection:
            queue = self.queue()
            for exchange in {b.exchange for b in queue.bindings}:
                exchange.bind(connection.default_channel).declare()
            with connection.Consumer(
                queue, callbacks=[self._on_message], no_ack=True, accept=["json"]
            ):
                self.ready.set()
                while not self.stopping.is_set():
                    try:
                        connection.drain_events(timeout=0.5)
                    except TimeoutError:
                        connection.heartbeat_check()

    def _on_message(self, body: Any, message: Any) -> None:
        try:
            self.hub.deliver(Envelope.from_json(body))
        except Exception:
            log.exception("a live event could not be shown")
