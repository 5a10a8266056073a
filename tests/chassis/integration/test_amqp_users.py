"""The RabbitMQ users `headstore amqp-definitions` defines, imported into a real broker: each
process kind can do its own work and is refused another's."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Producer

from cli.amqp_users import accounts, definitions
from cli.registry import SERVICES, load
from headstore.consume import declare_queues, handler_queues
from headstore.envelope import event_exchange

pytestmark = pytest.mark.integration


def rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=check, capture_output=True)


def import_definitions(document: dict) -> None:
    # rabbitmqctl runs as the broker's user, who must be able to read the file.
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "definitions.json")
        with open(path, "w") as file:
            json.dump(document, file)
        os.chmod(path, 0o644)
        rabbitmqctl("import_definitions", path)


@pytest.fixture(scope="module")
def uris() -> Iterator[dict[str, str]]:
    """An account name -> its AMQP URI, on a fresh virtual host, users imported as definitions."""
    run = uuid.uuid4().hex[:8]
    vhost = f"hs-users-{run}"
    environ = {
        "RABBITMQ_DEFAULT_USER": f"hs-{run}-admin",
        "RABBITMQ_DEFAULT_PASS": uuid.uuid4().hex,
    }
    uris = {}
    for account in accounts():
        uri = f"amqp://hs-{run}-{account.name}:{uuid.uuid4().hex}@127.0.0.1:5672/{vhost}"
        environ[account.uri_variable] = uris[account.name] = uri
    document = definitions(environ)
    import_definitions(document)
    try:
        yield uris
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)
        for user in document["users"]:
            rabbitmqctl("delete_user", user["name"], check=False)


def queues_of(service: str) -> list:
    return handler_queues(load(SERVICES[service].service_class))


def publish(uri: str, producer: str) -> None:
    with Connection(uri, transport_options={"confirm_publish": True}) as connection:
        Producer(connection.default_channel, exchange=event_exchange(producer)).publish(
            {"probe": True}, routing_key="Probe", retry=False
        )


def test_migrate_declares_every_queue_and_each_service_its_own(uris):
    for service in sorted(SERVICES):
        declare_queues(uris["migrate"], queues_of(service))
    for service in sorted(SERVICES):
        # As nameko does when the service starts: declare, bind and consume its queues.
        declare_queues(uris[service], queues_of(service))
        with Connection(uris[service]) as connection:
            for queue in queues_of(service):
                queue.bind(connection.default_channel).get()


def test_a_relay_publishes_to_its_own_exchange_only(uris):
    for service in sorted(SERVICES):
        publish(uris[f"{service}-relay"], service)
    with pytest.raises(AccessRefused):
        publish(uris["profiles-relay"], "billing")
    with pytest.raises(AccessRefused):
        publish(uris["gateway"], "billing")


def test_a_service_cannot_take_another_services_events(uris):
    declare_queues(uris["migrate"], queues_of("notifications"))
    theirs = queues_of("notifications")[0]
    with pytest.raises(AccessRefused), Connection(uris["profiles"]) as connection:
        theirs.bind(connection.default_channel).get()
    with pytest.raises(AccessRefused), Connection(uris["gateway"]) as connection:
        theirs.bind(connection.default_channel).get()
    with pytest.raises(AccessRefused), Connection(uris["calls-relay"]) as connection:
        theirs.bind(connection.default_channel).get()


def test_the_gateway_makes_its_live_view_queue(uris):
    from services.gateway.live import LiveConsumer, LiveHub

    queue = LiveConsumer(uris["gateway"], LiveHub()).queue()
    with Connection(uris["gateway"]) as connection:
        channel = connection.default_channel
        for exchange in {b.exchange for b in queue.bindings}:
            exchange.bind(channel).declare()
        queue.bind(channel).declare()
        assert queue.bind(channel).get() is None
