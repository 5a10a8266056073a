"""Request and response bodies of the HTTP API, and their translation to and from protobuf.

Money travels as decimal strings ("3.00") and integer minor units (300); never as floats.
Request models forbid unknown fields, so a misspelt field is an error, not silently ignored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from contracts.billing.v1 import billing_pb2
from contracts.calls.v1 import calls_pb2
from contracts.events.v1 import calls_pb2 as call_events
from contracts.events.v1 import money_pb2
from contracts.profiles.v1 import profiles_pb2 as pb
from headstore.money import CURRENCIES, Currency, format_amount, parse_amount
from headstore.text import describe_character, forbidden_character, text_pattern

# -- what a field accepts ----------------------------------------------------------------------
# Each constraint is published in the OpenAPI document and enforced here, so that what the
# document calls valid is accepted and everything else is refused with a 422 naming the field.

AMOUNT_PATTERN = r"^[0-9]{1,4}(\.[0-9]{1,2})?$"
"""A decimal amount: ASCII digits, at most 9999.99, at most two decimals."""


def _text_check(multiline: bool, required: bool) -> Any:
    def check(value: str) -> str:
        char = forbidden_character(value, multiline=multiline)
        if char is not None:
            allowed = "; only line breaks and tabs are allowed" if multiline else ""
            raise PydanticCustomError(
                "invalid_characters",
                "contains the control character {character}{allowed}",
                {"character": describe_character(char), "allowed": allowed},
            )
        if required and not value.strip():
            raise PydanticCustomError("blank", "is required (white space alone is not enough)")
        return value

    return AfterValidator(check)


def text_field(
    max_length: int,
    *,
    required: bool = False,
    multiline: bool = False,
    description: str | None = None,
    examples: list[Any] | None = None,
) -> tuple[Any, ...]:
    """A text field under the platform's one rule (`headstore.text`): no control characters
    (line breaks and tabs allowed if `multiline`), at most `max_length` characters and, if
    `required`, something other than white space. Used as `Annotated[str, *text_field(...)]`."""
    return (
        Field(
            min_length=1 if required else None,
            max_length=max_length,
            description=description,
            examples=examples,
            json_schema_extra={"pattern": text_pattern(multiline=multiline, required=required)},
        ),
        _text_check(multiline, required),
    )


def _amount(value: str) -> str:
    if not re.fullmatch(AMOUNT_PATTERN, value):
        raise PydanticCustomError(
            "invalid_amount",
            "is not an amount like 3.50: digits 0-9, at most 9999.99, at most two decimals",
        )
    return value


Amount = Annotated[
    str,
    Field(
        description="A decimal amount as a string, digits 0-9 only, at most two decimals and "
        "at most 9999.99: '3', '3.5', '3.50'.",
        json_schema_extra={"pattern": AMOUNT_PATTERN},
        examples=["3.00"],
    ),
    AfterValidator(_amount),
]


def _digits(value: Any) -> Any:
    """Query parameters arrive as text: only ASCII digits make a number (not '²', ' 1', '1_0')."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value):
        raise PydanticCustomError("invalid_number", "must be a whole number in digits 0-9")
    return value


def _json_integer(value: Any) -> Any:
    """A JSON integer: 5 or 5.0 (JSON does not tell them apart), never "5", 5.5 or true."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("invalid_number", "must be a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("invalid_number", "must be a whole number")
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_json_integer)]
Flag = Annotated[bool, Field(strict=True)]
"""true or false; not "true", "yes" or 1, which the document does not allow."""


def whole_number(minimum: int, maximum: int, description: str) -> tuple[Any, ...]:
    """A whole-number query parameter within documented bounds: `Annotated[int,
    *whole_number(...)]`."""
    return (
        Query(ge=minimum, le=maximum, description=f"{description} ({minimum} to {maximum})."),
        BeforeValidator(_digits),
    )


Email = Annotated[
    str,
    Field(
        max_length=254,
        examples=["ada@example.com"],
        description="An e-mail address (profiles checks its form: 422 invalid_email).",
        json_schema_extra={"pattern": text_pattern(required=True)},
    ),
    _text_check(False, True),
]
Password = Annotated[str, Field(min_length=1, max_length=128, examples=["correct horse battery"])]
NewPassword = Annotated[
    str,
    Field(
        min_length=8,
        max_length=128,
        description="8 to 128 characters.",
        examples=["correct horse battery staple"],
    ),
]
Token = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        examples=["q0K8xW3ZbR8"],
        json_schema_extra={"pattern": text_pattern(required=True)},
    ),
    _text_check(False, True),
]
Id = Annotated[
    UUID,
    Field(
        description="An id as we return them.", examples=["4f1c2b8e-3d7a-4c1e-9b0f-2a6d5e8c7b91"]
    ),
]
"""Every id the platform hands out is a UUID; the services refuse anything else."""
SLUG_PATTERN = r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2}$"
REFERRAL_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$"


def _currency(value: Any) -> Any:
    """Refused with the services' own code, so clients see one code for one mistake."""
    if value not in CURRENCIES:
        raise PydanticCustomError(
            "unsupported_currency", "is not a currency we take: " + ", ".join(CURRENCIES)
        )
    return value


CurrencyCode = Annotated[
    Currency,
    Field(description="One of the currencies we take: " + ", ".join(CURRENCIES) + "."),
    BeforeValidator(_currency),
]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- accounts and sign-in ----------------------------------------------------------------------


class SignUp(RequestBody):
    email: Email
    password: NewPassword
    name: Annotated[str, *text_field(80, required=True, examples=["Ada Lovelace"])]


class AccountCreated(BaseModel):
    account_id: str = Field(examples=["4f1c2b8e-3d7a-4c1e-9b0f-2a6d5e8c7b91"])


class VerifyEmail(RequestBody):
    token: Token


class LogIn(RequestBody):
    email: Email
    password: Password


class RefreshTokens(RequestBody):
    refresh_token: Token


class LogOut(RequestBody):
    refresh_token: Token


class ChangePassword(RequestBody):
    current_password: Password
    new_password: NewPassword


class RequestPasswordReset(RequestBody):
    email: Email


class ResetPassword(RequestBody):
    token: Token
    new_password: NewPassword


class Accepted(BaseModel):
    message: str = Field(examples=["If the address has an account, a link is on its way."])


class Account(BaseModel):
    account_id: str = Field(examples=["4f1c2b8e-3d7a-4c1e-9b0f-2a6d5e8c7b91"])
    email: str = Field(examples=["ada@example.com"])
    name: str = Field(examples=["Ada Lovelace"])
    roles: list[str] = Field(examples=[["client"]])
    email_verified: bool
    payout_active: bool = Field(
        default=False,
        description='Whether payout is active; until it is, apps show "Activate payout".',
    )

    @classmethod
    def from_proto(cls, account: pb.Account) -> Account:
        return cls(
            account_id=account.account_id,
            email=account.email,
            name=account.name,
            roles=list(account.roles),
            email_verified=account.email_verified,
            payout_active=account.payout_active,
        )


class Tokens(BaseModel):
    access_token: str = Field(description="Send as 'Authorization: Bearer <access_token>'.")
    refresh_token: str = Field(description="Single use: /v1/auth/refresh returns a new pair.")
    token_type: Literal["bearer"] = "bearer"
    expires_in_seconds: int = Field(examples=[900])
    account: Account | None

    @classmethod
    def from_proto(cls, tokens: pb.TokensResponse) -> Tokens:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in_seconds=tokens.expires_in_seconds,
            account=Account.from_proto(tokens.account) if tokens.HasField("account") else None,
        )


class GrantRole(RequestBody):
    role: Literal["client", "expert", "ambassador", "trustee", "admin"] = Field(
        examples=["trustee"]
    )


# -- becoming an expert ------------------------------------------------------------------------


class Question(BaseModel):
    question_id: str = Field(examples=["expertise"])
    text: str = Field(examples=["What is your area of expertise, and for how long?"])


class Assessment(BaseModel):
    questions: list[Question]
    approvals_needed: int = Field(examples=[2])

    @classmethod
    def from_proto(cls, assessment: pb.Assessment) -> Assessment:
        return cls(
            questions=[
                Question(question_id=q.question_id, text=q.text) for q in assessment.questions
            ],
            approvals_needed=assessment.approvals_needed,
        )


class AnswerIn(RequestBody):
    question_id: Annotated[str, *text_field(100, required=True, examples=["expertise"])]
    answer: Annotated[
        str,
        *text_field(
            2000, required=True, multiline=True, examples=["Tax law for start-ups, twelve years."]
        ),
    ]


class Answer(BaseModel):
    question_id: str
    answer: str


class ApplyAsExpert(RequestBody):
    """The application is the caller's, with their account's (verified) e-mail address."""

    name: Annotated[str, *text_field(80, required=True, examples=["Grace Hopper"])]
    answers: list[AnswerIn] = Field(
        max_length=50, description="One answer to each question of the assessment."
    )
    referral_code: str | None = Field(
        default=None,
        max_length=40,
        pattern=REFERRAL_CODE_PATTERN,
        description="An ambassador's referral code, if any: 3 to 40 letters, digits, - or _, "
        "in any case.",
        examples=["HS-K3JX7QPA"],
    )

    def to_proto(self, applicant_id: str) -> pb.ApplyAsExpertRequest:
        return pb.ApplyAsExpertRequest(
            applicant_id=applicant_id,
            name=self.name,
            answers=[pb.Answer(question_id=a.question_id, answer=a.answer) for a in self.answers],
            referral_code=self.referral_code or "",
        )


class ApplicationCreated(BaseModel):
    application_id: str = Field(examples=["0b9e6a3c-5f7d-4e21-8a4b-3c2d1e0f9a87"])


class Review(BaseModel):
    trustee_id: str
    approved: bool
    comment: str


class Application(BaseModel):
    application_id: str
    email: str
    name: str
    answers: list[Answer]
    status: str = Field(examples=["pending"])
    reviews: list[Review]
    applied_at: datetime | None

    @classmethod
    def from_proto(cls, application: pb.Application) -> Application:
        applied_at = (
            application.applied_at.ToDatetime(tzinfo=UTC)
            if application.HasField("applied_at")
            else None
        )
        return cls(
            application_id=application.application_id,
            email=application.email,
            name=application.name,
            answers=[
                Answer(question_id=a.question_id, answer=a.answer) for a in application.answers
            ],
            status=application.status,
            reviews=[
                Review(trustee_id=r.trustee_id, approved=r.approved, comment=r.comment)
                for r in application.reviews
            ],
            applied_at=applied_at,
        )


class Applications(BaseModel):
    applications: list[Application]


class ReviewApplication(RequestBody):
    approve: Flag
    comment: Annotated[
        str,
        *text_field(
            2000,
            multiline=True,
            description="Required to reject (422 comment_required without it).",
            examples=["Deep, current expertise."],
        ),
    ] = ""


class CompleteExpertSignup(RequestBody):
    signup_token: Token
    password: NewPassword


# -- categories --------------------------------------------------------------------------------


class Category(BaseModel):
    slug: str = Field(examples=["tax-law"])
    label: str = Field(examples=["Tax law"])


class AddCategory(RequestBody):
    slug: str = Field(
        min_length=1,
        max_length=40,
        pattern=SLUG_PATTERN,
        description="Letters, digits and single dashes (stored in lower case).",
        examples=["tax-law"],
    )
    label: Annotated[str, *text_field(60, required=True, examples=["Tax law"])]


class Categories(BaseModel):
    categories: list[Category]

    @classmethod
    def from_proto(cls, answer: pb.ListCategoriesResponse) -> Categories:
        return cls(categories=[Category(slug=c.slug, label=c.label) for c in answer.categories])


# -- expert profiles and the directory ---------------------------------------------------------


class Rate(BaseModel):
    """A rate per minute: the decimal amount for people, the minor units for programs."""

    currency: str = Field(examples=["USD"])
    amount: str = Field(examples=["3.00"])
    minor: int = Field(examples=[300])


FreeMinutes = Annotated[int, Field(ge=0, le=1000), BeforeValidator(_json_integer)]
"""Constraints before the validator: after it, pydantic could not publish them."""


class UpdateExpertProfile(RequestBody):
    """Only the fields present change; a list present in the body replaces the whole list."""

    name: Annotated[str, *text_field(80, required=True, examples=["Ada Lovelace"])] | None = None
    photo_url: (
        Annotated[
            str,
            *text_field(
                2000,
                description="An https:// address of the photo.",
                examples=["https://x.example/a.jpg"],
            ),
        ]
        | None
    ) = None
    job_title: Annotated[str, *text_field(80, examples=["Tax adviser"])] | None = None
    company: Annotated[str, *text_field(80, examples=["Lovelace & Co"])] | None = None
    offering: Annotated[str, *text_field(500, multiline=True)] | None = None
    description: Annotated[str, *text_field(500, multiline=True)] | None = None
    categories: (
        Annotated[
            list[Annotated[str, Field(max_length=40, pattern=SLUG_PATTERN)]],
            Field(
                min_length=1,
                max_length=5,
                description="1 to 5 slugs of our categories (GET /v1/categories).",
                examples=[["tax-law"]],
            ),
        ]
        | None
    ) = None
    tags: (
        Annotated[
            list[Annotated[str, *text_field(30, required=True)]],
            Field(max_length=10, description="At most 10 tags.", examples=[["vat", "start-ups"]]),
        ]
        | None
    ) = None
    languages: (
        Annotated[
            list[Annotated[str, Field(pattern=LANGUAGE_PATTERN)]],
            Field(
                min_length=1,
                max_length=10,
                description="1 to 10 two-letter language codes (ISO 639-1).",
                examples=[["en", "de"]],
            ),
        ]
        | None
    ) = None
    currency: CurrencyCode | None = None
    rate_per_minute: Amount | None = Field(
        default=None,
        description="The rate per minute; the platform allows 1.00 to 15.00 (the FAQ's range; "
        "profiles refuses others with 422 rate_out_of_bounds).",
    )
    free_minutes: FreeMinutes | None = Field(
        default=None,
        description="Initial free minutes; the platform allows 0 to 30 (profiles refuses "
        "others with 422 free_minutes_out_of_bounds).",
        examples=[5],
    )

    def to_proto(self, expert_id: str, rate_minor: int | None) -> pb.UpdateExpertProfileRequest:
        fields: dict[str, Any] = {"expert_id": expert_id}
        for name in ("name", "photo_url", "job_title", "company", "offering", "description"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = value
        for name in ("categories", "tags", "languages"):
            values = getattr(self, name)
            if values is not None:
                fields[name] = values
                fields[f"{name}_set"] = True
        if self.currency is not None:
            fields["currency"] = self.currency
        if rate_minor is not None:
            fields["rate_per_minute"] = rate_minor
        if self.free_minutes is not None:
            fields["free_minutes"] = self.free_minutes
        return pb.UpdateExpertProfileRequest(**fields)


class SetAvailability(RequestBody):
    online: Flag


class ExpertProfile(BaseModel):
    expert_id: str
    name: str = Field(examples=["Ada Lovelace"])
    photo_url: str
    job_title: str
    company: str
    offering: str
    description: str
    categories: list[str]
    tags: list[str]
    languages: list[str]
    rate_per_minute: Rate | None = Field(description="None until the expert sets a rate.")
    free_minutes: int
    availability: str = Field(examples=["online"], description="online, offline or busy")
    complete: bool = Field(description="Whether the profile is complete enough to be listed.")
    rating: ExpertRating | None = Field(
        default=None, description="Clients' ratings after sessions (on a single profile only)."
    )

    @classmethod
    def from_proto(cls, profile: pb.ExpertProfile) -> ExpertProfile:
        rate = None
        if profile.HasField("rate_per_minute") and profile.rate_per_minute.currency:
            money = profile.rate_per_minute
            rate = Rate(
                currency=money.currency,
                amount=format_amount(money.minor, money.currency),
                minor=money.minor,
            )
        return cls(
            expert_id=profile.expert_id,
            name=profile.name,
            photo_url=profile.photo_url,
            job_title=profile.job_title,
            company=profile.company,
            offering=profile.offering,
            description=profile.description,
            categories=list(profile.categories),
            tags=list(profile.tags),
            languages=list(profile.languages),
            rate_per_minute=rate,
            free_minutes=profile.free_minutes,
            availability=profile.availability,
            complete=profile.complete,
        )


class ExpertSearchResults(BaseModel):
    experts: list[ExpertProfile]
    total: int = Field(examples=[42])
    page: int = Field(examples=[1])
    page_size: int = Field(examples=[20])

    @classmethod
    def from_proto(cls, answer: pb.SearchExpertsResponse) -> ExpertSearchResults:
        return cls(
            experts=[ExpertProfile.from_proto(p) for p in answer.experts],
            total=answer.total,
            page=answer.page,
            page_size=answer.page_size,
        )


# -- operations --------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ComponentState(BaseModel):
    state: Literal["ready", "degraded", "not_ready"]
    detail: str = Field(examples=["2 events parked (headstore parked list profiles)"])


class Readiness(BaseModel):
    """`degraded`: the gateway serves, but a service it calls is not serving or a part of one
    has parked events (named in `services` and `components`)."""

    status: Literal["ready", "degraded"] = "ready"
    services: dict[str, str] = Field(examples=[{"profiles": "SERVING", "billing": "SERVING"}])
    components: dict[str, ComponentState] | None = Field(
        default=None,
        examples=[{"profiles.directory": {"state": "ready", "detail": ""}}],
        description="Each service's parts that can fail on their own: projections, parked "
        "events. Left out when no service lists any.",
    )


class ErrorBody(BaseModel):
    """Every error: a stable code, a message a person can act on, the field at fault."""

    code: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["email is required."])
    field: str | None = Field(examples=["email"])


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the errors a route can answer, all in the one error shape."""
    descriptions = {
        401: "No valid access token",
        403: "The caller lacks the role",
        404: "Not found",
        409: "Conflicts with the current state",
        422: "The request is not valid",
        429: "Too many attempts",
        503: "A service is not answering",
    }
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": descriptions.get(status, "Error")}
        for status in statuses
    }
    if 429 in responses:
        responses[429]["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return responses


# -- sessions, invite links, ratings (CallsService) --------------------------------------------

SessionModeName = Literal["voice", "video"]
LinkKind = Literal["paid", "free"]
SESSION_MODES: dict[SessionModeName, call_events.SessionMode] = {
    "voice": call_events.SESSION_MODE_VOICE,
    "video": call_events.SESSION_MODE_VIDEO,
}
MODE_NAMES: dict[int, SessionModeName] = {value: name for name, value in SESSION_MODES.items()}
LINK_KINDS: dict[int, LinkKind] = {
    call_events.INVITE_LINK_KIND_PAID: "paid",
    call_events.INVITE_LINK_KIND_FREE: "free",
}


class MoneyAmount(BaseModel):
    """An amount of money: the decimal amount for people, the minor units for programs."""

    currency: str = Field(examples=["USD"])
    amount: str = Field(examples=["90.00"])
    minor: int = Field(examples=[9000])

    @classmethod
    def from_proto(cls, money: money_pb2.Money) -> MoneyAmount:
        return cls(
            currency=money.currency,
            amount=format_amount(money.minor, money.currency),
            minor=money.minor,
        )


def _money(message: Any, name: str) -> MoneyAmount | None:
    """The Money field `name` of `message`, or None if the service left it out."""
    if not message.HasField(name) or not getattr(message, name).currency:
        return None
    return MoneyAmount.from_proto(getattr(message, name))


def _rate(session: calls_pb2.Session) -> Rate | None:
    money = _money(session, "rate_per_minute")
    return Rate(**money.model_dump()) if money is not None else None


def _time(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


class RequestSession(RequestBody):
    expert_id: Id
    mode: SessionModeName = Field(examples=["video"], description="voice or video")
    invite_token: Token | None = Field(
        default=None,
        description="The token of the expert's paid link or of a one-time free link, if any.",
    )
    spending_cap: Amount | None = Field(
        default=None,
        description="The most you will pay for this session, in the expert's currency "
        '("stop at 30.00"): the card is authorized for at most this, you are warned when 80% '
        "is spent, and the session ends before a minute would cross it. Without it the card "
        "is authorized for the 90-minute limit.",
        examples=["30.00"],
    )

    def to_proto(self, client_id: str) -> calls_pb2.RequestSessionRequest:
        return calls_pb2.RequestSessionRequest(
            client_id=client_id,
            expert_id=str(self.expert_id),
            mode=SESSION_MODES[self.mode],
            invite_token=self.invite_token or "",
            spending_cap_minor=(
                parse_amount(self.spending_cap, "spending_cap") if self.spending_cap else 0
            ),
        )


class AnswerSession(RequestBody):
    accept: Flag


class SwitchMode(RequestBody):
    mode: SessionModeName = Field(examples=["voice"], description="voice or video")


class RateSession(RequestBody):
    stars: Integer = Field(ge=1, le=5, examples=[5], description="1 to 5 stars")
    review: (
        Annotated[str, *text_field(1000, multiline=True, examples=["Clear and to the point."])]
        | None
    ) = None


class JoinDetails(BaseModel):
    """What this participant needs to join the session's room on the SFU."""

    janus_url: str = Field(examples=["wss://media.headstore.example/janus"])
    room_id: int = Field(examples=[1234567890])
    token: str = Field(
        examples=["4f1c2b8e3d7a4c1e9b0f2a6d5e8c7b91.client.9a0c41d27e5b8f36c2d1e0a4b7f9c358"],
        description="This participant's own credential: send it as `token` with every Janus "
        "API request and in the VideoRoom `join`. It tells the platform who is in the room; "
        "never share it.",
    )
    display: str = Field(
        examples=["client/4f1c2b8e-3d7a-4c1e-9b0f-2a6d5e8c7b91"],
        description="The name to show the other participant (it identifies nobody).",
    )


class Session(BaseModel):
    session_id: str
    client_id: str
    expert_id: str
    mode: SessionModeName | None = Field(examples=["video"])
    state: str = Field(
        examples=["requested"],
        description="requested, accepted, declined, ready (room open), live or ended",
    )
    rate_per_minute: Rate | None
    free_minutes: int = Field(examples=[5])
    free_session: bool = Field(description="A one-time free session: nothing is billed.")
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None = Field(examples=["client_hung_up"])
    max_minutes: int = Field(
        examples=[90], description="The session's limit: 90, or what the spending cap buys."
    )
    spending_cap: MoneyAmount | None = Field(
        description="The client's spending cap, when it sets the limit."
    )
    join: JoinDetails | None = Field(
        default=None,
        description="Only for a participant, and only once the room is open (ready or live); "
        "left out otherwise.",
    )

    @classmethod
    def from_proto(cls, session: calls_pb2.Session) -> Session:
        fields: dict[str, Any] = {
            "session_id": session.session_id,
            "client_id": session.client_id,
            "expert_id": session.expert_id,
            "mode": MODE_NAMES.get(session.mode),
            "state": session.state,
            "rate_per_minute": _rate(session),
            "free_minutes": session.free_minutes,
            "free_session": session.free_session,
            "started_at": _time(session, "started_at"),
            "ended_at": _time(session, "ended_at"),
            "end_reason": session.end_reason or None,
            "max_minutes": session.max_minutes,
            "spending_cap": _money(session, "spending_cap"),
        }
        if session.HasField("join"):
            join = session.join
            fields["join"] = JoinDetails(
                janus_url=join.janus_url,
                room_id=join.room_id,
                token=join.token,
                display=join.display,
            )
        return cls(**fields)


class Rating(BaseModel):
    session_id: str
    stars: int = Field(examples=[5])
    review: str

    @classmethod
    def from_proto(cls, rating: calls_pb2.Rating) -> Rating:
        return cls(session_id=rating.session_id, stars=rating.stars, review=rating.review)


class ExpertRating(BaseModel):
    count: int = Field(examples=[12], description="How many ratings the expert has.")
    average: str | None = Field(
        examples=["4.3"], description="Average stars with one decimal; null without ratings."
    )

    @classmethod
    def from_proto(cls, rating: calls_pb2.ExpertRating) -> ExpertRating:
        if rating.count <= 0:
            return cls(count=max(rating.count, 0), average=None)
        whole, tenth = divmod(rating.average_tenths, 10)
        return cls(count=rating.count, average=f"{whole}.{tenth}")


class InviteLink(BaseModel):
    link_id: str
    expert_id: str
    kind: LinkKind | None = Field(
        examples=["paid"],
        description="paid: the expert's permanent link; free: one whole free session, once.",
    )
    token: str
    redeemed: bool = Field(description="A free link that has been used; paid links never are.")
    url: str = Field(examples=["https://headstore.example/invite?token=q0K8xW3ZbR8"])

    @classmethod
    def from_proto(cls, link: calls_pb2.InviteLink, public_url: str) -> InviteLink:
        return cls(
            link_id=link.link_id,
            expert_id=link.expert_id,
            kind=LINK_KINDS.get(link.kind),
            token=link.token,
            redeemed=link.redeemed,
            url=f"{public_url.rstrip('/')}/invite?token={link.token}",
        )


# -- cards and bills (BillingService) ----------------------------------------------------------


class SetupIntent(BaseModel):
    """Confirm it with Stripe.js or the app's SDK, then save the card with PUT /v1/me/card."""

    setup_intent_id: str = Field(examples=["seti_1NXWPnC2eZvKYlo2"])
    client_secret: str = Field(examples=["seti_1NXWPnC2eZvKYlo2_secret_…"])
    customer_id: str = Field(examples=["cus_NffrFeUfNV2Hib"])

    @classmethod
    def from_proto(cls, intent: billing_pb2.SetupIntent) -> SetupIntent:
        return cls(
            setup_intent_id=intent.setup_intent_id,
            client_secret=intent.client_secret,
            customer_id=intent.customer_id,
        )


class SaveCard(RequestBody):
    payment_method_id: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_]+$",
        description="Stripe's id of the confirmed PaymentMethod.",
        examples=["pm_1NXWPnC2eZvKYlo2CkAb0Hcd"],
    )


class Card(BaseModel):
    brand: str = Field(examples=["visa"])
    last4: str = Field(examples=["4242"])
    country: str = Field(examples=["US"])
    exp_month: int = Field(examples=[12])
    exp_year: int = Field(examples=[2030])

    @classmethod
    def from_proto(cls, card: billing_pb2.Card) -> Card:
        return cls(
            brand=card.brand,
            last4=card.last4,
            country=card.country,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )


class SessionBill(BaseModel):
    session_id: str
    billed_minutes: int = Field(examples=[30])
    cost_so_far: MoneyAmount | None = Field(description="What the client pays so far.")
    earnings_so_far: MoneyAmount | None = Field(
        description="What the expert earns so far (the cost less 10% commission)."
    )
    state: str = Field(examples=["open"], description="open, closing or charged")
    total: MoneyAmount | None = Field(description="The amount charged, once the bill is charged.")

    @classmethod
    def from_proto(cls, bill: billing_pb2.SessionBill) -> SessionBill:
        return cls(
            session_id=bill.session_id,
            billed_minutes=bill.billed_minutes,
            cost_so_far=_money(bill, "cost_so_far"),
            earnings_so_far=_money(bill, "earnings_so_far"),
            state=bill.state,
            total=_money(bill, "total"),
        )


class RefundReason(RequestBody):
    reason: Annotated[
        str,
        *text_field(
            1000,
            multiline=True,
            required=True,
            examples=["The connection dropped every few minutes."],
        ),
    ]


class Refund(BaseModel):
    session_id: str
    state: str = Field(
        examples=["requested"],
        description="requested, granted (being refunded through Stripe), refunded or refused",
    )
    amount: MoneyAmount | None = Field(description="The whole charge, given back if granted.")
    reason: str = Field(description="Why the client asked.")
    refusal_reason: str | None = Field(description="Why an admin refused it, if refused.")
    granted_by: str | None = Field(examples=["expert"], description="expert or admin, once granted")

    @classmethod
    def from_proto(cls, refund: billing_pb2.Refund) -> Refund:
        return cls(
            session_id=refund.session_id,
            state=refund.state,
            amount=_money(refund, "amount"),
            reason=refund.reason,
            refusal_reason=refund.refusal_reason or None,
            granted_by=refund.granted_by_role or None,
        )


class WebhookReceived(BaseModel):
    received: Literal[True] = True


ExpertProfile.model_rebuild()  # its rating is defined further down
