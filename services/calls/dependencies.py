"""The calls service's own dependency: the gate Janus' event handler posts through."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from services.calls.rooms import JanusEventsGate, JanusSettings


class JanusEvents(DependencyProvider):
    """Gives workers one `JanusEventsGate` (the expected credentials and the presence cache),
    from the environment at start."""

    def setup(self) -> None:
        self.gate = JanusEventsGate(JanusSettings.from_env())

    def get_dependency(self, worker_ctx: Any) -> JanusEventsGate:
        return self.gate
