"""The standard gRPC health service (grpc.health.v1), served by every nameko service so
Kubernetes' gRPC probes and the gateway's readiness check can ask it; and
headstore.ops.v1.Components, where the parts that can fail on their own (projections, parked
events) say how they are, for the gateway's /readyz."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc

from contracts.ops.v1 import ops_pb2, ops_pb2_grpc
from headstore.grpc import Grpc, GrpcContext

health_grpc = Grpc.implementing(health_pb2_grpc.HealthStub)
components_grpc = Grpc.implementing(ops_pb2_grpc.ComponentsStub)

READY, DEGRADED, NOT_READY = "ready", "degraded", "not_ready"


class HealthCheck:
    """Mix into a nameko service class: answers SERVING while the container runs, and lists
    its components (override `components` to add a service's own, calling super)."""

    name: str

    @health_grpc
    def Check(  # noqa: N802
        self, request: health_pb2.HealthCheckRequest, context: GrpcContext
    ) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    @components_grpc
    def ListComponents(  # noqa: N802
        self, request: ops_pb2.ListComponentsRequest, context: GrpcContext
    ) -> ops_pb2.ListComponentsResponse:
        return ops_pb2.ListComponentsResponse(
            components=[
                ops_pb2.Component(name=name, state=state, detail=detail)
                for name, state, detail in self.components()
            ]
        )

    def components(self) -> list[tuple[str, str, str]]:
        """(name, state, detail) of each part: by default the consumers' parked events,
        which degrade the service (it serves, but those events have not been applied)."""
        store = getattr(self, "store", None)
        if store is None:
            return []
        counts: dict[str, int] = store.parked_counts()
        name = f"{self.name}.consumers"
        if not any(counts.values()):
            return [(name, READY, "")]
        handlers = ", ".join(f"{h} ({n})" for h, n in sorted(counts.items()) if n)
        detail = f"{sum(counts.values())} events parked: {handlers}"
        return [(name, DEGRADED, f"{detail} (headstore parked list {self.name})")]
