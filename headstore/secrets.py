"""Every secret a Headstore process needs, in one table, and the start-up check that uses it.

A process runs in one of two profiles, named by `HEADSTORE_PROFILE`:

- `production` (the default, so a deployment that forgets to say is safe): the process refuses to
  start while a secret it needs is missing, still one of the development values this repository
  ever committed, or malformed; the message names every such variable.
- `development` (`make run` and the tests set it explicitly): a missing secret gets a random
  value for this run. `make run` writes them once into a git-ignored env file that honcho hands
  to every process (`python -m devtools dev-env`), so they all agree; the tests do the same through
  their fixtures.

Adding a secret is one entry in `SECRETS`; `deploy/` uses the same names.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets as random
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass

PROFILE_VARIABLE = "HEADSTORE_PROFILE"
DEVELOPMENT = "development"
PRODUCTION = "production"
PROFILES = (DEVELOPMENT, PRODUCTION)

# Values that once worked out of the box. They are in the repository, so anyone may know them;
# outside development they are refused like a missing secret.
DEVELOPMENT_JWT_SECRET = "dev-only-secret-change-me-in-production-0123456789"
DEVELOPMENT_STRIPE_API_KEY = "sk_test_headstore_dev"
DEVELOPMENT_STRIPE_WEBHOOK_SECRET = "whsec_headstore_dev"
DEVELOPMENT_STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_headstore_connect_dev"
DEVELOPMENT_JANUS_ADMIN_SECRET = "dev-janus-admin-secret"
DEVELOPMENT_JANUS_ROOM_ADMIN_KEY = "dev-janus-room-key"
DEVELOPMENT_JANUS_API_SECRET = "dev-janus-api-secret"
DEVELOPMENT_CALLS_JANUS_EVENTS_PASSWORD = "dev-janus-events-password"

_COMMITTED_ELSEWHERE = (
    # deploy/k8s/overlays/dev and deploy/k8s/base/secret.example.yaml, and the e2e key
    "dev-only-not-a-secret",
    "dev-only-janus-rooms",
    "dev-only-janus-admin",
    "dev-only-janus-api",
    "dev-only-janus-events",
    "dev-only-grpc-token",
    "GIf3pnVztoPRdxL4hHds9qOA64xz9KjYrnG5Pfk3Lh4=",  # the dev overlay's link key pair
    "yTw06HVEsffMf+YOxI6lJmuI+hFWDnmrfEPbMwFxkEI=",
    "sk_test_dev",
    "whsec_dev",
    "whsec_connect_dev",
    "sk_test_headstore_e2e",
    "change-me",
    "change-me-to-64-random-bytes",
    "sk_test_change_me",
    "sk_live_change_me",
    "whsec_change_me",
    "whsec_change_me_too",
)

PROFILES_SERVICE = "profiles"
CALLS = "calls"
BILLING = "billing"
PAYOUTS = "payouts"
NOTIFICATIONS = "notifications"
GATEWAY = "gateway"
JANUS = "janus"
"""Process names as the command line knows them: `headstore run <service>`, `headstore gateway`,
`python -m devtools janus`. Outbox relays need no secret."""


class SecretsError(RuntimeError):
    """A process may not start: the message says which variables to set, and how."""


def _random_text() -> str:
    return random.token_urlsafe(48)


def _link_private_key(_: Mapping[str, str]) -> str:
    from nacl.public import PrivateKey

    return base64.b64encode(bytes(PrivateKey.generate())).decode()


def _link_public_key(generated: Mapping[str, str]) -> str:
    """The public half of the private key generated (or given) for this run."""
    from nacl.public import PrivateKey

    private = PrivateKey(base64.b64decode(generated[NOTIFICATIONS_LINK_PRIVATE_KEY]))
    return base64.b64encode(bytes(private.public_key)).decode()


def _check_curve25519_key(value: str) -> str | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "is not base64"
    if len(raw) != 32:
        return f"must be 32 bytes (base64), not {len(raw)}"
    if base64.b64encode(raw).decode() != value:
        # The last character has bits no byte uses: a published key could pass in another
        # spelling, so only the one spelling base64 gives is taken.
        return "is not in canonical base64 (as base64 encodes the 32 bytes)"
    return None


def _check_long_enough(value: str) -> str | None:
    return None if len(value) >= 32 else "must be at least 32 characters long"


_JANUS_SAFE = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


def _check_janus_value(value: str) -> str | None:
    """Janus' secrets are written into its configuration files."""
    if not _JANUS_SAFE.match(value):
        return "may hold only letters, digits and ._~+/=- (it goes into Janus' configuration)"
    return _check_long_enough(value)


_STRIPE_KEY = re.compile(r"^(sk|rk)_(live|test)_[A-Za-z0-9]{24,}$")


def _check_stripe_key(value: str) -> str | None:
    """A secret or restricted key as Stripe issues them; a publishable key (pk_) or a typo
    would only fail at the first payment."""
    if not _STRIPE_KEY.match(value.strip()):
        return "must be a Stripe secret or restricted key (sk_live_…, sk_test_…, rk_…)"
    return None


def _random_hex(_: Mapping[str, str]) -> str:
    return random.token_hex(32)


@dataclass(frozen=True)
class Secret:
    name: str
    needed_by: frozenset[str]
    description: str
    generate: Callable[[Mapping[str, str]], str]
    """A value for a development run; gets the values generated so far (a key pair's second
    half is derived from its first)."""
    development_values: tuple[str, ...] = ()
    check: Callable[[str], str | None] | None = None
    """What is wrong with a value (None: nothing)."""
    made_up_in_development: bool = True
    """False: in development a missing value stays missing (the feature it guards is off)."""


NOTIFICATIONS_LINK_PRIVATE_KEY = "NOTIFICATIONS_LINK_PRIVATE_KEY"
NOTIFICATIONS_LINK_PUBLIC_KEY = "NOTIFICATIONS_LINK_PUBLIC_KEY"

SECRETS: tuple[Secret, ...] = (
    Secret(
        "GRPC_AUTH_TOKEN",
        frozenset({PROFILES_SERVICE, CALLS, BILLING, PAYOUTS, NOTIFICATIONS, GATEWAY}),
        "the gateway presents it on every gRPC call and the services require it",
        _random_hex,
        check=_check_long_enough,
        # A development run listens on 127.0.0.1 only, and the tests call services directly.
        made_up_in_development=False,
    ),
    Secret(
        "JWT_SECRET",
        frozenset({PROFILES_SERVICE, GATEWAY}),
        "signs access tokens (HS256): profiles issues them, the gateway checks them",
        lambda _: _random_text(),
        (DEVELOPMENT_JWT_SECRET,),
        _check_long_enough,
    ),
    Secret(
        NOTIFICATIONS_LINK_PRIVATE_KEY,
        frozenset({NOTIFICATIONS}),
        "opens the mailed-link tokens profiles seals for notifications (Curve25519, base64)",
        _link_private_key,
        check=_check_curve25519_key,
    ),
    Secret(
        NOTIFICATIONS_LINK_PUBLIC_KEY,
        frozenset({PROFILES_SERVICE}),
        "seals mailed-link tokens so only notifications can read them on AMQP (base64)",
        _link_public_key,
        check=_check_curve25519_key,
    ),
    Secret(
        "STRIPE_API_KEY",
        frozenset({BILLING, PAYOUTS}),
        "Stripe's secret API key",
        lambda _: "sk_test_" + random.token_hex(24),
        (DEVELOPMENT_STRIPE_API_KEY,),
        _check_stripe_key,
    ),
    Secret(
        "STRIPE_WEBHOOK_SECRET",
        frozenset({BILLING}),
        "checks the signature of Stripe's payment webhooks",
        lambda _: "whsec_" + random.token_hex(24),
        (DEVELOPMENT_STRIPE_WEBHOOK_SECRET,),
        _check_long_enough,  # Stripe's own are whsec_ and 32 characters more
    ),
    Secret(
        "STRIPE_CONNECT_WEBHOOK_SECRET",
        frozenset({PAYOUTS}),
        "checks the signature of Stripe's Connect webhooks",
        lambda _: "whsec_" + random.token_hex(24),
        (DEVELOPMENT_STRIPE_CONNECT_WEBHOOK_SECRET,),
        _check_long_enough,  # Stripe's own are whsec_ and 32 characters more
    ),
    Secret(
        "JANUS_ADMIN_SECRET",
        frozenset({CALLS, JANUS}),
        "Janus' admin API secret",
        _random_hex,
        (DEVELOPMENT_JANUS_ADMIN_SECRET,),
        _check_janus_value,
    ),
    Secret(
        "JANUS_ROOM_ADMIN_KEY",
        frozenset({CALLS, JANUS}),
        "the VideoRoom plugin's admin_key: only calls may create rooms",
        _random_hex,
        (DEVELOPMENT_JANUS_ROOM_ADMIN_KEY,),
        _check_janus_value,
    ),
    Secret(
        "JANUS_API_SECRET",
        frozenset({CALLS, JANUS}),
        "Janus' api_secret: calls' requests on the Janus API, and the key of participants' tokens",
        _random_hex,
        (DEVELOPMENT_JANUS_API_SECRET,),
        _check_janus_value,
    ),
    Secret(
        "CALLS_JANUS_EVENTS_PASSWORD",
        frozenset({CALLS, JANUS}),
        "Janus' event handler posts to calls with it (HTTP basic auth, user janus)",
        _random_hex,
        (DEVELOPMENT_CALLS_JANUS_EVENTS_PASSWORD,),
        _check_janus_value,
    ),
)

BY_NAME = {secret.name: secret for secret in SECRETS}


def secrets_for(process: str) -> list[Secret]:
    return [secret for secret in SECRETS if process in secret.needed_by]


def profile(environ: Mapping[str, str] | None = None) -> str:
    """The profile named by HEADSTORE_PROFILE; production when unset."""
    value = (os.environ if environ is None else environ).get(PROFILE_VARIABLE, "").strip()
    if not value:
        return PRODUCTION
    if value not in PROFILES:
        raise SecretsError(f"{PROFILE_VARIABLE} must be {' or '.join(PROFILES)}, not {value!r}.")
    return value


def development_values(
    environ: Mapping[str, str], names: Iterable[str] | None = None
) -> dict[str, str]:
    """Random values for the secrets (all, or `names`) that `environ` does not set."""
    wanted = set(BY_NAME if names is None else names)
    known = {name: value for name, value in environ.items() if name in BY_NAME and value}
    generated: dict[str, str] = {}
    for secret in SECRETS:  # all of them: a wanted half of a key pair needs the other half
        if secret.name not in known and secret.made_up_in_development:
            generated[secret.name] = secret.generate({**known, **generated})
    return {name: value for name, value in generated.items() if name in wanted}


def _published(secret: Secret, value: str) -> bool:
    """Whether `value` is a development value published in the repository, also with white
    space around it (a Secret written with `echo` ends in a line break)."""
    bare = value.strip()
    return bare in secret.development_values or bare in _COMMITTED_ELSEWHERE


def problems(process: str, environ: Mapping[str, str]) -> list[str]:
    """What is wrong with the secrets `process` needs, one line per variable."""
    found = []
    for secret in secrets_for(process):
        value = environ.get(secret.name, "")
        if not value.strip():
            found.append(f"{secret.name} is not set ({secret.description})")
        elif _published(secret, value):
            found.append(
                f"{secret.name} is a development value published in the repository; "
                "set a secret of your own"
            )
        elif secret.check is not None and (wrong := secret.check(value)) is not None:
            found.append(f"{secret.name} {wrong}")
    return found


def prepare(process: str, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Make sure `process` has its secrets before it starts, per the profile.

    Development: sets a random value for each missing one (in `environ`, os.environ by default)
    and returns their names. Production: SecretsError naming every missing, published or
    malformed one."""
    target = os.environ if environ is None else environ
    if profile(target) == DEVELOPMENT:
        names = [secret.name for secret in secrets_for(process)]
        generated = development_values(target, names)
        target.update(generated)
        return sorted(generated)
    wrong = problems(process, target)
    if wrong:
        lines = "\n".join(f"  - {line}" for line in wrong)
        raise SecretsError(
            f"headstore {process} will not start without its secrets:\n{lines}\n"
            f"Set them in the environment (deploy/ shows where), or, on a developer's machine, "
            f"set {PROFILE_VARIABLE}={DEVELOPMENT} to get random ones for this run."
        )
    return []


def development_env_file(environ: Mapping[str, str] | None = None) -> str:
    """An env file (KEY=value lines) for one development run of the whole platform: the
    profile and a random value for every secret the environment does not already set."""
    values = development_values(os.environ if environ is None else environ)
    lines = [f"{PROFILE_VARIABLE}={DEVELOPMENT}", *(f"{k}={v}" for k, v in values.items())]
    return "\n".join(lines) + "\n"
