import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignUpRequest(_message.Message):
    __slots__ = ("email", "password", "name")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    name: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SignUpResponse(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class VerifyEmailRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class VerifyEmailResponse(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ResendVerificationRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ResendVerificationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogInRequest(_message.Message):
    __slots__ = ("email", "password")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class TokensResponse(_message.Message):
    __slots__ = ("access_token", "refresh_token", "expires_in_seconds", "account")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    expires_in_seconds: int
    account: Account
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ..., account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class RefreshTokensRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class LogOutRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class LogOutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChangePasswordRequest(_message.Message):
    __slots__ = ("account_id", "current_password", "new_password")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    current_password: str
    new_password: str
    def __init__(self, account_id: _Optional[str] = ..., current_password: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ChangePasswordResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestPasswordResetRequest(_message.Message):
    __slots__ = ("email",)
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    email: str
    def __init__(self, email: _Optional[str] = ...) -> None: ...

class RequestPasswordResetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetPasswordRequest(_message.Message):
    __slots__ = ("token", "new_password")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    token: str
    new_password: str
    def __init__(self, token: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ResetPasswordResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class GetAccessStateRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class AccessState(_message.Message):
    __slots__ = ("account_id", "credentials_version", "roles", "email_verified")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    EMAIL_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    credentials_version: int
    roles: _containers.RepeatedScalarFieldContainer[str]
    email_verified: bool
    def __init__(self, account_id: _Optional[str] = ..., credentials_version: _Optional[int] = ..., roles: _Optional[_Iterable[str]] = ..., email_verified: _Optional[bool] = ...) -> None: ...

class GrantRoleRequest(_message.Message):
    __slots__ = ("admin_id", "account_id", "role")
    ADMIN_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    admin_id: str
    account_id: str
    role: str
    def __init__(self, admin_id: _Optional[str] = ..., account_id: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "email", "name", "roles", "email_verified", "payout_active")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    EMAIL_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    email_verified: bool
    payout_active: bool
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., email_verified: _Optional[bool] = ..., payout_active: _Optional[bool] = ...) -> None: ...

class GetAssessmentRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AssessmentQuestion(_message.Message):
    __slots__ = ("question_id", "text")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    text: str
    def __init__(self, question_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Assessment(_message.Message):
    __slots__ = ("questions", "approvals_needed")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_NEEDED_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[AssessmentQuestion]
    approvals_needed: int
    def __init__(self, questions: _Optional[_Iterable[_Union[AssessmentQuestion, _Mapping]]] = ..., approvals_needed: _Optional[int] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("question_id", "answer")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    answer: str
    def __init__(self, question_id: _Optional[str] = ..., answer: _Optional[str] = ...) -> None: ...

class ApplyAsExpertRequest(_message.Message):
    __slots__ = ("name", "answers", "referral_code", "applicant_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    APPLICANT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    answers: _containers.RepeatedCompositeFieldContainer[Answer]
    referral_code: str
    applicant_id: str
    def __init__(self, name: _Optional[str] = ..., answers: _Optional[_Iterable[_Union[Answer, _Mapping]]] = ..., referral_code: _Optional[str] = ..., applicant_id: _Optional[str] = ...) -> None: ...

class ApplyAsExpertResponse(_message.Message):
    __slots__ = ("application_id",)
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    def __init__(self, application_id: _Optional[str] = ...) -> None: ...

class ListApplicationsRequest(_message.Message):
    __slots__ = ("trustee_id", "status")
    TRUSTEE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    trustee_id: str
    status: str
    def __init__(self, trustee_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("trustee_id", "approved", "comment")
    TRUSTEE_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    trustee_id: str
    approved: bool
    comment: str
    def __init__(self, trustee_id: _Optional[str] = ..., approved: _Optional[bool] = ..., comment: _Optional[str] = ...) -> None: ...

class Application(_message.Message):
    __slots__ = ("application_id", "email", "name", "answers", "status", "reviews", "applied_at")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    email: str
    name: str
    answers: _containers.RepeatedCompositeFieldContainer[Answer]
    status: str
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    applied_at: _timestamp_pb2.Timestamp
    def __init__(self, application_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., answers: _Optional[_Iterable[_Union[Answer, _Mapping]]] = ..., status: _Optional[str] = ..., reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., applied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListApplicationsResponse(_message.Message):
    __slots__ = ("applications",)
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    applications: _containers.RepeatedCompositeFieldContainer[Application]
    def __init__(self, applications: _Optional[_Iterable[_Union[Application, _Mapping]]] = ...) -> None: ...

class ReviewApplicationRequest(_message.Message):
    __slots__ = ("trustee_id", "application_id", "approve", "comment")
    TRUSTEE_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    trustee_id: str
    application_id: str
    approve: bool
    comment: str
    def __init__(self, trustee_id: _Optional[str] = ..., application_id: _Optional[str] = ..., approve: _Optional[bool] = ..., comment: _Optional[str] = ...) -> None: ...

class CompleteExpertSignupRequest(_message.Message):
    __slots__ = ("signup_token", "password")
    SIGNUP_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    signup_token: str
    password: str
    def __init__(self, signup_token: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class Category(_message.Message):
    __slots__ = ("slug", "label")
    SLUG_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    slug: str
    label: str
    def __init__(self, slug: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class ListCategoriesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCategoriesResponse(_message.Message):
    __slots__ = ("categories",)
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedCompositeFieldContainer[Category]
    def __init__(self, categories: _Optional[_Iterable[_Union[Category, _Mapping]]] = ...) -> None: ...

class AddCategoryRequest(_message.Message):
    __slots__ = ("admin_id", "slug", "label")
    ADMIN_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    admin_id: str
    slug: str
    label: str
    def __init__(self, admin_id: _Optional[str] = ..., slug: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class UpdateExpertProfileRequest(_message.Message):
    __slots__ = ("expert_id", "name", "photo_url", "job_title", "company", "offering", "description", "categories", "categories_set", "tags", "tags_set", "languages", "languages_set", "currency", "rate_per_minute", "free_minutes")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHOTO_URL_FIELD_NUMBER: _ClassVar[int]
    JOB_TITLE_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    OFFERING_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_SET_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_SET_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_SET_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    name: str
    photo_url: str
    job_title: str
    company: str
    offering: str
    description: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    categories_set: bool
    tags: _containers.RepeatedScalarFieldContainer[str]
    tags_set: bool
    languages: _containers.RepeatedScalarFieldContainer[str]
    languages_set: bool
    currency: str
    rate_per_minute: int
    free_minutes: int
    def __init__(self, expert_id: _Optional[str] = ..., name: _Optional[str] = ..., photo_url: _Optional[str] = ..., job_title: _Optional[str] = ..., company: _Optional[str] = ..., offering: _Optional[str] = ..., description: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., categories_set: _Optional[bool] = ..., tags: _Optional[_Iterable[str]] = ..., tags_set: _Optional[bool] = ..., languages: _Optional[_Iterable[str]] = ..., languages_set: _Optional[bool] = ..., currency: _Optional[str] = ..., rate_per_minute: _Optional[int] = ..., free_minutes: _Optional[int] = ...) -> None: ...

class SetAvailabilityRequest(_message.Message):
    __slots__ = ("expert_id", "online")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    online: bool
    def __init__(self, expert_id: _Optional[str] = ..., online: _Optional[bool] = ...) -> None: ...

class GetExpertProfileRequest(_message.Message):
    __slots__ = ("expert_id",)
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    def __init__(self, expert_id: _Optional[str] = ...) -> None: ...

class ExpertProfile(_message.Message):
    __slots__ = ("expert_id", "name", "photo_url", "job_title", "company", "offering", "description", "categories", "tags", "languages", "rate_per_minute", "free_minutes", "availability", "complete")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHOTO_URL_FIELD_NUMBER: _ClassVar[int]
    JOB_TITLE_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    OFFERING_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    name: str
    photo_url: str
    job_title: str
    company: str
    offering: str
    description: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    rate_per_minute: _money_pb2.Money
    free_minutes: int
    availability: str
    complete: bool
    def __init__(self, expert_id: _Optional[str] = ..., name: _Optional[str] = ..., photo_url: _Optional[str] = ..., job_title: _Optional[str] = ..., company: _Optional[str] = ..., offering: _Optional[str] = ..., description: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., free_minutes: _Optional[int] = ..., availability: _Optional[str] = ..., complete: _Optional[bool] = ...) -> None: ...

class SearchExpertsRequest(_message.Message):
    __slots__ = ("query", "category", "tag", "language", "currency", "min_rate", "max_rate", "availability", "sort", "page", "page_size")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    MIN_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_RATE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    query: str
    category: str
    tag: str
    language: str
    currency: str
    min_rate: int
    max_rate: int
    availability: str
    sort: str
    page: int
    page_size: int
    def __init__(self, query: _Optional[str] = ..., category: _Optional[str] = ..., tag: _Optional[str] = ..., language: _Optional[str] = ..., currency: _Optional[str] = ..., min_rate: _Optional[int] = ..., max_rate: _Optional[int] = ..., availability: _Optional[str] = ..., sort: _Optional[str] = ..., page: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class SearchExpertsResponse(_message.Message):
    __slots__ = ("experts", "total", "page", "page_size")
    EXPERTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    experts: _containers.RepeatedCompositeFieldContainer[ExpertProfile]
    total: int
    page: int
    page_size: int
    def __init__(self, experts: _Optional[_Iterable[_Union[ExpertProfile, _Mapping]]] = ..., total: _Optional[int] = ..., page: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class AppointAmbassadorRequest(_message.Message):
    __slots__ = ("admin_id", "account_id", "share_basis_points")
    ADMIN_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SHARE_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    admin_id: str
    account_id: str
    share_basis_points: int
    def __init__(self, admin_id: _Optional[str] = ..., account_id: _Optional[str] = ..., share_basis_points: _Optional[int] = ...) -> None: ...

class GetAmbassadorRequest(_message.Message):
    __slots__ = ("ambassador_id",)
    AMBASSADOR_ID_FIELD_NUMBER: _ClassVar[int]
    ambassador_id: str
    def __init__(self, ambassador_id: _Optional[str] = ...) -> None: ...

class ReferredExpert(_message.Message):
    __slots__ = ("expert_id", "name", "referred_at")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REFERRED_AT_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    name: str
    referred_at: _timestamp_pb2.Timestamp
    def __init__(self, expert_id: _Optional[str] = ..., name: _Optional[str] = ..., referred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Ambassador(_message.Message):
    __slots__ = ("ambassador_id", "referral_code", "share_basis_points", "referred_experts", "appointed_at")
    AMBASSADOR_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    SHARE_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERRED_EXPERTS_FIELD_NUMBER: _ClassVar[int]
    APPOINTED_AT_FIELD_NUMBER: _ClassVar[int]
    ambassador_id: str
    referral_code: str
    share_basis_points: int
    referred_experts: _containers.RepeatedCompositeFieldContainer[ReferredExpert]
    appointed_at: _timestamp_pb2.Timestamp
    def __init__(self, ambassador_id: _Optional[str] = ..., referral_code: _Optional[str] = ..., share_basis_points: _Optional[int] = ..., referred_experts: _Optional[_Iterable[_Union[ReferredExpert, _Mapping]]] = ..., appointed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
