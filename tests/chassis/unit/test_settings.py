"""Every variable a Headstore process reads, its default, and the error a bad value gives.

The table below names each variable once, as deployments and `make run` set it: a variable
dropped or renamed by a change of code fails here, and so does a new one nobody listed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from headstore import secrets
from headstore.consume import BatchLimits
from headstore.logs import LogSettings
from headstore.open_index import CheckpointPolicy
from headstore.parking import RetryPolicy as ConsumerRetryPolicy
from headstore.settings import (
    GRPC_PORTS,
    METRICS_PORTS,
    RELAY_METRICS_PORTS,
    EnvironmentSettings,
    GatewayPort,
    Settings,
    SettingsError,
    StripeLimits,
)
from headstore.stripe_api import StripeConnectSettings, StripeSettings
from services.billing.application import BillingConfig
from services.calls.application import CallsConfig, SessionRuleVariables
from services.calls.rooms import JanusSettings
from services.gateway.ratelimits import LIMITS, RateLimitSettings
from services.gateway.settings import GatewaySettings
from services.notifications.domain import RetryPolicy as MailRetryPolicy
from services.notifications.service import Sending
from services.payouts.application import PayoutsConfig
from services.profiles.application import DEFAULT_QUESTIONS, ProfilesConfig

EVERY_CLASS: tuple[type[EnvironmentSettings], ...] = (
    Settings,
    GatewayPort,
    LogSettings,
    ConsumerRetryPolicy,
    BatchLimits,
    CheckpointPolicy,
    StripeSettings,
    StripeConnectSettings,
    StripeLimits,
    GatewaySettings,
    RateLimitSettings,
    BillingConfig,
    CallsConfig,
    SessionRuleVariables,
    JanusSettings,
    MailRetryPolicy,
    Sending,
    PayoutsConfig,
    ProfilesConfig,
)


@dataclass(frozen=True)
class Variable:
    settings: type[EnvironmentSettings]
    name: str
    read: Callable[[Any], Any]
    default: Any
    text: str
    """A value to set, and what `read` then gives."""
    value: Any
    bad: str | None = "not-a-value"
    """A value refused by name (None: any text is taken)."""
    empty_is_unset: bool = True
    """False for text: an empty variable is a value (STRIPE_API_BASE= means Stripe itself)."""


def field(name: str) -> Callable[[Any], Any]:
    return lambda settings: getattr(settings, name)


def entry(name: str, key: str) -> Callable[[Any], Any]:
    return lambda settings: getattr(settings, name).get(key)


def session_rule(name: str) -> Callable[[Any], Any]:
    return lambda config: getattr(config.rules, name)


def text(settings: type[EnvironmentSettings], name: str, attribute: str, default: str) -> Variable:
    value = "set-" + name
    return Variable(settings, name, field(attribute), default, value, value, None, False)


def whole(
    settings: type[EnvironmentSettings], name: str, attribute: str, default: int, value: int = 7
) -> Variable:
    return Variable(settings, name, field(attribute), default, str(value), value)


def number(
    settings: type[EnvironmentSettings], name: str, attribute: str, default: float
) -> Variable:
    return Variable(settings, name, field(attribute), default, "2.5", 2.5)


def seconds(
    settings: type[EnvironmentSettings], name: str, attribute: str, default: timedelta
) -> Variable:
    return Variable(settings, name, field(attribute), default, "61", timedelta(seconds=61))


DEV_JWT = secrets.DEVELOPMENT_JWT_SECRET
SESSION_RULES = (
    ("ANSWER_TIMEOUT_SECONDS", "answer_timeout_seconds", 30),
    ("PARTICIPANT_GRACE_SECONDS", "participant_grace_seconds", 15),
    ("START_TIMEOUT_SECONDS", "start_timeout_seconds", 120),
    ("MAX_SESSION_MINUTES", "max_session_minutes", 90),
    ("MINUTE_SECONDS", "minute_seconds", 60),
)

VARIABLES: tuple[Variable, ...] = (
    text(Settings, "POSTGRES_HOST", "postgres_host", "127.0.0.1"),
    whole(Settings, "POSTGRES_PORT", "postgres_port", 5432),
    text(Settings, "POSTGRES_USER", "postgres_user", "postgres"),
    text(Settings, "POSTGRES_PASSWORD", "postgres_password", ""),
    text(Settings, "DATABASE_PREFIX", "database_prefix", "headstore_"),
    text(Settings, "AMQP_URI", "amqp_uri", "amqp://guest:guest@127.0.0.1:5672/"),
    text(Settings, "SMTP_HOST", "smtp_host", "127.0.0.1"),
    whole(Settings, "SMTP_PORT", "smtp_port", 1025),
    text(Settings, "MAIL_FROM", "mail_from", "Headstore <no-reply@headstore.local>"),
    Variable(
        Settings,
        "PUBLIC_URL",
        field("public_url"),
        "http://127.0.0.1:8000",
        "https://headstore.example/",
        "https://headstore.example",  # without the trailing slash
        None,
        False,
    ),
    text(Settings, "JWT_SECRET", "jwt_secret", DEV_JWT),
    text(Settings, "JWT_ISSUER", "jwt_issuer", "headstore"),
    text(Settings, "JWT_AUDIENCE", "jwt_audience", "headstore-api"),
    text(Settings, "NOTIFICATIONS_LINK_PUBLIC_KEY", "link_public_key", ""),
    text(Settings, "NOTIFICATIONS_LINK_PRIVATE_KEY", "link_private_key", ""),
    text(Settings, "PERSISTENCE", "persistence", "postgres"),
    text(Settings, "GRPC_AUTH_TOKEN", "grpc_auth_token", ""),
    text(Settings, "CALLS_JANUS_EVENTS_HOST", "janus_events_host", "0.0.0.0"),
    whole(Settings, "CALLS_JANUS_EVENTS_PORT", "janus_events_port", 8071),
    whole(Settings, "POSTGRES_POOL_SIZE", "postgres_pool_size", 1),
    whole(Settings, "POSTGRES_MAX_OVERFLOW", "postgres_max_overflow", 7),
    *(
        Variable(Settings, f"{service.upper()}_{suffix}", entry(attribute, service), port, "7", 7)
        for suffix, attribute, ports in (
            ("GRPC_PORT", "grpc_ports", GRPC_PORTS),
            ("METRICS_PORT", "metrics_ports", METRICS_PORTS),
            ("RELAY_METRICS_PORT", "relay_metrics_ports", RELAY_METRICS_PORTS),
        )
        for service, port in ports.items()
    ),
    whole(GatewayPort, "GATEWAY_METRICS_PORT", "metrics_port", 9100),
    Variable(LogSettings, "LOG_LEVEL", field("level"), "INFO", "DEBUG", "DEBUG", "LOUD", False),
    whole(ConsumerRetryPolicy, "CONSUMER_ATTEMPTS", "attempts", 10),
    number(ConsumerRetryPolicy, "CONSUMER_RETRY_SECONDS", "first_delay", 0.5),
    number(ConsumerRetryPolicy, "CONSUMER_RETRY_MAX_SECONDS", "max_delay", 30.0),
    whole(BatchLimits, "CONSUMER_BATCH_SIZE", "size", 500),
    number(BatchLimits, "CONSUMER_BATCH_LINGER_SECONDS", "linger_seconds", 0.01),
    whole(CheckpointPolicy, "OPEN_INDEX_CHECKPOINT_EVENTS", "events", 10_000),
    number(CheckpointPolicy, "OPEN_INDEX_CHECKPOINT_SECONDS", "seconds", 60.0),
    *(
        variable
        for stripe in (StripeSettings, StripeConnectSettings)
        for variable in (
            text(stripe, "STRIPE_API_KEY", "api_key", secrets.DEVELOPMENT_STRIPE_API_KEY),
            text(stripe, "STRIPE_API_BASE", "api_base", "http://127.0.0.1:12111"),
        )
    ),
    text(
        StripeSettings,
        "STRIPE_WEBHOOK_SECRET",
        "webhook_secret",
        secrets.DEVELOPMENT_STRIPE_WEBHOOK_SECRET,
    ),
    text(
        StripeConnectSettings,
        "STRIPE_CONNECT_WEBHOOK_SECRET",
        "webhook_secret",
        secrets.DEVELOPMENT_STRIPE_CONNECT_WEBHOOK_SECRET,
    ),
    whole(StripeLimits, "STRIPE_RATE_LIMIT", "rate_limit", 25),
    whole(StripeLimits, "STRIPE_WORKERS", "workers", 16),
    whole(StripeLimits, "STRIPE_RETRY_ATTEMPTS", "attempts", 6),
    number(StripeLimits, "STRIPE_RETRY_SECONDS", "backoff_seconds", 0.5),
    number(StripeLimits, "STRIPE_RETRY_MAX_SECONDS", "backoff_max_seconds", 30.0),
    number(GatewaySettings, "GATEWAY_DEADLINE_SECONDS", "deadline_seconds", 10.0),
    number(GatewaySettings, "GATEWAY_LIVE_RECHECK_SECONDS", "live_recheck_seconds", 30.0),
    number(GatewaySettings, "GATEWAY_ACCESS_STATE_SECONDS", "access_state_seconds", 1.0),
    Variable(GatewaySettings, "GATEWAY_DOCS", field("serves_docs"), False, "1", True, None, False),
    Variable(
        GatewaySettings,
        "HEADSTORE_WEB_DIR",
        field("web_dir"),
        None,
        "/srv/web",
        Path("/srv/web"),
        None,
    ),
    *(
        Variable(
            GatewaySettings,
            f"{service.upper()}_GRPC",
            entry("upstreams", service),
            None,
            f"{service}:5000",
            f"{service}:5000",
            None,
            False,
        )
        for service in GRPC_PORTS
    ),
    *(
        Variable(
            RateLimitSettings,
            limit.variable,
            entry("limits", limit.name),
            limit.default,
            "4/hour",
            "4/hour",
            "lots",
            False,
        )
        for limit in LIMITS
    ),
    text(RateLimitSettings, "RATE_LIMIT_STORAGE_URI", "storage_uri", "memory://"),
    Variable(
        RateLimitSettings,
        "RATE_LIMIT_STRATEGY",
        field("strategy"),
        "moving-window",
        "sliding-window",
        "sliding-window",
        "fixed-window-of-opportunity",
        False,
    ),
    Variable(
        RateLimitSettings,
        "GATEWAY_TRUSTED_PROXIES",
        field("trusted_proxies"),
        (),
        "10.0.0.0/8, 192.168.0.1",
        (ip_network("10.0.0.0/8"), ip_network("192.168.0.1/32")),
        "10.0.0.0/8, the-ingress",
    ),
    Variable(
        RateLimitSettings,
        "GATEWAY_CLIENT_ADDRESS_HEADER",
        field("client_address_header"),
        "x-forwarded-for",
        "X-Real-IP",
        "x-real-ip",
        None,
        False,
    ),
    whole(BillingConfig, "MINUTE_SECONDS", "minute_seconds", 60),
    whole(BillingConfig, "HOLD_BLOCK_MINUTES", "hold_block_minutes", 90),
    whole(BillingConfig, "HOLD_LEAD_MINUTES", "hold_lead_minutes", 2),
    whole(BillingConfig, "REFUND_WINDOW_HOURS", "refund_window_hours", 72),
    whole(BillingConfig, "MAX_SESSION_MINUTES", "max_session_minutes", 90),
    whole(BillingConfig, "COMMISSION_PERCENT", "commission_percent", 10),
    whole(BillingConfig, "BILLING_SAVE_BATCH", "save_batch", 500),
    number(BillingConfig, "BILLING_TICK_SECONDS", "tick_seconds", 0.25),
    *(
        Variable(CallsConfig, name, session_rule(attribute), default, "7", 7)
        for name, attribute, default in SESSION_RULES
    ),
    *(
        whole(SessionRuleVariables, name, attribute, default)
        for name, attribute, default in SESSION_RULES
    ),
    whole(CallsConfig, "CALLS_TICK_BATCH", "tick_batch", 50),
    seconds(CallsConfig, "FREE_INVITE_LINK_SECONDS", "free_link_lifetime", timedelta(days=30)),
    number(CallsConfig, "CALLS_TICK_SECONDS", "tick_seconds", 0.5),
    text(JanusSettings, "JANUS_URL", "api_url", "http://127.0.0.1:8088/janus"),
    text(JanusSettings, "JANUS_ADMIN_URL", "admin_url", "http://127.0.0.1:7088/admin"),
    text(JanusSettings, "JANUS_PUBLIC_URL", "public_url", "http://127.0.0.1:8088/janus"),
    text(
        JanusSettings, "JANUS_ADMIN_SECRET", "admin_secret", secrets.DEVELOPMENT_JANUS_ADMIN_SECRET
    ),
    text(JanusSettings, "JANUS_API_SECRET", "api_secret", secrets.DEVELOPMENT_JANUS_API_SECRET),
    text(
        JanusSettings,
        "JANUS_ROOM_ADMIN_KEY",
        "room_admin_key",
        secrets.DEVELOPMENT_JANUS_ROOM_ADMIN_KEY,
    ),
    text(
        JanusSettings,
        "CALLS_JANUS_EVENTS_PASSWORD",
        "events_password",
        secrets.DEVELOPMENT_CALLS_JANUS_EVENTS_PASSWORD,
    ),
    whole(MailRetryPolicy, "NOTIFICATIONS_MAX_ATTEMPTS", "max_attempts", 8),
    seconds(
        MailRetryPolicy,
        "NOTIFICATIONS_RETRY_FIRST_DELAY_SECONDS",
        "first_delay",
        timedelta(seconds=30),
    ),
    seconds(
        MailRetryPolicy, "NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS", "max_delay", timedelta(hours=1)
    ),
    number(Sending, "NOTIFICATIONS_SEND_INTERVAL_SECONDS", "interval_seconds", 1.0),
    whole(Sending, "NOTIFICATIONS_SEND_BATCH", "batch", 50),
    whole(PayoutsConfig, "PAYOUTS_WEEK_SECONDS", "week_seconds", 7 * 24 * 3600),
    Variable(
        PayoutsConfig,
        "PAYOUTS_WEEK_ANCHOR",
        field("week_anchor"),
        datetime(2024, 1, 1, tzinfo=UTC),
        "2026-01-05T00:00:00+00:00",
        datetime(2026, 1, 5, tzinfo=UTC),
        "2026-01-05T00:00:00",  # no time zone
    ),
    number(PayoutsConfig, "PAYOUTS_TICK_SECONDS", "tick_seconds", 1.0),
    Variable(
        PayoutsConfig,
        "PAYOUTS_PLATFORM_COUNTRY",
        field("platform_country"),
        "US",
        "de",
        "DE",
        "Germany",
        False,
    ),
    Variable(
        ProfilesConfig,
        "ASSESSMENT_QUESTIONS",
        field("questions"),
        DEFAULT_QUESTIONS,
        '[{"id": "why", "text": "Why?"}]',
        (("why", "Why?"),),
        '[{"id": "why"}]',
    ),
    whole(ProfilesConfig, "TRUSTEE_QUORUM", "quorum", 2),
    whole(ProfilesConfig, "RATE_MIN_MINOR", "min_rate_minor", 100),
    whole(ProfilesConfig, "RATE_MAX_MINOR", "max_rate_minor", 1500),
    whole(ProfilesConfig, "MAX_FREE_MINUTES", "max_free_minutes", 30),
    whole(ProfilesConfig, "ACCESS_TOKEN_SECONDS", "access_token_seconds", 900),
    seconds(
        ProfilesConfig, "VERIFICATION_LINK_SECONDS", "verification_lifetime", timedelta(hours=24)
    ),
    seconds(ProfilesConfig, "RESET_LINK_SECONDS", "reset_lifetime", timedelta(hours=1)),
    seconds(ProfilesConfig, "REFRESH_TOKEN_SECONDS", "refresh_lifetime", timedelta(days=30)),
    seconds(ProfilesConfig, "SIGNUP_LINK_SECONDS", "signup_lifetime", timedelta(days=14)),
    whole(
        ProfilesConfig,
        "PROFILES_AMBASSADOR_SHARE_BASIS_POINTS",
        "ambassador_share_basis_points",
        1000,
        1250,
    ),
    Variable(ProfilesConfig, "ARGON2_TIME_COST", entry("argon2", "time_cost"), 3, "1", 1),
    Variable(
        ProfilesConfig, "ARGON2_MEMORY_KIB", entry("argon2", "memory_cost"), 65536, "8192", 8192
    ),
)


def label(variable: Variable) -> str:
    return f"{variable.settings.__name__}.{variable.name}"


@pytest.fixture(autouse=True)
def unset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No variable any settings class reads is set, as on a fresh machine."""
    for settings in EVERY_CLASS:
        for name in settings.variables():
            monkeypatch.delenv(name, raising=False)
    yield


def test_the_table_names_every_variable_each_class_reads() -> None:
    listed = {(variable.settings, variable.name) for variable in VARIABLES}
    read = {(settings, name) for settings in EVERY_CLASS for name in settings.variables()}
    assert sorted((s.__name__, n) for s, n in read - listed) == []
    # CallsConfig reads the session rules through SessionRuleVariables: by name, then.
    assert {n for _, n in listed} - {n for _, n in read} == set()


@pytest.mark.parametrize("variable", VARIABLES, ids=label)
def test_an_unset_variable_gives_its_default(variable: Variable) -> None:
    assert variable.read(variable.settings.from_env()) == variable.default


@pytest.mark.parametrize("variable", VARIABLES, ids=label)
def test_each_variable_is_read_by_its_name(
    variable: Variable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable.name, variable.text)
    assert variable.read(variable.settings.from_env()) == variable.value


@pytest.mark.parametrize("variable", [v for v in VARIABLES if v.bad is not None], ids=label)
def test_a_value_that_does_not_fit_is_refused_naming_its_variable(
    variable: Variable, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert variable.bad is not None
    monkeypatch.setenv(variable.name, variable.bad)
    with pytest.raises(SettingsError, match=rf"^{variable.name}="):
        variable.settings.from_env()


@pytest.mark.parametrize(
    "variable", [v for v in VARIABLES if v.empty_is_unset and v.default is not None], ids=label
)
def test_an_empty_variable_that_is_not_text_counts_as_unset(
    variable: Variable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable.name, "")
    assert variable.read(variable.settings.from_env()) == variable.default


def test_empty_text_is_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """STRIPE_API_BASE= means Stripe itself, not the local stand-in."""
    monkeypatch.setenv("STRIPE_API_BASE", "")
    assert StripeSettings.from_env().api_base == ""


def test_every_bad_value_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_PORT", "five")
    monkeypatch.setenv("BILLING_METRICS_PORT", "-")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    assert "POSTGRES_PORT='five'" in str(refused.value)
    assert "BILLING_METRICS_PORT='-'" in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "name", "value"),
    [
        (BillingConfig, "MAX_SESSION_MINUTES", "91"),
        (BillingConfig, "COMMISSION_PERCENT", "101"),
        (CallsConfig, "MINUTE_SECONDS", "0"),
        (ConsumerRetryPolicy, "CONSUMER_ATTEMPTS", "0"),
        (BatchLimits, "CONSUMER_BATCH_LINGER_SECONDS", "-1"),
        (ProfilesConfig, "REFRESH_TOKEN_SECONDS", "0"),
        (ProfilesConfig, "PROFILES_AMBASSADOR_SHARE_BASIS_POINTS", "10001"),
        (PayoutsConfig, "PAYOUTS_WEEK_SECONDS", "0"),
        (MailRetryPolicy, "NOTIFICATIONS_MAX_ATTEMPTS", "0"),
    ],
)
def test_a_number_out_of_bounds_is_refused_naming_its_variable(
    settings: type[EnvironmentSettings], name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=rf"^{name}='{value}'"):
        settings.from_env()


def test_janus_public_url_follows_the_api_url_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JANUS_URL", "http://janus.internal:8088/janus")
    assert JanusSettings.from_env().public_url == "http://janus.internal:8088/janus"
    assert JanusSettings(api_url="http://elsewhere/janus").public_url == "http://elsewhere/janus"


def test_values_given_to_the_constructor_read_no_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests build settings by hand: what the machine's environment holds must not leak in."""
    monkeypatch.setenv("JWT_SECRET", "from-the-environment-" * 3)
    monkeypatch.setenv("POSTGRES_PORT", "6543")
    given = Settings(persistence="memory")
    assert (given.jwt_secret, given.postgres_port) == (DEV_JWT, 5432)
    assert Settings.from_env().postgres_port == 6543


def test_the_grpc_address_is_the_configured_one_or_this_machine() -> None:
    settings = Settings(grpc_ports={"billing": 6000})
    assert settings.grpc_address("billing") == "127.0.0.1:6000"
    assert settings.grpc_address("calls") == "127.0.0.1:50053"
    assert settings.grpc_address("billing", "billing:50054") == "billing:50054"
