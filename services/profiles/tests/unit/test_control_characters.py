"""Text with control characters is refused by every profiles aggregate that takes text, with
`invalid_characters` and the field, and nothing changes. A NUL saved in an offering once took
the directory down: PostgreSQL cannot store it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from headstore.errors import InvalidInput
from services.profiles.directory import SearchQuery
from services.profiles.domain import Account, CategoryList, ExpertApplication, ExpertProfile
from services.profiles.tests.unit.test_domain import form as profile_form

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CATEGORIES = ["finance", "law"]
QUESTIONS = ["expertise"]

CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u2066"]
"""NUL, BEL, ESC, DEL, NEL (C1), line and paragraph separators, RLO, LRI."""


def refused(field: str, action: Any, *args: Any, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        action(*args, **kwargs)
    assert (caught.value.code, caught.value.field) == ("invalid_characters", field)
    assert "U+" in caught.value.message
    return caught.value


def saved_profile() -> ExpertProfile:
    profile = ExpertProfile.create(uuid4(), "Ann")
    profile.update(**profile_form(tags=["tax"]))
    profile.collect_events()
    return profile


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ann{c}Lee"),
        ("job_title", "Tax{c}adviser"),
        ("company", "Lee{c}Co"),
        ("offering", "Tax advice{c}"),
        ("description", "Twenty{c} years"),
        ("photo_url", "https://cdn.example.com/a{c}.jpg"),
    ],
)
def test_profile_text_with_a_control_character_is_refused_and_changes_nothing(
    char: str, field: str, value: str
) -> None:
    profile = saved_profile()
    before = dict(vars(profile))
    refused(field, profile.update, **profile_form(**{field: value.format(c=char)}))
    assert vars(profile) == before
    assert profile.collect_events() == []


def test_a_tag_with_a_control_character_is_refused() -> None:
    profile = saved_profile()
    refused("tags", profile.update, **profile_form(tags=["tax", "v\x00at"]))
    assert profile.tags == ["tax"] and profile.collect_events() == []


def test_multi_line_fields_keep_line_breaks_and_tabs() -> None:
    profile = saved_profile()
    profile.update(**profile_form(offering="Tax advice:\r\n\t- freelancers\n- start-ups"))
    assert profile.offering == "Tax advice:\r\n\t- freelancers\n- start-ups"


def test_single_line_fields_refuse_line_breaks() -> None:
    refused("job_title", saved_profile().update, **profile_form(job_title="Tax\nadviser"))


def test_a_new_profile_name_with_a_control_character_is_refused() -> None:
    refused("name", ExpertProfile.create, uuid4(), "Ann\x00")


def test_a_display_name_with_a_control_character_is_refused() -> None:
    refused("name", Account.register, "ann@example.com", "Ann\x00", "argon2-hash")


def test_an_application_with_a_control_character_is_refused() -> None:
    answers = [{"question_id": "expertise", "answer": "Tax law\x00"}]
    refused(
        "answers",
        ExpertApplication.submit,
        email="ann@example.com",
        name="Ann",
        answers=answers,
        questions=QUESTIONS,
    )
    good = [{"question_id": "expertise", "answer": "Tax law"}]
    refused(
        "name",
        ExpertApplication.submit,
        email="ann@example.com",
        name="\u202eAnn",
        answers=good,
        questions=QUESTIONS,
    )


def test_a_review_comment_with_a_control_character_is_refused() -> None:
    application = ExpertApplication.submit(
        email="ann@example.com",
        name="Ann",
        answers=[{"question_id": "expertise", "answer": "Tax law"}],
        questions=QUESTIONS,
    )
    application.collect_events()
    refused(
        "comment",
        application.review,
        uuid4(),
        False,
        "No\x00",
        now=NOW,
        signup_token_digest=hashlib.sha256(b"t").hexdigest(),
    )
    assert application.reviews == [] and application.collect_events() == []


def test_a_category_label_with_a_control_character_is_refused() -> None:
    categories = CategoryList.create()
    categories.collect_events()
    refused("label", categories.add, "tax-law", "Tax\x00law")
    assert categories.categories == {} and categories.collect_events() == []


@pytest.mark.parametrize(
    ("field", "query"),
    [
        ("q", SearchQuery(text="tax\x00")),
        ("category", SearchQuery(category="law\x00")),
        ("tag", SearchQuery(tag="v\x00at")),
        ("language", SearchQuery(language="e\x00n")),
        ("currency", SearchQuery(currency="US\x00")),
    ],
)
def test_a_search_with_a_control_character_is_refused(field: str, query: SearchQuery) -> None:
    refused(field, query.checked)
