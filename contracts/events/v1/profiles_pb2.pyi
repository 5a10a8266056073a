import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Availability(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AVAILABILITY_UNSPECIFIED: _ClassVar[Availability]
    AVAILABILITY_OFFLINE: _ClassVar[Availability]
    AVAILABILITY_ONLINE: _ClassVar[Availability]
    AVAILABILITY_BUSY: _ClassVar[Availability]
AVAILABILITY_UNSPECIFIED: Availability
AVAILABILITY_OFFLINE: Availability
AVAILABILITY_ONLINE: Availability
AVAILABILITY_BUSY: Availability

class AccountRegistered(_message.Message):
    __slots__ = ("account_id", "email", "name", "roles")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

class EmailVerificationRequested(_message.Message):
    __slots__ = ("account_id", "email", "name", "expires_at", "sealed_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SEALED_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    name: str
    expires_at: _timestamp_pb2.Timestamp
    sealed_token: bytes
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sealed_token: _Optional[bytes] = ...) -> None: ...

class EmailVerified(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class PasswordChanged(_message.Message):
    __slots__ = ("account_id", "email", "name")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    name: str
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SignUpAttempted(_message.Message):
    __slots__ = ("account_id", "email", "name")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    name: str
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class PasswordResetRequested(_message.Message):
    __slots__ = ("account_id", "email", "name", "expires_at", "sealed_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SEALED_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    name: str
    expires_at: _timestamp_pb2.Timestamp
    sealed_token: bytes
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sealed_token: _Optional[bytes] = ...) -> None: ...

class RoleGranted(_message.Message):
    __slots__ = ("account_id", "role")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    role: str
    def __init__(self, account_id: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class ExpertApplied(_message.Message):
    __slots__ = ("application_id", "email", "name", "referral_code")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    email: str
    name: str
    referral_code: str
    def __init__(self, application_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., referral_code: _Optional[str] = ...) -> None: ...

class ExpertApplicationReviewed(_message.Message):
    __slots__ = ("application_id", "trustee_id", "approved", "comment")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    TRUSTEE_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    trustee_id: str
    approved: bool
    comment: str
    def __init__(self, application_id: _Optional[str] = ..., trustee_id: _Optional[str] = ..., approved: _Optional[bool] = ..., comment: _Optional[str] = ...) -> None: ...

class ExpertAccepted(_message.Message):
    __slots__ = ("application_id", "email", "name", "expires_at", "referral_code", "sealed_signup_token")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    SEALED_SIGNUP_TOKEN_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    email: str
    name: str
    expires_at: _timestamp_pb2.Timestamp
    referral_code: str
    sealed_signup_token: bytes
    def __init__(self, application_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., referral_code: _Optional[str] = ..., sealed_signup_token: _Optional[bytes] = ...) -> None: ...

class ExpertRejected(_message.Message):
    __slots__ = ("application_id", "email", "name", "comment")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    email: str
    name: str
    comment: str
    def __init__(self, application_id: _Optional[str] = ..., email: _Optional[str] = ..., name: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class ExpertSignedUp(_message.Message):
    __slots__ = ("application_id", "expert_id", "email")
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    application_id: str
    expert_id: str
    email: str
    def __init__(self, application_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class ExpertProfileUpdated(_message.Message):
    __slots__ = ("expert_id", "name", "photo_url", "job_title", "company", "offering", "description", "categories", "tags", "languages", "currency", "rate_per_minute", "free_minutes", "complete")
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
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
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
    currency: str
    rate_per_minute: _money_pb2.Money
    free_minutes: int
    complete: bool
    def __init__(self, expert_id: _Optional[str] = ..., name: _Optional[str] = ..., photo_url: _Optional[str] = ..., job_title: _Optional[str] = ..., company: _Optional[str] = ..., offering: _Optional[str] = ..., description: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., tags: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., currency: _Optional[str] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., free_minutes: _Optional[int] = ..., complete: _Optional[bool] = ...) -> None: ...

class RateChanged(_message.Message):
    __slots__ = ("expert_id", "rate_per_minute", "free_minutes")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    rate_per_minute: _money_pb2.Money
    free_minutes: int
    def __init__(self, expert_id: _Optional[str] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., free_minutes: _Optional[int] = ...) -> None: ...

class AvailabilityChanged(_message.Message):
    __slots__ = ("expert_id", "availability")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    availability: Availability
    def __init__(self, expert_id: _Optional[str] = ..., availability: _Optional[_Union[Availability, str]] = ...) -> None: ...

class AmbassadorAppointed(_message.Message):
    __slots__ = ("ambassador_id", "referral_code", "share_basis_points")
    AMBASSADOR_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    SHARE_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    ambassador_id: str
    referral_code: str
    share_basis_points: int
    def __init__(self, ambassador_id: _Optional[str] = ..., referral_code: _Optional[str] = ..., share_basis_points: _Optional[int] = ...) -> None: ...

class ExpertReferred(_message.Message):
    __slots__ = ("expert_id", "ambassador_id", "referral_code", "share_basis_points", "application_id")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    AMBASSADOR_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    SHARE_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    ambassador_id: str
    referral_code: str
    share_basis_points: int
    application_id: str
    def __init__(self, expert_id: _Optional[str] = ..., ambassador_id: _Optional[str] = ..., referral_code: _Optional[str] = ..., share_basis_points: _Optional[int] = ..., application_id: _Optional[str] = ...) -> None: ...
