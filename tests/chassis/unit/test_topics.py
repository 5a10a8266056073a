"""headstore.topics: an aggregate registered under a stable name is stored under it, and the
module path it was stored under before still finds it."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.utils import get_topic, resolve_topic

from headstore.domain import Aggregate
from headstore.topics import TopicRegistrationError, register_stable_topics, stored_topics


def memory_app() -> Application:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_a_registered_aggregate_is_stored_under_its_stable_name() -> None:
    class Kettle(Aggregate):
        class Filled(Aggregate.Created):
            litres: int

        class Boiled(Aggregate.Event):
            pass

        @classmethod
        def fill(cls, litres: int) -> Kettle:
            kettle: Kettle = cls._create(cls.Filled, id=uuid4(), litres=litres)
            return kettle

    register_stable_topics("kitchen", Kettle, previous=("old.place",))
    app = memory_app()
    kettle = Kettle.fill(2)
    kettle.trigger_event(Kettle.Boiled)
    app.save(kettle)
    stored = app.recorder.select_notifications(1, 10)
    qualname = Kettle.__qualname__
    assert [n.topic for n in stored] == [f"kitchen:{qualname}.Filled", f"kitchen:{qualname}.Boiled"]
    assert f'"originator_topic":"kitchen:{qualname}"'.encode() in stored[0].state
    assert app.repository.get(kettle.id).version == 2
    assert resolve_topic(f"old.place:{qualname}.Boiled") is Kettle.Boiled
    assert stored_topics(Kettle.Boiled) == (
        f"kitchen:{qualname}.Boiled",
        f"old.place:{qualname}.Boiled",
    )


def test_events_stored_under_the_former_name_are_read_with_those_under_the_new_one() -> None:
    class Teapot(Aggregate):
        class Filled(Aggregate.Created):
            cups: int

        class Poured(Aggregate.Event):
            def apply(self, teapot: Teapot) -> None:
                teapot.poured += 1

        def __init__(self) -> None:
            self.poured = 0

    app = memory_app()
    teapot = Teapot._create(Teapot.Filled, id=uuid4(), cups=4)
    teapot.trigger_event(Teapot.Poured)
    app.save(teapot)  # stored under the module path: not registered yet
    former = [n.topic for n in app.recorder.select_notifications(1, 10)]
    assert former[1] == f"{__name__}:{Teapot.__qualname__}.Poured"
    with pytest.raises(TopicRegistrationError, match="already stored or read"):
        register_stable_topics("kitchen", Teapot)


def test_a_former_module_path_moves_with_the_class() -> None:
    class Cup(Aggregate):
        class Placed(Aggregate.Created):
            pass

    register_stable_topics("kitchen", Cup, previous=(__name__,))
    app = memory_app()
    cup = Cup._create(Cup.Placed, id=uuid4())
    app.save(cup)
    (stored,) = app.recorder.select_notifications(1, 10)
    assert stored.topic == f"kitchen:{Cup.__qualname__}.Placed"
    assert resolve_topic(f"{__name__}:{Cup.__qualname__}.Placed") is Cup.Placed


def test_a_stable_name_belongs_to_one_class() -> None:
    class Spoon(Aggregate):
        class Laid(Aggregate.Created):
            pass

    register_stable_topics("drawer", Spoon)
    register_stable_topics("drawer", Spoon)  # again, the same: nothing changes
    with pytest.raises(TopicRegistrationError):
        register_stable_topics("cupboard", Spoon)

    class Other(Aggregate):
        class Laid(Aggregate.Created):
            pass

    Other.__qualname__ = Spoon.__qualname__  # the same name, another class
    with pytest.raises(TopicRegistrationError):
        register_stable_topics("drawer", Other)


def test_a_prefix_is_a_plain_name() -> None:
    class Fork(Aggregate):
        pass

    for prefix in ("", "a.b", "a:b"):
        with pytest.raises(ValueError):
            register_stable_topics(prefix, Fork)


def test_an_unregistered_class_is_stored_under_the_library_s_topic() -> None:
    class Knife(Aggregate):
        pass

    assert stored_topics(Knife) == (get_topic(Knife),)
