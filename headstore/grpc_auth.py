"""The shared token between the gateway and the services' gRPC servers, free of nameko so the
gateway can use it: the caller sends `authorization: Bearer <GRPC_AUTH_TOKEN>`, a service whose
token is set refuses any call without it (headstore.grpc.AuthenticatedGrpcServer)."""

from __future__ import annotations

import hmac

AUTHORIZATION = "authorization"


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata a caller sends so a service configured with `token` accepts its calls."""
    return ((AUTHORIZATION, f"Bearer {token}"),) if token else ()


def token_accepted(expected: str, authorization: str | None) -> bool:
    """Whether the `authorization` metadata carries `Bearer <expected>`, compared in constant
    time so the answer's timing does not tell how much of a guess was right."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not expected:
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())
