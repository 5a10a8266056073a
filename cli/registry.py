"""Where each service's parts live, so the command line can run, relay and migrate any of them
by name. Adding a service is one entry here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


def load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class ServiceParts:
    name: str
    service_class: str  # the nameko service
    application_class: str  # its eventsourcing Application
    translate: str  # stored domain event -> public protobuf event, or None
    migrate: str | None = None  # extra tables (projections), after the store's own
    # Projections' parking places for `headstore parked` (settings -> cli.parked.Place).
    projections: tuple[str, ...] = ()


SERVICES: dict[str, ServiceParts] = {
    parts.name: parts
    for parts in (
        ServiceParts(
            "profiles",
            "services.profiles.service:ProfilesService",
            "services.profiles.application:ProfilesApplication",
            "services.profiles.contract:translate",
            "services.profiles.application:migrate",
            ("services.profiles.directory:parking_place",),
        ),
        ServiceParts(
            "calls",
            "services.calls.service:CallsService",
            "services.calls.application:CallsApplication",
            "services.calls.contract:translate",
        ),
        ServiceParts(
            "billing",
            "services.billing.service:BillingService",
            "services.billing.application:BillingApplication",
            "services.billing.contract:translate",
        ),
        ServiceParts(
            "payouts",
            "services.payouts.service:PayoutsService",
            "services.payouts.application:PayoutsApplication",
            "services.payouts.contract:translate",
        ),
        ServiceParts(
            "notifications",
            "services.notifications.service:NotificationsService",
            "services.notifications.application:NotificationsApplication",
            "services.notifications.contract:translate",
        ),
    )
}
