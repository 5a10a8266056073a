"""`ExpertApplication`: an applicant's answers, the trustees' reviews until a quorum decides,
and the mailed signup link of an accepted expert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from headstore.contact_details import check_no_contact_details
from headstore.domain import Aggregate
from headstore.errors import Conflict, Forbidden, InvalidInput, PreconditionFailed
from headstore.text import check_characters, check_text
from services.profiles.domain.values import (
    MAX_NAME_LENGTH,
    check_aware,
    check_email,
    check_link,
    check_new_link,
    check_public_text,
    check_referral_code,
    check_token_digest,
    normalise_email,
)

DEFAULT_QUORUM = 2
SIGNUP_LINK_LIFETIME = timedelta(days=14)
MAX_ANSWER_LENGTH = 2000
MAX_COMMENT_LENGTH = 2000


UNDER_REVIEW = "under_review"
ACCEPTED = "accepted"
REJECTED = "rejected"


def check_answers(
    answers: Sequence[dict[str, str]], questions: Sequence[str]
) -> list[dict[str, str]]:
    """One answer of 1–2000 characters to every configured question, in the questions' order."""
    by_question: dict[str, str] = {}
    for item in answers:
        question_id = str(item.get("question_id", "")).strip()
        if question_id not in questions:
            raise InvalidInput(
                "unknown_question", f"There is no question {question_id!r}.", "answers"
            )
        if question_id in by_question:
            raise InvalidInput(
                "duplicate_answer", f"Question {question_id!r} is answered twice.", "answers"
            )
        answer = item.get("answer", "")
        text = answer.strip() if isinstance(answer, str) else ""
        check_characters(text, "answers", multiline=True, label=f"The answer to {question_id!r}")
        if not text:
            raise InvalidInput(
                "answer_required", f"Please answer question {question_id!r}.", "answers"
            )
        if len(text) > MAX_ANSWER_LENGTH:
            raise InvalidInput(
                "answer_too_long",
                f"The answer to question {question_id!r} can be at most {MAX_ANSWER_LENGTH} "
                f"characters; it has {len(text)}.",
                "answers",
            )
        by_question[question_id] = check_no_contact_details(
            text, "answers", f"The answer to question {question_id!r}"
        )
    missing = [question for question in questions if question not in by_question]
    if missing:
        raise InvalidInput(
            "answer_required",
            f"Please answer every question; missing: {', '.join(missing)}.",
            "answers",
        )
    return [{"question_id": question, "answer": by_question[question]} for question in questions]


class ExpertApplication(Aggregate):
    """The online assessment someone takes to become an expert, reviewed by trustees."""

    class Applied(Aggregate.Created):
        email: str
        name: str
        answers: list[dict[str, str]]
        referral_code: str | None
        applicant_id: UUID | None = None
        """The account that applied (its address is `email`); None in events stored before
        applying needed an account."""

        def apply(self, application: ExpertApplication) -> None:
            application.email = self.email
            application.name = self.name
            application.answers = [dict(answer) for answer in self.answers]
            application.referral_code = self.referral_code
            application.applicant_id = self.applicant_id

    class Reviewed(Aggregate.Event):
        trustee_id: UUID
        approve: bool
        comment: str

        def apply(self, application: ExpertApplication) -> None:
            application.reviews = [
                *application.reviews,
                {"trustee_id": self.trustee_id, "approve": self.approve, "comment": self.comment},
            ]

    class Accepted(Aggregate.Event):
        signup_token_digest: str
        expires_at: datetime
        sealed_signup_token: str = ""
        """The token sealed for notifications (headstore.links); "" in events stored before."""

        def apply(self, application: ExpertApplication) -> None:
            application.status = ACCEPTED
            application.signup_token = {
                "digest": self.signup_token_digest,
                "expires_at": self.expires_at,
            }

    class Rejected(Aggregate.Event):
        def apply(self, application: ExpertApplication) -> None:
            application.status = REJECTED

    class SignupLinkReissued(Aggregate.Event):
        signup_token_digest: str
        expires_at: datetime
        sealed_signup_token: str = ""

        def apply(self, application: ExpertApplication) -> None:
            application.spent_signup_tokens[application.signup_token["digest"]] = "superseded"
            application.signup_token = {
                "digest": self.signup_token_digest,
                "expires_at": self.expires_at,
            }

    class SignupRedeemed(Aggregate.Event):
        account_id: UUID

        def apply(self, application: ExpertApplication) -> None:
            application.account_id = self.account_id
            application.spent_signup_tokens[application.signup_token["digest"]] = "used"

    def __init__(self) -> None:
        self.email = ""
        self.name = ""
        self.answers: list[dict[str, str]] = []
        self.referral_code: str | None = None
        self.applicant_id: UUID | None = None
        self.reviews: list[dict[str, Any]] = []
        self.status = UNDER_REVIEW
        self.signup_token: dict[str, Any] = {}
        self.spent_signup_tokens: dict[str, str] = {}
        self.account_id: UUID | None = None

    @classmethod
    def submit(
        cls,
        *,
        email: str,
        name: str,
        answers: Sequence[dict[str, str]],
        questions: Sequence[str],
        referral_code: str | None = None,
        application_id: UUID | None = None,
        applicant_id: UUID | None = None,
    ) -> ExpertApplication:
        """`questions` are the ids of the configured assessment questions; `applicant_id` is
        the account applying, whose verified address `email` is (the application checks)."""
        return cls._create(
            cls.Applied,
            id=application_id or uuid4(),
            email=check_email(email),
            name=check_public_text(name, "name", MAX_NAME_LENGTH, min_length=1),
            answers=check_answers(answers, list(questions)),
            referral_code=check_referral_code(referral_code),
            applicant_id=applicant_id,
        )

    # -- queries ----------------------------------------------------------------------------

    @property
    def approvals(self) -> int:
        return sum(1 for review in self.reviews if review["approve"])

    @property
    def rejections(self) -> int:
        return sum(1 for review in self.reviews if not review["approve"])

    @property
    def is_decided(self) -> bool:
        return self.status != UNDER_REVIEW

    @property
    def is_redeemed(self) -> bool:
        return self.account_id is not None

    # -- review -----------------------------------------------------------------------------

    def review(
        self,
        trustee_id: UUID,
        approve: bool,
        comment: str,
        *,
        now: datetime,
        signup_token_digest: str,
        sealed_signup_token: str = "",
        quorum: int = DEFAULT_QUORUM,
        signup_link_lifetime: timedelta = SIGNUP_LINK_LIFETIME,
        trustee_email: str = "",
    ) -> None:
        """One trustee's verdict. The application checks the caller is a trustee, passes their
        address and the digest of a fresh signup token: it is used only if this review reaches
        the quorum of approvals (then `status == "accepted"` and the application mails it)."""
        self.check_reviewable_by(trustee_id, trustee_email)
        text = check_text(comment, "comment", MAX_COMMENT_LENGTH, multiline=True)
        if not approve and not text:
            raise InvalidInput("comment_required", "Say why you reject the application.", "comment")
        if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
            raise InvalidInput("invalid_quorum", "The quorum must be at least 1.", "quorum")
        digest, expires_at = check_new_link(signup_token_digest, now, signup_link_lifetime)
        self.trigger_event(
            self.Reviewed, trustee_id=trustee_id, approve=bool(approve), comment=text
        )
        if self.approvals >= quorum:
            self.trigger_event(
                self.Accepted,
                signup_token_digest=digest,
                expires_at=expires_at,
                sealed_signup_token=sealed_signup_token,
            )
        elif self.rejections >= quorum:
            self.trigger_event(self.Rejected)

    def check_reviewable_by(self, trustee_id: UUID, trustee_email: str = "") -> None:
        """Forbidden `own_application` for the applicant's own account or address: a trustee
        who applied (again, or for a friend with their address) would approve themselves."""
        if trustee_id == self.applicant_id or (
            trustee_email and normalise_email(trustee_email) == self.email
        ):
            raise Forbidden(
                "own_application",
                "You cannot review your own application; other trustees will review it.",
                None,
            )
        if self.is_decided:
            raise PreconditionFailed(
                "application_decided", f"This application is already {self.status}.", None
            )
        if any(review["trustee_id"] == trustee_id for review in self.reviews):
            raise Conflict(
                "already_reviewed", "You have already reviewed this application.", "trustee_id"
            )

    # -- signup -----------------------------------------------------------------------------

    def check_signup_token(self, token_digest: str, now: datetime) -> None:
        """Whether the signup link may be used now; the application checks before creating the
        expert's account."""
        digest = check_token_digest(token_digest)
        check_aware(now, "now")
        if self.status != ACCEPTED:
            raise PreconditionFailed(
                "application_not_accepted", "This application has not been accepted.", "token"
            )
        check_link(
            "signup",
            "signup link",
            "Contact us for a new signup link.",
            None if self.is_redeemed else self.signup_token,
            self.spent_signup_tokens,
            digest,
            now,
        )

    def redeem_signup(self, token_digest: str, now: datetime, account_id: UUID) -> None:
        """The accepted expert has signed up as `account_id`; the link now stops working."""
        self.check_signup_token(token_digest, now)
        self.trigger_event(self.SignupRedeemed, account_id=account_id)

    def reissue_signup_link(
        self,
        token_digest: str,
        now: datetime,
        lifetime: timedelta = SIGNUP_LINK_LIFETIME,
        *,
        sealed_token: str = "",
    ) -> None:
        """A new signup link for an accepted expert who has not signed up yet (say the first
        one expired); the earlier link stops working."""
        if self.status != ACCEPTED:
            raise PreconditionFailed(
                "application_not_accepted", "This application has not been accepted.", None
            )
        if self.is_redeemed:
            raise PreconditionFailed("signup_link_used", "This expert has already signed up.", None)
        digest, expires_at = check_new_link(token_digest, now, lifetime)
        if digest == self.signup_token["digest"] or digest in self.spent_signup_tokens:
            raise Conflict("signup_link_exists", "This signup link was already issued.", "token")
        self.trigger_event(
            self.SignupLinkReissued,
            signup_token_digest=digest,
            expires_at=expires_at,
            sealed_signup_token=sealed_token,
        )
