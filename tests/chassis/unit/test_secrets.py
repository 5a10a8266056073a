"""No process starts without its secrets outside the development profile; in it, missing ones
are made up for the run."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from cli.registry import SERVICES
from devtools.testing import ROOT
from headstore import secrets
from headstore.links import open_sealed, seal

PROCESSES = [*SERVICES, secrets.GATEWAY, secrets.JANUS]


def complete_environment() -> dict[str, str]:
    """Every secret set, as a deployment sets them."""
    return {
        **secrets.development_values({}),
        "GRPC_AUTH_TOKEN": "g" * 64,
    }


def published_values() -> dict[str, set[str]]:
    """Each secret's values in deploy/: the dev overlay's literals and the template's."""
    found: dict[str, set[str]] = {}
    overlay = ROOT / "deploy/k8s/overlays/dev/kustomization.yaml"
    template = ROOT / "deploy/k8s/base/secret.example.yaml"
    for line in overlay.read_text().splitlines():
        key, _, value = line.strip().removeprefix("- ").partition("=")
        if key in secrets.BY_NAME:
            found.setdefault(key, set()).add(value)
    for line in template.read_text().splitlines():
        key, _, value = line.strip().partition(": ")
        if key in secrets.BY_NAME:
            found.setdefault(key, set()).add(value)
    return found


def test_every_value_published_in_deploy_is_refused_outside_development() -> None:
    published = published_values()
    assert set(published) == set(secrets.BY_NAME)  # deploy knows every secret, and no other
    for name, values in published.items():
        process = sorted(secrets.BY_NAME[name].needed_by)[0]
        for value in values:
            with pytest.raises(secrets.SecretsError, match=name):
                secrets.prepare(process, {**complete_environment(), name: value})


def test_every_secret_is_needed_by_some_process() -> None:
    for secret in secrets.SECRETS:
        assert secret.needed_by, secret.name
        assert secret.needed_by <= set(PROCESSES), secret.name


@pytest.mark.parametrize("process", [p for p in PROCESSES if secrets.secrets_for(p)])
def test_each_process_refuses_to_start_without_each_of_its_secrets(process: str) -> None:
    for secret in secrets.secrets_for(process):
        environ = complete_environment()
        del environ[secret.name]
        with pytest.raises(secrets.SecretsError) as refused:
            secrets.prepare(process, environ)
        assert secret.name in str(refused.value)
        assert secret.name not in environ  # nothing was made up


@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_starts_with_its_secrets_set(process: str) -> None:
    environ = complete_environment()
    assert secrets.prepare(process, environ) == []


def test_production_is_the_default_profile() -> None:
    with pytest.raises(secrets.SecretsError):
        secrets.prepare(secrets.GATEWAY, {})
    assert secrets.profile({}) == secrets.PRODUCTION


def test_an_unknown_profile_is_refused_by_name() -> None:
    with pytest.raises(secrets.SecretsError, match="HEADSTORE_PROFILE"):
        secrets.prepare(secrets.GATEWAY, {"HEADSTORE_PROFILE": "staging"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWT_SECRET", secrets.DEVELOPMENT_JWT_SECRET),
        ("JWT_SECRET", "dev-only-not-a-secret"),  # the dev overlay's
        ("STRIPE_WEBHOOK_SECRET", secrets.DEVELOPMENT_STRIPE_WEBHOOK_SECRET),
        ("STRIPE_API_KEY", secrets.DEVELOPMENT_STRIPE_API_KEY),
        ("JANUS_ADMIN_SECRET", secrets.DEVELOPMENT_JANUS_ADMIN_SECRET),
        ("JANUS_ROOM_ADMIN_KEY", secrets.DEVELOPMENT_JANUS_ROOM_ADMIN_KEY),
        ("JANUS_API_SECRET", "dev-only-janus-api"),
        ("CALLS_JANUS_EVENTS_PASSWORD", secrets.DEVELOPMENT_CALLS_JANUS_EVENTS_PASSWORD),
    ],
)
def test_a_published_development_value_is_refused_outside_development(
    name: str, value: str
) -> None:
    process = sorted(secrets.BY_NAME[name].needed_by)[0]
    environ = {**complete_environment(), name: value}
    with pytest.raises(secrets.SecretsError, match=name):
        secrets.prepare(process, environ)


def test_a_short_jwt_secret_or_a_malformed_key_is_refused() -> None:
    environ = {**complete_environment(), "JWT_SECRET": "short"}
    with pytest.raises(secrets.SecretsError, match="JWT_SECRET must be at least 32"):
        secrets.prepare(secrets.GATEWAY, environ)
    environ = {**complete_environment(), "JANUS_API_SECRET": "a" * 40 + '"'}
    with pytest.raises(secrets.SecretsError, match="JANUS_API_SECRET may hold only"):
        secrets.prepare(secrets.JANUS, environ)
    environ = {**complete_environment(), "NOTIFICATIONS_LINK_PRIVATE_KEY": "not base64!"}
    with pytest.raises(secrets.SecretsError, match="NOTIFICATIONS_LINK_PRIVATE_KEY"):
        secrets.prepare(secrets.NOTIFICATIONS, environ)


def test_development_makes_up_missing_secrets_and_keeps_given_ones() -> None:
    environ = {"HEADSTORE_PROFILE": "development", "JWT_SECRET": "mine-" + "x" * 40}
    generated = secrets.prepare(secrets.PROFILES_SERVICE, environ)
    assert generated == ["NOTIFICATIONS_LINK_PUBLIC_KEY"]
    environ["GRPC_AUTH_TOKEN"] = "g" * 64  # for the production check below
    assert environ["JWT_SECRET"] == "mine-" + "x" * 40
    assert secrets.problems(secrets.PROFILES_SERVICE, environ) == []


def test_development_values_are_random_per_run() -> None:
    first, second = secrets.development_values({}), secrets.development_values({})
    assert set(first) == set(secrets.BY_NAME) - {"GRPC_AUTH_TOKEN"}
    assert all(first[name] != second[name] for name in first)


def test_development_leaves_grpc_unauthenticated_but_production_requires_the_token() -> None:
    environ = {"HEADSTORE_PROFILE": "development"}
    secrets.prepare(secrets.GATEWAY, environ)
    assert "GRPC_AUTH_TOKEN" not in environ
    production = complete_environment()
    del production["GRPC_AUTH_TOKEN"]
    with pytest.raises(secrets.SecretsError, match="GRPC_AUTH_TOKEN"):
        secrets.prepare(secrets.PROFILES_SERVICE, production)


def test_the_generated_link_keys_are_one_pair() -> None:
    environ = complete_environment()
    sealed = seal("a-token", environ["NOTIFICATIONS_LINK_PUBLIC_KEY"])
    assert open_sealed(sealed, environ["NOTIFICATIONS_LINK_PRIVATE_KEY"]) == "a-token"


def test_the_development_env_file_names_the_profile_and_every_missing_secret() -> None:
    text = secrets.development_env_file({"JWT_SECRET": "given-" + "y" * 40})
    lines = dict(line.split("=", 1) for line in text.splitlines())
    assert lines.pop("HEADSTORE_PROFILE") == "development"
    assert set(lines) == set(secrets.BY_NAME) - {"JWT_SECRET", "GRPC_AUTH_TOKEN"}


def test_a_service_started_without_the_profile_or_jwt_secret_exits_naming_it() -> None:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key != "HEADSTORE_PROFILE" and key not in secrets.BY_NAME
    }
    finished = subprocess.run(
        [sys.executable, "-m", "cli.main", "run", "profiles"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert "JWT_SECRET" in finished.stderr
    assert "HEADSTORE_PROFILE=development" in finished.stderr


def _another_spelling_of(key: str) -> str:
    """The same 32 bytes in base64 with other values in the last character's unused bits."""
    last = key[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    other = alphabet[alphabet.index(last) ^ 1]
    spelled = key[:-2] + other + "="
    assert spelled != key and base64.b64decode(spelled) == base64.b64decode(key)
    return spelled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWT_SECRET", secrets.DEVELOPMENT_JWT_SECRET + "\n"),  # a Secret made with echo
        ("JWT_SECRET", " " + secrets.DEVELOPMENT_JWT_SECRET),
        ("STRIPE_WEBHOOK_SECRET", "whsec_dev\n"),
        ("JANUS_ADMIN_SECRET", secrets.DEVELOPMENT_JANUS_ADMIN_SECRET + "\t"),
        (
            "NOTIFICATIONS_LINK_PRIVATE_KEY",
            _another_spelling_of("GIf3pnVztoPRdxL4hHds9qOA64xz9KjYrnG5Pfk3Lh4="),
        ),
        (
            "NOTIFICATIONS_LINK_PUBLIC_KEY",
            _another_spelling_of("yTw06HVEsffMf+YOxI6lJmuI+hFWDnmrfEPbMwFxkEI="),
        ),
    ],
    ids=["newline", "leading-space", "webhook-newline", "tab", "private-key", "public-key"],
)
def test_a_published_value_spelled_another_way_is_refused(name: str, value: str) -> None:
    process = sorted(secrets.BY_NAME[name].needed_by)[0]
    environ = {**complete_environment(), name: value}
    with pytest.raises(secrets.SecretsError, match=name):
        secrets.prepare(process, environ)


@pytest.mark.parametrize("name", ["STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET"])
def test_a_webhook_secret_too_short_to_keep_forgers_out_is_refused(name: str) -> None:
    process = sorted(secrets.BY_NAME[name].needed_by)[0]
    environ = {**complete_environment(), name: "whsec_x"}
    with pytest.raises(secrets.SecretsError, match=f"{name} must be at least 32"):
        secrets.prepare(process, environ)


@pytest.mark.parametrize(
    "value",
    [
        "pk_live_" + "a" * 24,
        "sk_live_short",
        "not-a-stripe-key-at-all-0123456789abcdef",
        "sk_prod_" + "a" * 24,
    ],
    ids=["publishable", "short", "no-prefix", "no-mode"],
)
def test_a_value_that_is_not_a_stripe_secret_key_is_refused(value: str) -> None:
    environ = {**complete_environment(), "STRIPE_API_KEY": value}
    with pytest.raises(secrets.SecretsError, match="STRIPE_API_KEY must be a Stripe secret"):
        secrets.prepare("billing", environ)


@pytest.mark.parametrize("value", ["sk_live_" + "a1" * 12, "rk_test_" + "Z9" * 50])
def test_stripe_secret_and_restricted_keys_are_taken(value: str) -> None:
    secrets.prepare("billing", {**complete_environment(), "STRIPE_API_KEY": value})
