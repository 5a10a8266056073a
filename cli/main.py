"""`headstore`: run a service, its outbox relay or the gateway; migrate; operators' commands.

The development tools (Stripe stand-in, mail catcher, Janus for one machine, the development
env file) are `python -m devtools …`, installed only with the dev extra."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from cli.registry import SERVICES, ServiceParts, load
from headstore import logs, metrics
from headstore import secrets as secret_registry
from headstore.settings import Settings

log = logging.getLogger("headstore")


def migrate(settings: Settings, services: list[ServiceParts]) -> None:
    """Create every database, table and queue before anything runs (idempotent)."""
    from headstore.consume import declare_queues, handler_queues
    from headstore.relay import RelayParking, relay_tracking_recorder
    from headstore.store import create_database

    for parts in services:
        if create_database(parts.name, settings):
            log.info("created database %s", settings.database(parts.name))
        app = load(parts.application_class)(settings, create_table=True)
        app.close()
        relay_tracking_recorder(parts.name, settings, create_table=True)
        relay_parking = RelayParking(parts.name, settings)
        relay_parking.create_table()
        relay_parking.close()
        if parts.migrate:
            load(parts.migrate)(settings)
        declare_queues(settings.amqp_uri, handler_queues(load(parts.service_class)))
        log.info("migrated %s", parts.name)


def run_service(settings: Settings, parts: ServiceParts) -> None:
    from headstore.runtime import WORKERS, patch_eventlet
    from headstore.runtime import run_service as run

    # Before the service's modules import kombu, amqp and friends: names they bind at import
    # time must be the green ones, or a broker outage blocks the whole process.
    patch_eventlet()
    from headstore.grpc import AUTH_TOKEN_CONFIG

    run(
        load(parts.service_class),
        {
            "AMQP_URI": settings.amqp_uri,
            "GRPC_BIND_HOST": "0.0.0.0",
            "GRPC_BIND_PORT": settings.grpc_ports[parts.name],
            "max_workers": WORKERS,
            AUTH_TOKEN_CONFIG: settings.grpc_auth_token,
            # nameko's HTTP entrypoints (calls takes Janus' events there).
            "WEB_SERVER_ADDRESS": f"{settings.janus_events_host}:{settings.janus_events_port}",
        },
    )


def run_relay(settings: Settings, parts: ServiceParts) -> None:
    from headstore.relay import OutboxRelay

    metrics.serve(settings.relay_metrics_ports.get(parts.name, 0))
    app = load(parts.application_class)(settings)
    relay = OutboxRelay(app, load(parts.translate), settings)

    def stop(signum: int, frame: Any) -> None:
        relay.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    relay.run()


def grant_role(settings: Settings, email: str, role: str) -> None:
    """The operator's way to appoint the first admin and trustees (and ambassadors)."""
    from services.profiles.application import ProfilesApplication

    app = ProfilesApplication(settings)
    try:
        account = app.account_by_email(email)
        if account is None:
            raise SystemExit(f"no account with the e-mail address {email}")
        app.grant_role(None, account.id, role)
        print(f"{account.email} is now {role}")
        if role == "ambassador":
            code = app.ambassador(account.id).referral_code
            print(f"referral link: {settings.public_url}/apply?ref={code}")
    finally:
        app.close()


SECRET_CHECKED = {"run", "gateway"}
"""Commands that start a long-running process of the platform, checked for their secrets."""


def prepare_secrets(process: str) -> None:
    """Stop with a message naming each missing secret (production), or make up the missing
    ones for this process alone (development: a lone process, not `make run`)."""
    try:
        generated = secret_registry.prepare(process)
    except secret_registry.SecretsError as error:
        raise SystemExit(str(error)) from None
    if generated:
        log.warning(
            "development profile: random %s for this process only (make run shares one set)",
            ", ".join(generated),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="headstore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create databases, tables and queues")
    for name, help_text in (("run", "run a service"), ("relay", "run a service's outbox relay")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("service", choices=sorted(SERVICES))
    gateway = commands.add_parser("gateway", help="run the HTTP gateway")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8000)
    commands.add_parser(
        "amqp-definitions",
        help="write the RabbitMQ definitions (a user per service, relay, gateway, migrate) "
        "from the *_AMQP_URI variables; `headstore amqp-definitions --help` lists its options",
        add_help=False,
    )
    grant = commands.add_parser("grant-role", help="give an account a role (operators)")
    grant.add_argument("email")
    grant.add_argument("role")
    commands.add_parser(
        "rebuild-directory", help="drop the expert directory and rebuild it from the events"
    )
    from cli.parked import add_commands as add_parked_commands

    add_parked_commands(
        commands.add_parser(
            "parked", help="events set aside after failing: list, replay or drop them"
        )
    )
    from finance.cli import add_commands as add_finance_commands

    add_finance_commands(
        commands.add_parser("finance", help="replay billing and payouts; reconcile with Stripe")
    )
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["amqp-definitions"]:
        from cli.amqp_users import main as amqp_definitions_main

        return amqp_definitions_main(arguments[1:])
    args = parser.parse_args(argv)

    logs.configure(getattr(args, "service", None) or args.command)
    if args.command in SECRET_CHECKED:
        prepare_secrets(getattr(args, "service", None) or args.command)
    settings = Settings.from_env()
    if args.command == "migrate":
        migrate(settings, list(SERVICES.values()))
    elif args.command == "run":
        run_service(settings, SERVICES[args.service])
    elif args.command == "relay":
        run_relay(settings, SERVICES[args.service])
    elif args.command == "gateway":
        import uvicorn

        from headstore.settings import gateway_metrics_port

        metrics.serve(gateway_metrics_port())
        uvicorn.run(
            "services.gateway.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            log_level="warning",
            # The client address is the gateway's business (GATEWAY_TRUSTED_PROXIES): uvicorn
            # must not take it from X-Forwarded-For of whoever connects from 127.0.0.1.
            proxy_headers=False,
        )
    elif args.command == "grant-role":
        grant_role(settings, args.email, args.role)
    elif args.command == "rebuild-directory":
        from services.profiles.directory import rebuild_directory

        rebuild_directory(settings)
    elif args.command == "parked":
        from cli.parked import run as run_parked

        return run_parked(args, settings, SERVICES)
    elif args.command == "finance":
        from finance.cli import run as run_finance

        return run_finance(args, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
