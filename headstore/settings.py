"""Configuration from the environment only, with defaults that run on one machine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from headstore.secrets import DEVELOPMENT_JWT_SECRET

# Default ports of each service on one machine; `<SERVICE>_GRPC_PORT` and so on override them.
GRPC_PORTS = {
    "profiles": 50051,
    "notifications": 50052,
    "calls": 50053,
    "billing": 50054,
    "payouts": 50055,
}
METRICS_PORTS = {
    "profiles": 9101,
    "notifications": 9102,
    "calls": 9103,
    "billing": 9104,
    "payouts": 9105,
}
RELAY_METRICS_PORTS = {
    "profiles": 9111,
    "notifications": 9112,
    "calls": 9113,
    "billing": 9114,
    "payouts": 9115,
}

GATEWAY_METRICS_PORT = 9100
"""The gateway's Prometheus port: never its public HTTP port, so the internet cannot read it."""


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, not {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = ""
    database_prefix: str = "headstore_"
    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    mail_from: str = "Headstore <no-reply@headstore.local>"
    public_url: str = "http://127.0.0.1:8000"
    # The development values are what unit tests get; a deployed process refuses them at start
    # (headstore.secrets, which lists every secret and which process needs it).
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_issuer: str = "headstore"
    jwt_audience: str = "headstore-api"
    # Mailed-link tokens travel sealed with notifications' public key (headstore.links).
    link_public_key: str = ""
    link_private_key: str = ""
    persistence: str = "postgres"  # "postgres" or "memory" (unit tests)
    # The bearer token the gateway presents on every gRPC call and services require (health
    # checks excepted); empty: services ask for none (one machine, tests).
    grpc_auth_token: str = ""
    # Where calls listens for the events Janus posts (its event handler's backend).
    janus_events_host: str = "0.0.0.0"
    janus_events_port: int = 8071
    grpc_ports: dict[str, int] = field(default_factory=lambda: dict(GRPC_PORTS))
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(METRICS_PORTS))
    relay_metrics_ports: dict[str, int] = field(default_factory=lambda: dict(RELAY_METRICS_PORTS))

    @classmethod
    def from_env(cls) -> Settings:
        def ports(kind: str, defaults: dict[str, int]) -> dict[str, int]:
            return {
                name: env_int(f"{name.upper()}_{kind}", port) for name, port in defaults.items()
            }

        return cls(
            postgres_host=env("POSTGRES_HOST", cls.postgres_host),
            postgres_port=env_int("POSTGRES_PORT", cls.postgres_port),
            postgres_user=env("POSTGRES_USER", cls.postgres_user),
            postgres_password=env("POSTGRES_PASSWORD", cls.postgres_password),
            database_prefix=env("DATABASE_PREFIX", cls.database_prefix),
            amqp_uri=env("AMQP_URI", cls.amqp_uri),
            smtp_host=env("SMTP_HOST", cls.smtp_host),
            smtp_port=env_int("SMTP_PORT", cls.smtp_port),
            mail_from=env("MAIL_FROM", cls.mail_from),
            public_url=env("PUBLIC_URL", cls.public_url).rstrip("/"),
            jwt_secret=env("JWT_SECRET", cls.jwt_secret),
            jwt_issuer=env("JWT_ISSUER", cls.jwt_issuer),
            jwt_audience=env("JWT_AUDIENCE", cls.jwt_audience),
            link_public_key=env("NOTIFICATIONS_LINK_PUBLIC_KEY", cls.link_public_key),
            link_private_key=env("NOTIFICATIONS_LINK_PRIVATE_KEY", cls.link_private_key),
            persistence=env("PERSISTENCE", cls.persistence),
            grpc_auth_token=env("GRPC_AUTH_TOKEN", cls.grpc_auth_token),
            janus_events_host=env("CALLS_JANUS_EVENTS_HOST", cls.janus_events_host),
            janus_events_port=env_int("CALLS_JANUS_EVENTS_PORT", cls.janus_events_port),
            grpc_ports=ports("GRPC_PORT", GRPC_PORTS),
            metrics_ports=ports("METRICS_PORT", METRICS_PORTS),
            relay_metrics_ports=ports("RELAY_METRICS_PORT", RELAY_METRICS_PORTS),
        )

    def database(self, service: str) -> str:
        return f"{self.database_prefix}{service}"

    def grpc_address(self, service: str) -> str:
        """Where the gateway finds a service: `<SERVICE>_GRPC`, else this machine."""
        port = self.grpc_ports.get(service, GRPC_PORTS[service])
        return env(f"{service.upper()}_GRPC", f"127.0.0.1:{port}")


def gateway_metrics_port() -> int:
    """Where `headstore gateway` serves /metrics (GATEWAY_METRICS_PORT; 0: nowhere)."""
    return env_int("GATEWAY_METRICS_PORT", GATEWAY_METRICS_PORT)
