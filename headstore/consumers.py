"""`@consumes`: the one way a service applies another service's event.

The decorated method is the policy: it runs with the real Application (off the eventlet hub)
and collects the aggregates it changed on `processing`; the chassis commits them together with
the message's tracking record, so a redelivery changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from headstore import metrics
from headstore.consume import ordered_event_handler, upstream_name
from headstore.context import correlation_id
from headstore.envelope import Envelope


def consumes(producer: str, event_type: str, store: str = "store") -> Callable[..., Any]:
    def decorate(policy: Callable[..., None]) -> Callable[..., Any]:
        upstream = upstream_name(producer, event_type, policy.__name__)

        @wraps(policy)
        def handle(self: Any, body: Any) -> str:
            envelope = Envelope.from_json(body)
            service = type(self).name
            token = correlation_id.set(envelope.correlation_id)
            started = time.perf_counter()
            try:
                outcome: str = getattr(self, store).consume(
                    envelope,
                    upstream,
                    lambda app, processing: policy(self, app, envelope, processing),
                )
            except Exception:
                metrics.events_consumed(service, producer, event_type, "failed")
                raise
            finally:
                correlation_id.reset(token)
                metrics.handler_seconds(service).labels(policy.__name__).observe(
                    time.perf_counter() - started
                )
            metrics.events_consumed(service, producer, event_type, outcome)
            return outcome

        return ordered_event_handler(producer, event_type)(handle)

    return decorate
