import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmailStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMAIL_STATUS_UNSPECIFIED: _ClassVar[EmailStatus]
    EMAIL_STATUS_QUEUED: _ClassVar[EmailStatus]
    EMAIL_STATUS_SENT: _ClassVar[EmailStatus]
    EMAIL_STATUS_RETRYING: _ClassVar[EmailStatus]
    EMAIL_STATUS_GAVE_UP: _ClassVar[EmailStatus]
EMAIL_STATUS_UNSPECIFIED: EmailStatus
EMAIL_STATUS_QUEUED: EmailStatus
EMAIL_STATUS_SENT: EmailStatus
EMAIL_STATUS_RETRYING: EmailStatus
EMAIL_STATUS_GAVE_UP: EmailStatus

class ListEmailsRequest(_message.Message):
    __slots__ = ("recipient", "limit")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    limit: int
    def __init__(self, recipient: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Email(_message.Message):
    __slots__ = ("email_id", "to", "template", "subject", "status", "attempts", "queued_at", "sent_at", "last_error")
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    email_id: str
    to: str
    template: str
    subject: str
    status: EmailStatus
    attempts: int
    queued_at: _timestamp_pb2.Timestamp
    sent_at: _timestamp_pb2.Timestamp
    last_error: str
    def __init__(self, email_id: _Optional[str] = ..., to: _Optional[str] = ..., template: _Optional[str] = ..., subject: _Optional[str] = ..., status: _Optional[_Union[EmailStatus, str]] = ..., attempts: _Optional[int] = ..., queued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ...) -> None: ...

class ListEmailsResponse(_message.Message):
    __slots__ = ("emails",)
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    emails: _containers.RepeatedCompositeFieldContainer[Email]
    def __init__(self, emails: _Optional[_Iterable[_Union[Email, _Mapping]]] = ...) -> None: ...
