"""One RabbitMQ user per process kind, each allowed only what it does, as RabbitMQ definitions.

Every service, every outbox relay, the gateway and the migrate Job connects with its own user
(`<ACCOUNT>_AMQP_URI` in the Secret, e.g. PROFILES_AMQP_URI, PROFILES_RELAY_AMQP_URI), all in one
virtual host (events cross services there). `headstore amqp-definitions` reads those URIs and the
administrator's RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS from the environment and writes the
definitions RabbitMQ imports at boot (`load_definitions`): the virtual host, the users with their
passwords, and per user regular expressions over the names of exchanges and queues:

- a service (consumer) configures, binds and reads its own handler queues
  (`evt-<producer>-<type>--<service>.<name>`, as its subscription table names them, and
  anything named `<service>.…`), and declares and reads (binds to) only the exchanges of the
  producers it consumes from;
- its relay declares and writes only its own service's exchange (`<service>.events`);
- the gateway makes its own exclusive live-view queues (`gateway-live-…`) bound to the exchanges
  of the events the live view shows;
- migrate declares everything (it creates every queue before the services start).

So the URIs in the Secret are the only place a password is written.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cli.registry import SERVICES, load

NOTHING = "^$"

GATEWAY_LIVE_EVENTS = "services.gateway.live:LIVE_EVENTS"


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True)
class Account:
    """One user: who (the environment variable holding its URI) and what it may do."""

    name: str  # profiles, profiles-relay, gateway, migrate
    permissions: Permissions

    @property
    def uri_variable(self) -> str:
        return f"{self.name.upper().replace('-', '_')}_AMQP_URI"


def _either(patterns: Iterable[str]) -> str:
    alternatives = sorted(set(patterns))
    return f"^({'|'.join(alternatives)})$" if alternatives else NOTHING


def _exchanges(producers: Iterable[str]) -> list[str]:
    return [re.escape(f"{producer}.events") for producer in producers]


def consumed_producers(service: str) -> set[str]:
    """The producers whose exchanges the service's handler queues are bound to."""
    from headstore.consume import handler_queues

    queues = handler_queues(load(SERVICES[service].service_class))
    return {queue.exchange.name.removesuffix(".events") for queue in queues}


def service_permissions(service: str, producers: Iterable[str]) -> Permissions:
    name = re.escape(service)
    own = [f"evt-[^.]+--{name}\\..*", f"{name}\\..*"]
    exchanges = _exchanges(producers)
    return Permissions(
        configure=_either([*own, *exchanges]),
        write=_either(own),
        read=_either([*own, *exchanges]),
    )


def relay_permissions(service: str) -> Permissions:
    own = f"^{re.escape(service)}\\..*$"
    return Permissions(configure=own, write=own, read=NOTHING)


def gateway_permissions(producers: Iterable[str]) -> Permissions:
    live = "gateway-live-.*"
    exchanges = _exchanges(producers)
    return Permissions(
        configure=_either([live, *exchanges]),
        write=_either([live]),
        read=_either([live, *exchanges]),
    )


EVERYTHING = Permissions(".*", ".*", ".*")


def accounts() -> list[Account]:
    """Every user the platform connects as, with its permissions."""
    found = []
    for service in sorted(SERVICES):
        found.append(Account(service, service_permissions(service, consumed_producers(service))))
        found.append(Account(f"{service}-relay", relay_permissions(service)))
    live_producers = {producer for producer, _ in load(GATEWAY_LIVE_EVENTS)}
    found.append(Account("gateway", gateway_permissions(live_producers)))
    found.append(Account("migrate", EVERYTHING))
    return found


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    vhost: str


def credentials(uri: str, variable: str) -> Credentials:
    parts = urlsplit(uri)
    if parts.scheme not in ("amqp", "amqps") or not parts.username or not parts.password:
        raise ValueError(f"{variable} must be amqp://USER:PASSWORD@HOST:PORT/VHOST")
    vhost = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    return Credentials(unquote(parts.username), unquote(parts.password), vhost or "/")


def definitions(environ: Mapping[str, str]) -> dict[str, Any]:
    """RabbitMQ definitions (the JSON `rabbitmqctl import_definitions` and `load_definitions`
    read) for the administrator and every account whose URI is in `environ`. Every account must
    be there, with a user of its own, all in one virtual host."""
    admin_user = environ.get("RABBITMQ_DEFAULT_USER", "")
    admin_password = environ.get("RABBITMQ_DEFAULT_PASS", "")
    if not admin_user or not admin_password:
        raise ValueError("RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS must be set")
    users: list[dict[str, Any]] = [
        {"name": admin_user, "password": admin_password, "tags": "administrator"}
    ]
    permissions: list[dict[str, str]] = []
    vhosts: set[str] = set()
    seen = {admin_user: "RABBITMQ_DEFAULT_USER"}
    for account in accounts():
        uri = environ.get(account.uri_variable, "")
        if not uri:
            raise ValueError(f"{account.uri_variable} is not set (the {account.name} user)")
        given = credentials(uri, account.uri_variable)
        if given.user in seen:
            raise ValueError(
                f"{account.uri_variable} and {seen[given.user]} use the same user "
                f"{given.user!r}: each needs its own"
            )
        seen[given.user] = account.uri_variable
        vhosts.add(given.vhost)
        users.append({"name": given.user, "password": given.password, "tags": ""})
        permissions.append(
            {
                "user": given.user,
                "vhost": given.vhost,
                "configure": account.permissions.configure,
                "write": account.permissions.write,
                "read": account.permissions.read,
            }
        )
    if len(vhosts) != 1:
        raise ValueError(f"every *_AMQP_URI must name the same virtual host, not {sorted(vhosts)}")
    (vhost,) = vhosts
    permissions.insert(
        0,
        {"user": admin_user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"},
    )
    return {"vhosts": [{"name": vhost}], "users": users, "permissions": permissions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="headstore amqp-definitions", description=__doc__)
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON")
    args = parser.parse_args(argv)
    try:
        document = definitions(os.environ)
    except ValueError as error:
        parser.exit(2, f"headstore amqp-definitions: {error}\n")
    args.out.write_text(json.dumps(document, indent=2))
    args.out.chmod(0o600)
    return 0
