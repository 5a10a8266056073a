"""The expert directory is a projection: dropped, it is rebuilt from the events alone."""

from __future__ import annotations

import pytest

from headstore.cli import migrate
from headstore.registry import SERVICES
from headstore.store import drop_database
from services.profiles.application import ProfilesApplication, ProfilesConfig
from services.profiles.directory import SearchQuery, rebuild_directory, start_directory
from services.profiles.domain import ExpertProfile

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
