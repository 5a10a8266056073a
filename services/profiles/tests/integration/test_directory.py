"""The expert directory is a projection: dropped, it is rebuilt from the events alone."""

from __future__ import annotations

import pytest

from cli.main import migrate
from cli.registry import SERVICES
from headstore.store import drop_database
from services.profiles.application import ProfilesApplication, ProfilesConfig
from services.profiles.directory import (
    SearchQuery,
    parking_place,
    rebuild_directory,
    start_directory,
)
from services.profiles.domain import DESCRIPTIVE_FIELDS, ExpertProfile

pytestmark = pytest.mark.integration


@pytest.fixture
def app(settings):
    drop_database("profiles", settings)
    migrate(settings, [SERVICES["profiles"]])
    application = ProfilesApplication(
        settings, config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192})
    )
    yield application
    application.close()


def listed_expert(app: ProfilesApplication, name: str, offering: str, rate: int) -> None:
    account = app.sign_up(f"{name.lower()}@example.com", "long enough", name)
    app.save(ExpertProfile.create(account, name))
    app.update_expert_profile(
        account,
        {
            "offering": offering,
            "categories": ["finance"],
            "languages": ["en"],
            "currency": "EUR",
            "rate_per_minute": rate,
        },
    )
    app.set_availability(account, True)


def search(settings, app, **query) -> list[str]:
    runner = start_directory(settings)
    try:
        runner.wait(app.head(), timeout=30)
        ids, _ = runner.view.search(SearchQuery(**query).checked())
        return [app.expert_profile(i).name for i in ids]
    finally:
        runner.__exit__(None, None, None)


def test_rebuilt_directory_answers_as_before(settings, app):
    listed_expert(app, "Ada", "Corporate tax planning.", 300)
    listed_expert(app, "Bea", "Pension and tax questions.", 200)
    listed_expert(app, "Cal", "Garden design.", 500)
    before = search(settings, app, text="tax", sort="rate_asc")
    assert before == ["Bea", "Ada"]

    assert rebuild_directory(settings) == app.head()

    assert search(settings, app, text="tax", sort="rate_asc") == before
    assert search(settings, app, min_rate=400) == ["Cal"]


def offering_with_nul(app: ProfilesApplication, name: str) -> None:
    """What a profile saved before control characters were refused left in the store: an
    update whose offering holds a NUL, written past the aggregate's checks."""
    account = app.account_by_email(f"{name.lower()}@example.com")
    assert account is not None
    profile = app.expert_profile(account.id)
    fields = {key: getattr(profile, key) for key in DESCRIPTIVE_FIELDS}
    profile.trigger_event(
        ExpertProfile.ProfileUpdated, **{**fields, "offering": "Tax\x00 planning."}
    )
    app.save(profile)


def test_an_event_the_directory_cannot_store_is_parked_and_search_goes_on(settings, app):
    listed_expert(app, "Ada", "Corporate tax planning.", 300)
    listed_expert(app, "Bea", "Pension and tax questions.", 200)
    offering_with_nul(app, "Ada")
    app.update_expert_profile(
        app.account_by_email("ada@example.com").id, {"offering": "Estate tax planning."}
    )
    listed_expert(app, "Cal", "Tax for gardeners.", 500)

    # Everyone else is found; Ada's later update waits behind her parked one.
    assert search(settings, app, text="tax", sort="rate_asc") == ["Bea", "Ada", "Cal"]
    assert search(settings, app, text="estate") == []
    place = parking_place(settings)
    try:
        first, behind = place.rows()
        assert first.event_type == "ExpertProfile.ProfileUpdated"
        assert "NUL" in first.reason
        assert "behind a parked event" in behind.reason
        assert place.replay(None) == "0 applied, 1 still failing, 1 left behind them"
        assert place.drop(first.event_id) == 1  # the operator gives up on the bad one
        assert place.replay(None) == "1 applied, 0 still failing, 0 left behind them"
        assert place.rows() == []
    finally:
        place.close()
    assert search(settings, app, text="estate") == ["Ada"]


def test_the_directory_rebuilds_past_an_event_it_cannot_store(settings, app):
    listed_expert(app, "Ada", "Corporate tax planning.", 300)
    offering_with_nul(app, "Ada")
    listed_expert(app, "Bea", "Pension and tax questions.", 200)

    assert rebuild_directory(settings) == app.head()

    assert search(settings, app, text="tax", sort="rate_asc") == ["Bea", "Ada"]
    place = parking_place(settings)
    try:
        assert [row.event_type for row in place.rows()] == ["ExpertProfile.ProfileUpdated"]
    finally:
        place.close()
