"""`CategoryList`: the one managed list of categories experts choose from."""

from __future__ import annotations

import re
from typing import Any

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, InvalidInput
from headstore.text import check_text

CATEGORY_LIST_ID = stable_id("categories")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 40
MAX_LABEL_LENGTH = 60


def check_slug(slug: str) -> str:
    value = slug.strip().lower() if isinstance(slug, str) else ""
    if len(value) > MAX_SLUG_LENGTH or not _SLUG_RE.match(value):
        raise InvalidInput(
            "invalid_slug",
            f"{slug!r} is not a slug: use 1–{MAX_SLUG_LENGTH} lower-case letters, digits and "
            "single dashes, like personal-finance.",
            "slug",
        )
    return value


class CategoryList(Aggregate):
    """The managed list of expert categories; one aggregate with the id CATEGORY_LIST_ID."""

    class Created(Aggregate.Created):
        def apply(self, category_list: CategoryList) -> None:
            category_list.categories = {}

    class CategoryAdded(Aggregate.Event):
        """Adds a category, or brings back a retired one under this label."""

        slug: str
        label: str

        def apply(self, category_list: CategoryList) -> None:
            category_list.categories[self.slug] = {"label": self.label, "retired": False}

    class CategoryRenamed(Aggregate.Event):
        slug: str
        label: str

        def apply(self, category_list: CategoryList) -> None:
            category_list.categories[self.slug]["label"] = self.label

    class CategoryRetired(Aggregate.Event):
        slug: str

        def apply(self, category_list: CategoryList) -> None:
            category_list.categories[self.slug]["retired"] = True

    def __init__(self) -> None:
        self.categories: dict[str, dict[str, Any]] = {}
        """slug → {"label": str, "retired": bool}, in the order they were added."""

    @classmethod
    def create(cls) -> CategoryList:
        return cls._create(cls.Created, id=CATEGORY_LIST_ID)

    # -- queries ----------------------------------------------------------------------------

    @property
    def active_slugs(self) -> list[str]:
        """What ExpertProfile.update takes as allowed_categories."""
        return [slug for slug, entry in self.categories.items() if not entry["retired"]]

    def label_of(self, slug: str) -> str | None:
        entry = self.categories.get(slug)
        return entry["label"] if entry else None

    # -- commands ---------------------------------------------------------------------------

    def add(self, slug: str, label: str) -> None:
        value = check_slug(slug)
        text = self._check_label(label, value)
        entry = self.categories.get(value)
        if entry is not None and not entry["retired"]:
            raise Conflict("category_exists", f"Category {value!r} already exists.", "slug")
        self.trigger_event(self.CategoryAdded, slug=value, label=text)

    def rename(self, slug: str, label: str) -> None:
        value = self._check_active(slug)
        text = self._check_label(label, value)
        if text == self.categories[value]["label"]:
            return
        self.trigger_event(self.CategoryRenamed, slug=value, label=text)

    def retire(self, slug: str) -> None:
        """Profiles keep a retired category until they are next edited; it is no longer offered."""
        value = self._check_active(slug)
        self.trigger_event(self.CategoryRetired, slug=value)

    def _check_active(self, slug: str) -> str:
        value = check_slug(slug)
        entry = self.categories.get(value)
        if entry is None or entry["retired"]:
            raise InvalidInput("unknown_category", f"There is no category {value!r}.", "slug")
        return value

    def _check_label(self, label: str, slug: str) -> str:
        text = check_text(label, "label", MAX_LABEL_LENGTH, min_length=1)
        for other, entry in self.categories.items():
            if other != slug and not entry["retired"] and entry["label"].lower() == text.lower():
                raise Conflict(
                    "category_label_taken",
                    f"Category {other!r} is already called {text!r}.",
                    "label",
                )
        return text
