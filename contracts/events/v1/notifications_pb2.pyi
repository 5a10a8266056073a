from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class EmailSent(_message.Message):
    __slots__ = ("email_id", "to", "template", "cause_event_id")
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    email_id: str
    to: str
    template: str
    cause_event_id: str
    def __init__(self, email_id: _Optional[str] = ..., to: _Optional[str] = ..., template: _Optional[str] = ..., cause_event_id: _Optional[str] = ...) -> None: ...

class EmailFailed(_message.Message):
    __slots__ = ("email_id", "to", "template", "attempts", "error", "will_retry")
    EMAIL_ID_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WILL_RETRY_FIELD_NUMBER: _ClassVar[int]
    email_id: str
    to: str
    template: str
    attempts: int
    error: str
    will_retry: bool
    def __init__(self, email_id: _Optional[str] = ..., to: _Optional[str] = ..., template: _Optional[str] = ..., attempts: _Optional[int] = ..., error: _Optional[str] = ..., will_retry: _Optional[bool] = ...) -> None: ...
