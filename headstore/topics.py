"""Stored topics that do not depend on where a class lives.

The library stores each event under a topic naming its class, by default the module path and
qualified name (`services.billing.domain:Bill.Opened`), and stores the aggregate's class the
same way in created events (`originator_topic`) and snapshots. Moving a class would then
strand every event stored before. So each service's domain package names its aggregates once,
under the service's name:

    register_stable_topics("billing", Bill, CardOnFile, previous=("services.billing.domain",))

From then on the aggregates and their events are stored as `billing:Bill`,
`billing:Bill.Opened` (the library's explicit `TOPIC`), wherever the classes live, and the
topics stored before (`previous` module paths) still resolve to the same classes (the library's
`register_topic`). A later move only changes imports.

A query that selects stored events by topic must ask for every name they may be stored under:
`stored_topics(Bill.Opened)`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import TopicError, get_topic, register_topic

_stored_as: dict[type, tuple[str, ...]] = {}
"""Each registered class: its stable topic first, then the topics it was stored under before."""


class TopicRegistrationError(RuntimeError):
    """A class cannot be given its stable topic (its topic was used already, or is taken)."""


def event_classes(aggregate: type) -> Iterator[type]:
    """The event classes an aggregate class holds (its own and those the library derived for
    it from its bases, such as `Event` and `Created`)."""
    for value in vars(aggregate).values():
        if isinstance(value, type) and issubclass(value, CanMutateAggregate):
            yield value


def register_stable_topics(prefix: str, *aggregates: type, previous: Sequence[str] = ()) -> None:
    """Store `aggregates` and their events as `<prefix>:<qualified name>` from now on, and
    resolve `<module>:<qualified name>` for each module path in `previous` to the same class.

    Call it once, where the classes are defined, before anything is stored or read: a class
    whose topic was already asked for keeps the one it was given (TopicRegistrationError)."""
    if not prefix or ":" in prefix or "." in prefix:
        raise ValueError(f"a topic prefix is a plain name, not {prefix!r}")
    for aggregate in aggregates:
        for cls in (aggregate, *event_classes(aggregate)):
            _register(
                cls,
                f"{prefix}:{cls.__qualname__}",
                [f"{module}:{cls.__qualname__}" for module in previous],
            )


def _register(cls: type, stable: str, aliases: list[str]) -> None:
    if cls in _stored_as:
        if _stored_as[cls] != (stable, *aliases):
            raise TopicRegistrationError(f"{cls.__qualname__} is registered as {_stored_as[cls]}")
        return
    if "TOPIC" in vars(cls):
        raise TopicRegistrationError(f"{cls.__qualname__} names its own topic already")
    cls.TOPIC = stable  # type: ignore[attr-defined]  # the library's explicit topic
    try:
        register_topic(stable, cls)
        for alias in aliases:
            register_topic(alias, cls)
    except TopicError as error:
        raise TopicRegistrationError(f"{stable}: {error}") from error
    if get_topic(cls) != stable:  # asked for before: the library keeps the first answer
        raise TopicRegistrationError(
            f"{cls.__qualname__} was already stored or read as {get_topic(cls)!r}; register "
            "its stable topic where it is defined"
        )
    _stored_as[cls] = (stable, *aliases)


def stored_topics(*classes: type) -> tuple[str, ...]:
    """Every topic events of `classes` may be stored under: for a class with a stable topic,
    that and the ones it had before; for any other, the library's topic."""
    topics: list[str] = []
    for cls in classes:
        topics.extend(_stored_as.get(cls, (get_topic(cls),)))
    return tuple(topics)
