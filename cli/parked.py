"""`headstore parked list|replay|drop`: what operators do with parked events.

A service's parking places are its consumers' handlers (one per ordered stream, under the
upstream name its subscription table gives it, such as `calls.SessionEnded.on_session_ended`),
its outbox relay (`relay`) and its projections
(`projection:<name>`). Each lists its events oldest first; replay applies (or, for the relay,
publishes) them again in that order; drop forgets them, only with `--yes`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cli.registry import ServiceParts, load
from headstore.parking import ParkedRow as Row
from headstore.parking import ParkingPlace as Place
from headstore.settings import Settings

if TYPE_CHECKING:
    from headstore.consumers import Handler


class ConsumerPlace:
    """One `@consumes` handler's parked events, replayed through its policy."""

    def __init__(self, app: Any, service_class: type, handler: Handler) -> None:
        self.app = app
        self.consumer = handler
        self.handler = handler.upstream
        # Policies take everything from `app` and the envelope (see headstore.consumers);
        # the service object only carries them.
        self.service: Any = object.__new__(service_class)

    def rows(self) -> list[Row]:
        return [
            Row(
                p.handler,
                p.event_id,
                p.position,
                p.event_type,
                p.aggregate_id,
                p.attempts,
                p.reason,
                p.parked_at,
            )
            for p in self.app.parking.parked(self.handler)
        ]

    def replay(self, event_id: str | None) -> str:
        policy = self.consumer.policy

        def policy_for(envelope: Any) -> Callable[[Any, Any], None]:
            return lambda app, processing: policy(self.service, app, envelope, processing)

        report = self.app.replay_parked(self.handler, policy_for, event_id)
        return (
            f"{report.replayed} applied, {report.rejected} refused (no effect), "
            f"{report.failed} still failing, {report.skipped} left behind them"
        )

    def drop(self, event_id: str | None) -> int:
        dropped: int = self.app.parking.drop_parked(self.handler, event_id)
        self.app.refresh_parked_metrics()
        return dropped


class RelayPlace:
    handler = "relay"

    def __init__(self, app: Any, translate: Any, settings: Settings) -> None:
        from headstore.relay import RelayParking

        self.app = app
        self.translate = translate
        self.settings = settings
        self.parking = RelayParking(app.service, settings)

    def rows(self) -> list[Row]:
        return [
            Row(
                self.handler,
                p.event_id,
                p.position,
                p.topic.rpartition(":")[2],
                p.aggregate_id,
                p.attempts,
                p.reason,
                p.parked_at,
            )
            for p in self.parking.parked()
        ]

    def replay(self, event_id: str | None) -> str:
        from headstore.relay import replay_relay_parked

        published, internal, failing = replay_relay_parked(
            self.app, self.translate, self.settings, event_id
        )
        return (
            f"{published} published, {internal} internal (nothing to publish), "
            f"{failing} still failing"
        )

    def drop(self, event_id: str | None) -> int:
        return self.parking.drop(event_id)

    def close(self) -> None:
        self.parking.close()


@contextmanager
def places(settings: Settings, parts: ServiceParts) -> Iterator[list[Place]]:
    from headstore.consumers import handlers

    app = load(parts.application_class)(settings)
    service_class = load(parts.service_class)
    found: list[Place] = [ConsumerPlace(app, service_class, h) for h in handlers(service_class)]
    relay = RelayPlace(app, load(parts.translate), settings)
    found.append(relay)
    closers: list[Callable[[], None]] = [relay.close, app.close]
    for path in parts.projections:
        place = load(path)(settings)
        found.append(place)
        closers.append(place.close)
    try:
        yield found
    finally:
        for close in closers:
            close()


def add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="parked_command", required=True)
    listing = commands.add_parser("list", help="list parked events per handler")
    listing.add_argument("service", nargs="?", help="one service (default: every service)")
    for name, help_text in (
        ("replay", "apply a handler's parked events again, in order"),
        ("drop", "forget parked events (needs --yes)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("service")
        command.add_argument("--handler", help="one handler (default: every handler)")
        command.add_argument("--event", help="one event id (default: every parked event)")
        if name == "drop":
            command.add_argument("--all", action="store_true", help="every parked event")
            command.add_argument(
                "--yes", action="store_true", help="confirm: this cannot be undone"
            )


def run(args: argparse.Namespace, settings: Settings, services: dict[str, ServiceParts]) -> int:
    if args.parked_command == "list":
        chosen = [services[args.service]] if args.service else list(services.values())
        total = 0
        for parts in chosen:
            with places(settings, parts) as found:
                for place in found:
                    rows = place.rows()
                    total += len(rows)
                    if rows:
                        print(f"{parts.name} {place.handler}: {len(rows)} parked")
                    for row in rows:
                        print(
                            f"  {row.event_id}  position {row.position}  {row.event_type}  "
                            f"aggregate {row.aggregate_id}  {row.attempts} attempts  "
                            f"{row.parked_at:%Y-%m-%d %H:%M:%S}  {row.reason}"
                        )
        print(f"{total} parked events")
        return 0
    parts = services[args.service]
    with places(settings, parts) as found:
        chosen_places = [p for p in found if args.handler in (None, p.handler)]
        if not chosen_places:
            names = ", ".join(p.handler for p in found)
            raise SystemExit(f"{parts.name} has no handler {args.handler}; it has: {names}")
        if args.parked_command == "replay":
            for place in chosen_places:
                if place.rows():
                    print(f"{parts.name} {place.handler}: {place.replay(args.event)}")
            return 0
        if not (args.event or args.all):
            raise SystemExit("say which: --event ID, or --all")
        if not args.yes:
            raise SystemExit("dropping parked events cannot be undone: add --yes to confirm")
        dropped = sum(place.drop(args.event) for place in chosen_places)
        print(f"dropped {dropped} parked events")
        return 0
