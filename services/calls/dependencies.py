"""The calls service's own dependency: the gate Janus' event handler posts through."""

from __future__ import annotations

from nameko.containers import WorkerContext

from headstore.dependencies import Provides
from services.calls.rooms import JanusEventsGate, JanusSettings


class JanusEvents(Provides[JanusEventsGate]):
    """Gives workers one `JanusEventsGate` (the expected credentials and the presence cache),
    from the environment at start."""

    def setup(self) -> None:
        self.gate = JanusEventsGate(JanusSettings.from_env())

    def get_dependency(self, worker_ctx: WorkerContext) -> JanusEventsGate:
        return self.gate
