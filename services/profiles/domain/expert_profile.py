"""`ExpertProfile`: what clients see of an expert (name, offering, categories, languages,
rate and free minutes) and whether the expert is online.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from headstore.contact_details import check_no_contact_details
from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput, PreconditionFailed
from headstore.money import check_currency, format_amount, format_money
from headstore.text import check_characters
from services.profiles.domain.values import MAX_NAME_LENGTH, check_public_text

_ISO_639_1_TEXT = """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
    """
ISO_639_1 = frozenset(_ISO_639_1_TEXT.split())
"""Two-letter language codes (ISO 639-1)."""

ONLINE = "online"
OFFLINE = "offline"
BUSY = "busy"
AVAILABILITIES = (ONLINE, OFFLINE, BUSY)

MIN_RATE_MINOR = 100
"""1.00 per minute: the FAQ's lower end."""
MAX_RATE_MINOR = 1500
"""15.00 per minute: the FAQ's upper end."""
MAX_FREE_MINUTES = 30
MAX_CATEGORIES = 5
MAX_TAGS = 10
MAX_TAG_LENGTH = 30
MAX_LANGUAGES = 10
MAX_OFFERING_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 500


MAX_JOB_TITLE_LENGTH = 80
MAX_COMPANY_LENGTH = 80
MAX_PHOTO_URL_LENGTH = 2000


def check_photo_url(photo_url: str | None) -> str | None:
    """An https address, without contact details hidden in it.

    The photo's address is a web address by nature, so its host is allowed: refusing every
    host would refuse every photo. What is refused is what turns it into a way around
    Headstore: http (the browser would warn, and it invites self-hosting), a user name before
    the host (`https://bob@…`), a messenger link (`https://t.me/…`), and an e-mail address,
    web address, messenger handle or international phone number in its path or query
    (`https://cdn.example.com/call-me-+44-20-7946-0958.jpg`). A host that is itself the
    expert's own domain remains possible until photos are uploaded to Headstore."""
    if photo_url is None or not photo_url.strip():
        return None
    url = check_characters(photo_url, "photo_url", label="The photo address").strip()
    parts = urlsplit(url)
    if (
        len(url) > MAX_PHOTO_URL_LENGTH
        or parts.scheme.lower() != "https"
        or not parts.hostname
        or any(char.isspace() for char in url)
    ):
        raise InvalidInput(
            "invalid_photo_url",
            "The photo must be a web address starting with https://.",
            "photo_url",
        )
    return check_no_contact_details(url, "photo_url", "The photo's address", address=True)


def check_categories(categories: Sequence[str], allowed: Collection[str]) -> list[str]:
    chosen = _unique(category.strip().lower() for category in categories)
    if not chosen:
        raise InvalidInput("categories_required", "Choose at least one category.", "categories")
    if len(chosen) > MAX_CATEGORIES:
        raise InvalidInput(
            "too_many_categories", f"Choose at most {MAX_CATEGORIES} categories.", "categories"
        )
    unknown = [category for category in chosen if category not in allowed]
    if unknown:
        raise InvalidInput(
            "unknown_category",
            f"{', '.join(repr(c) for c in unknown)} is not one of our categories.",
            "categories",
        )
    return chosen


def check_tags(tags: Sequence[str]) -> list[str]:
    chosen = _unique(
        " ".join(check_characters(tag, "tags", label="A tag").split()).lower() for tag in tags
    )
    for tag in chosen:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(
                "invalid_tag", f"A tag has 1–{MAX_TAG_LENGTH} characters: {tag!r}.", "tags"
            )
        check_no_contact_details(tag, "tags", f"The tag {tag!r}")
    if len(chosen) > MAX_TAGS:
        raise InvalidInput("too_many_tags", f"Add at most {MAX_TAGS} tags.", "tags")
    return chosen


def check_languages(languages: Sequence[str]) -> list[str]:
    chosen = _unique(language.strip().lower() for language in languages)
    if not chosen:
        raise InvalidInput("languages_required", "Choose at least one language.", "languages")
    if len(chosen) > MAX_LANGUAGES:
        raise InvalidInput(
            "too_many_languages", f"Choose at most {MAX_LANGUAGES} languages.", "languages"
        )
    unknown = [language for language in chosen if language not in ISO_639_1]
    if unknown:
        raise InvalidInput(
            "unknown_language",
            f"{', '.join(repr(code) for code in unknown)} is not a two-letter language code "
            "(ISO 639-1) like en or de.",
            "languages",
        )
    return chosen


def check_rate(
    currency: str,
    rate_minor: int,
    free_minutes: int,
    *,
    min_rate_minor: int = MIN_RATE_MINOR,
    max_rate_minor: int = MAX_RATE_MINOR,
    max_free_minutes: int = MAX_FREE_MINUTES,
) -> tuple[str, int, int]:
    code = check_currency(currency) if isinstance(currency, str) else check_currency("")
    if isinstance(rate_minor, bool) or not isinstance(rate_minor, int):
        raise InvalidInput("invalid_rate", "The rate is a whole number of cents.", "rate_minor")
    if not min_rate_minor <= rate_minor <= max_rate_minor:
        raise InvalidInput(
            "rate_out_of_bounds",
            f"The rate per minute must be between {format_amount(min_rate_minor, code)} and "
            f"{format_money(max_rate_minor, code)}.",
            "rate_minor",
        )
    if (
        isinstance(free_minutes, bool)
        or not isinstance(free_minutes, int)
        or not 0 <= free_minutes <= max_free_minutes
    ):
        raise InvalidInput(
            "free_minutes_out_of_bounds",
            f"Initial free minutes must be a whole number from 0 to {max_free_minutes}.",
            "free_minutes",
        )
    return code, rate_minor, free_minutes


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


DESCRIPTIVE_FIELDS = (
    "name",
    "photo_url",
    "job_title",
    "company",
    "offering",
    "description",
    "categories",
    "tags",
    "languages",
)
"""What the "Edit profile" form sets (ProfileUpdated carries them all); rate and currency are
apart (RateChanged)."""


def profile_id(account_id: UUID) -> UUID:
    """The id of the expert profile of the account `account_id`."""
    return stable_id("expert-profile", account_id)


class ExpertProfile(Aggregate):
    """An expert's public profile; its id is the expert's account id."""

    class ProfileCreated(Aggregate.Created):
        account_id: UUID
        name: str

        def apply(self, profile: ExpertProfile) -> None:
            profile.account_id = self.account_id
            profile.name = self.name

    class ProfileUpdated(Aggregate.Event):
        photo_url: str | None
        name: str
        job_title: str
        company: str
        offering: str
        description: str
        categories: list[str]
        tags: list[str]
        languages: list[str]

        def apply(self, profile: ExpertProfile) -> None:
            profile.photo_url = self.photo_url
            profile.name = self.name
            profile.job_title = self.job_title
            profile.company = self.company
            profile.offering = self.offering
            profile.description = self.description
            profile.categories = list(self.categories)
            profile.tags = list(self.tags)
            profile.languages = list(self.languages)

    class RateChanged(Aggregate.Event):
        currency: str
        rate_minor: int
        free_minutes: int

        def apply(self, profile: ExpertProfile) -> None:
            profile.currency = self.currency
            profile.rate_minor = self.rate_minor
            profile.free_minutes = self.free_minutes

    class AvailabilityChanged(Aggregate.Event):
        availability: str

        def apply(self, profile: ExpertProfile) -> None:
            profile.availability = self.availability

    def __init__(self) -> None:
        self.account_id: UUID | None = None
        self.photo_url: str | None = None
        self.name = ""
        self.job_title = ""
        self.company = ""
        self.offering = ""
        self.description = ""
        self.categories: list[str] = []
        self.tags: list[str] = []
        self.languages: list[str] = []
        self.currency: str | None = None
        self.rate_minor: int | None = None
        self.free_minutes = 0
        self.availability = OFFLINE

    @classmethod
    def create(cls, account_id: UUID, name: str) -> ExpertProfile:
        """An empty, offline profile for the expert with this account id. Its own id is
        derived from the account's (`profile_id`): aggregates in one store need distinct ids."""
        return cls._create(
            cls.ProfileCreated,
            id=profile_id(account_id),
            account_id=account_id,
            name=check_public_text(name, "name", MAX_NAME_LENGTH, min_length=1),
        )

    # -- queries ----------------------------------------------------------------------------

    @property
    def missing_for_listing(self) -> list[str]:
        """What must still be filled in before the profile is complete (listable)."""
        missing = []
        for field, present in (
            ("name", self.name),
            ("offering", self.offering),
            ("categories", self.categories),
            ("languages", self.languages),
            ("currency", self.currency),
            ("rate_minor", self.rate_minor),
        ):
            if not present:
                missing.append(field)
        return missing

    @property
    def is_complete(self) -> bool:
        return not self.missing_for_listing

    # -- editing ----------------------------------------------------------------------------

    def update(
        self,
        *,
        name: str,
        offering: str,
        categories: Sequence[str],
        languages: Sequence[str],
        allowed_categories: Collection[str],
        photo_url: str | None = None,
        job_title: str = "",
        company: str = "",
        description: str = "",
        tags: Sequence[str] = (),
    ) -> bool:
        """Replace every descriptive field (the "Edit profile" form). `allowed_categories` are
        the slugs of the active categories. Emits ProfileUpdated only if something changed;
        returns whether it did."""
        fields = self._checked_fields(
            photo_url=photo_url,
            name=name,
            job_title=job_title,
            company=company,
            offering=offering,
            description=description,
            categories=categories,
            tags=tags,
            languages=languages,
            allowed_categories=allowed_categories,
        )
        if all(getattr(self, key) == value for key, value in fields.items()):
            return False
        if self.availability != OFFLINE and not fields["offering"]:
            raise PreconditionFailed(
                "profile_incomplete",
                "An online profile needs an offering; go offline before removing it.",
                "offering",
            )
        self.trigger_event(self.ProfileUpdated, **fields)
        return True

    def change_rate(
        self,
        currency: str,
        rate_minor: int,
        free_minutes: int = 0,
        *,
        min_rate_minor: int = MIN_RATE_MINOR,
        max_rate_minor: int = MAX_RATE_MINOR,
        max_free_minutes: int = MAX_FREE_MINUTES,
    ) -> bool:
        """Set currency, rate per minute (minor units) and initial free minutes. Emits
        RateChanged only if one of them changed; returns whether it did."""
        code, rate, free = check_rate(
            currency,
            rate_minor,
            free_minutes,
            min_rate_minor=min_rate_minor,
            max_rate_minor=max_rate_minor,
            max_free_minutes=max_free_minutes,
        )
        if (code, rate, free) == (self.currency, self.rate_minor, self.free_minutes):
            return False
        self.trigger_event(self.RateChanged, currency=code, rate_minor=rate, free_minutes=free)
        return True

    def _checked_fields(
        self,
        *,
        photo_url: str | None,
        name: str,
        job_title: str,
        company: str,
        offering: str,
        description: str,
        categories: Sequence[str],
        tags: Sequence[str],
        languages: Sequence[str],
        allowed_categories: Collection[str],
    ) -> dict[str, Any]:
        return {
            "photo_url": check_photo_url(photo_url),
            "name": check_public_text(name, "name", MAX_NAME_LENGTH, min_length=1),
            "job_title": check_public_text(job_title, "job_title", MAX_JOB_TITLE_LENGTH),
            "company": check_public_text(company, "company", MAX_COMPANY_LENGTH),
            "offering": check_public_text(
                offering, "offering", MAX_OFFERING_LENGTH, multiline=True
            ),
            "description": check_public_text(
                description, "description", MAX_DESCRIPTION_LENGTH, multiline=True
            ),
            "categories": check_categories(categories, allowed_categories),
            "tags": check_tags(tags),
            "languages": check_languages(languages),
        }

    # -- availability -----------------------------------------------------------------------

    def go_online(self) -> None:
        """Needs a complete profile. Already online, or busy in a session: nothing changes."""
        if self.availability in (ONLINE, BUSY):
            return
        missing = self.missing_for_listing
        if missing:
            raise PreconditionFailed(
                "profile_incomplete",
                f"Complete your profile before going online; missing: {', '.join(missing)}.",
                missing[0],
            )
        self.trigger_event(self.AvailabilityChanged, availability=ONLINE)

    def go_offline(self) -> None:
        """Always allowed, even during a session. Already offline: nothing changes."""
        if self.availability == OFFLINE:
            return
        self.trigger_event(self.AvailabilityChanged, availability=OFFLINE)

    def set_availability(self, availability: str) -> None:
        """What the expert chooses: "online" or "offline". "busy" comes only from sessions."""
        choice = availability.strip().lower() if isinstance(availability, str) else ""
        if choice == ONLINE:
            self.go_online()
        elif choice == OFFLINE:
            self.go_offline()
        else:
            raise InvalidInput(
                "invalid_availability",
                "Availability is online or offline; busy is set while you are in a session.",
                "availability",
            )

    def mark_busy(self) -> None:
        """A session started. Already busy: nothing changes."""
        if self.availability == BUSY:
            return
        if self.availability != ONLINE:
            raise PreconditionFailed(
                "expert_offline", "An offline expert cannot take a session.", "availability"
            )
        self.trigger_event(self.AvailabilityChanged, availability=BUSY)

    def mark_free(self) -> None:
        """A session ended: back online, unless the expert went offline meanwhile."""
        if self.availability != BUSY:
            return
        self.trigger_event(self.AvailabilityChanged, availability=ONLINE)
