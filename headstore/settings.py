"""Configuration from the environment only, with defaults that run on one machine.

Every group of variables is one `EnvironmentSettings` class (pydantic-settings): each field
names its variable (`variable("POSTGRES_PORT", 5432)`), its type and its default, and
`from_env()` reads them. Constructed with values instead, as tests do, a settings object holds
those values and the defaults and reads nothing. An empty variable counts as unset, except for
text, where empty is a value (`STRIPE_API_BASE=` means Stripe itself). A value that does not
fit gives a `SettingsError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Self, get_args, get_origin

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

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


class SettingsError(ValueError):
    """A variable's value cannot be used; the message names the variable."""


def variable(name: str, default: Any = ..., **constraints: Any) -> Any:
    """A field read from the variable `name` (constraints as pydantic's Field takes them)."""
    return Field(default, validation_alias=name, **constraints)


@dataclass(frozen=True)
class OnePerKey:
    """Field metadata: a mapping filled from one variable per key, `{key: variable name}`
    (`<SERVICE>_GRPC_PORT` for each service); keys whose variable is unset keep the default."""

    variables: Mapping[str, str]


def per_service(suffix: str, services: Mapping[str, object]) -> OnePerKey:
    return OnePerKey({name: f"{name.upper()}_{suffix}" for name in services})


def _seconds(value: Any) -> Any:
    """A number of seconds, as variables give durations, for a timedelta field."""
    if isinstance(value, str):
        try:
            return timedelta(seconds=float(value))
        except ValueError:
            raise ValueError(f"must be a number of seconds, not {value!r}") from None
    return value


def _positive(duration: timedelta) -> timedelta:
    if duration <= timedelta(0):
        raise ValueError("must be a positive number of seconds")
    return duration


Seconds = Annotated[timedelta, BeforeValidator(_seconds)]
"""A duration given in seconds (`RESET_LINK_SECONDS=3600`)."""
PositiveSeconds = Annotated[Seconds, AfterValidator(_positive)]


class EnvironmentSettings(BaseSettings):
    """One group of variables: subclass it, give each field its variable, read with from_env()."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        # Variables are plain text, never JSON: each field's type or validator reads its text.
        enable_decoding=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Constructing with values reads nothing (tests); from_env() reads the environment.
        # No .env file and no secrets directory: deployments set variables (deploy/).
        return (init_settings,)

    @classmethod
    def from_env(cls) -> Self:
        return cls.read_env()

    @classmethod
    def read_env(cls, **known: Any) -> Self:
        """The environment's values over the defaults; `known` (values a subclass built from
        other settings) over both."""
        values = {**cls._environment(), **known}
        try:
            return cls(**values)
        except ValidationError as error:
            raise SettingsError(cls._describe(error)) from None

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Every variable this class reads, by name, with the field it fills."""
        found: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            family = _family(field)
            if family is not None:
                found.update({variable: name for variable in family.variables.values()})
            elif isinstance(field.validation_alias, str):
                found[field.validation_alias] = name
        return found

    @classmethod
    def _environment(cls) -> dict[str, Any]:
        read = EnvSettingsSource(cls, case_sensitive=True)()
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            family = _family(field)
            if family is not None:
                found = {
                    key: os.environ[variable]
                    for key, variable in family.variables.items()
                    if _given(field, os.environ.get(variable))
                }
                if found:
                    values[name] = {**field.get_default(call_default_factory=True), **found}
            elif isinstance(field.validation_alias, str):
                raw = read.get(field.validation_alias)
                if _given(field, raw):
                    values[field.validation_alias] = raw
        return values

    @classmethod
    def _describe(cls, error: ValidationError) -> str:
        lines = []
        for problem in error.errors(include_url=False):
            message = str(problem["msg"]).removeprefix("Value error, ")
            name = cls._variable_at(problem["loc"])
            if name is None:
                lines.append(message)
            else:
                lines.append(f"{name}={problem['input']!r}: {message}")
        return "; ".join(lines)

    @classmethod
    def _variable_at(cls, loc: tuple[int | str, ...]) -> str | None:
        if not loc:
            return None
        head = str(loc[0])
        field = cls.model_fields.get(head)
        if field is None:
            return head  # validation aliases are the variables' names
        family = _family(field)
        if family is not None and len(loc) > 1:
            return family.variables.get(str(loc[1]), head)
        return field.validation_alias if isinstance(field.validation_alias, str) else head


def _family(field: FieldInfo) -> OnePerKey | None:
    return next((item for item in field.metadata if isinstance(item, OnePerKey)), None)


def _given(field: FieldInfo, raw: Any) -> bool:
    if raw is None:
        return False
    return raw != "" or _text(field)


def _text(field: FieldInfo) -> bool:
    if _bare(field.annotation) is str:
        return True
    arguments = get_args(field.annotation)
    return bool(arguments) and _bare(arguments[-1]) is str  # dict[str, str]: texts


def _bare(annotation: Any) -> Any:
    """The type under Annotated[...]."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


class Settings(EnvironmentSettings):
    """What every process needs: the stores, AMQP, mail, tokens and ports."""

    postgres_host: str = variable("POSTGRES_HOST", "127.0.0.1")
    postgres_port: int = variable("POSTGRES_PORT", 5432)
    postgres_user: str = variable("POSTGRES_USER", "postgres")
    postgres_password: str = variable("POSTGRES_PASSWORD", "")
    database_prefix: str = variable("DATABASE_PREFIX", "headstore_")
    amqp_uri: str = variable("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    smtp_host: str = variable("SMTP_HOST", "127.0.0.1")
    smtp_port: int = variable("SMTP_PORT", 1025)
    mail_from: str = variable("MAIL_FROM", "Headstore <no-reply@headstore.local>")
    public_url: str = variable("PUBLIC_URL", "http://127.0.0.1:8000")
    # The development values are what unit tests get; a deployed process refuses them at start
    # (headstore.secrets, which lists every secret and which process needs it).
    jwt_secret: str = variable("JWT_SECRET", DEVELOPMENT_JWT_SECRET)
    jwt_issuer: str = variable("JWT_ISSUER", "headstore")
    jwt_audience: str = variable("JWT_AUDIENCE", "headstore-api")
    # Mailed-link tokens travel sealed with notifications' public key (headstore.links).
    link_public_key: str = variable("NOTIFICATIONS_LINK_PUBLIC_KEY", "")
    link_private_key: str = variable("NOTIFICATIONS_LINK_PRIVATE_KEY", "")
    persistence: str = variable("PERSISTENCE", "postgres")  # "postgres" or "memory" (unit tests)
    # The bearer token the gateway presents on every gRPC call and services require (health
    # checks excepted); empty: services ask for none (one machine, tests).
    grpc_auth_token: str = variable("GRPC_AUTH_TOKEN", "")
    # Where calls listens for the events Janus posts (its event handler's backend).
    janus_events_host: str = variable("CALLS_JANUS_EVENTS_HOST", "0.0.0.0")
    janus_events_port: int = variable("CALLS_JANUS_EVENTS_PORT", 8071)
    # Each process's connection pools open this many connections at once and grow by up to
    # `postgres_max_overflow` under load (eventsourcing's POSTGRES_POOL_SIZE and
    # POSTGRES_MAX_OVERFLOW): keep the idle footprint small, every process has pools.
    postgres_pool_size: int = variable("POSTGRES_POOL_SIZE", 1)
    postgres_max_overflow: int = variable("POSTGRES_MAX_OVERFLOW", 7)
    grpc_ports: Annotated[dict[str, int], per_service("GRPC_PORT", GRPC_PORTS)] = Field(
        default_factory=lambda: dict(GRPC_PORTS)
    )
    metrics_ports: Annotated[dict[str, int], per_service("METRICS_PORT", METRICS_PORTS)] = Field(
        default_factory=lambda: dict(METRICS_PORTS)
    )
    relay_metrics_ports: Annotated[
        dict[str, int], per_service("RELAY_METRICS_PORT", RELAY_METRICS_PORTS)
    ] = Field(default_factory=lambda: dict(RELAY_METRICS_PORTS))

    @field_validator("public_url")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def database(self, service: str) -> str:
        return f"{self.database_prefix}{service}"

    def grpc_address(self, service: str, configured: str = "") -> str:
        """Where the gateway finds a service: `configured` (its `<SERVICE>_GRPC`), else this
        machine at the service's port."""
        port = self.grpc_ports.get(service, GRPC_PORTS[service])
        return configured or f"127.0.0.1:{port}"


class StripeLimits(EnvironmentSettings):
    """How a process calls Stripe (`headstore.call_pool`, `headstore.stripe_api.stripe_pool`):
    at most `STRIPE_RATE_LIMIT` requests a second (Stripe allows 25 in test mode, the default,
    and 100 in live mode), on at most `STRIPE_WORKERS` threads at once (to reach the limit, at
    least the limit times a call's latency in seconds: 100/s at 0.3 s takes 30), a call refused
    as too many (429) or cut off made `STRIPE_RETRY_ATTEMPTS` times in all, waiting a random time
    up to `STRIPE_RETRY_SECONDS` doubled at each attempt, at most `STRIPE_RETRY_MAX_SECONDS`."""

    rate_limit: int = variable("STRIPE_RATE_LIMIT", 25, ge=1)
    workers: int = variable("STRIPE_WORKERS", 16, ge=1)
    attempts: int = variable("STRIPE_RETRY_ATTEMPTS", 6, ge=1)
    backoff_seconds: float = variable("STRIPE_RETRY_SECONDS", 0.5, gt=0)
    backoff_max_seconds: float = variable("STRIPE_RETRY_MAX_SECONDS", 30.0, gt=0)


class GatewayPort(EnvironmentSettings):
    metrics_port: int = variable("GATEWAY_METRICS_PORT", GATEWAY_METRICS_PORT)


def gateway_metrics_port() -> int:
    """Where `headstore gateway` serves /metrics (GATEWAY_METRICS_PORT; 0: nowhere)."""
    return GatewayPort.from_env().metrics_port
