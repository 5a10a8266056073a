"""The standard gRPC health service (grpc.health.v1), served by every nameko service so
Kubernetes' gRPC probes and the gateway's readiness check can ask it."""

from __future__ import annotations

from typing import Any

from grpc_health.v1 import health_pb2, health_pb2_grpc

from headstore.grpc import Grpc

health_grpc = Grpc.implementing(health_pb2_grpc.HealthStub)


class HealthCheck:
    """Mix into a nameko service class: answers SERVING while the container runs."""

    @health_grpc
    def Check(self, request: Any, context: Any) -> health_pb2.HealthCheckResponse:  # noqa: N802
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
