import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_MODE_UNSPECIFIED: _ClassVar[SessionMode]
    SESSION_MODE_VOICE: _ClassVar[SessionMode]
    SESSION_MODE_VIDEO: _ClassVar[SessionMode]

class InviteLinkKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVITE_LINK_KIND_UNSPECIFIED: _ClassVar[InviteLinkKind]
    INVITE_LINK_KIND_PAID: _ClassVar[InviteLinkKind]
    INVITE_LINK_KIND_FREE: _ClassVar[InviteLinkKind]
SESSION_MODE_UNSPECIFIED: SessionMode
SESSION_MODE_VOICE: SessionMode
SESSION_MODE_VIDEO: SessionMode
INVITE_LINK_KIND_UNSPECIFIED: InviteLinkKind
INVITE_LINK_KIND_PAID: InviteLinkKind
INVITE_LINK_KIND_FREE: InviteLinkKind

class SessionRequested(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "mode", "rate_per_minute", "free_minutes", "free_session", "invite_link_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    FREE_SESSION_FIELD_NUMBER: _ClassVar[int]
    INVITE_LINK_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    mode: SessionMode
    rate_per_minute: _money_pb2.Money
    free_minutes: int
    free_session: bool
    invite_link_id: str
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., mode: _Optional[_Union[SessionMode, str]] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., free_minutes: _Optional[int] = ..., free_session: _Optional[bool] = ..., invite_link_id: _Optional[str] = ...) -> None: ...

class SessionAccepted(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "rate_per_minute", "free_minutes", "free_session", "max_minutes")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    FREE_SESSION_FIELD_NUMBER: _ClassVar[int]
    MAX_MINUTES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    rate_per_minute: _money_pb2.Money
    free_minutes: int
    free_session: bool
    max_minutes: int
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., free_minutes: _Optional[int] = ..., free_session: _Optional[bool] = ..., max_minutes: _Optional[int] = ...) -> None: ...

class SessionDeclined(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SessionStarted(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "mode", "rate_per_minute", "free_minutes", "free_session", "started_at", "max_minutes", "minute_seconds")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    FREE_SESSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MINUTE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    mode: SessionMode
    rate_per_minute: _money_pb2.Money
    free_minutes: int
    free_session: bool
    started_at: _timestamp_pb2.Timestamp
    max_minutes: int
    minute_seconds: int
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., mode: _Optional[_Union[SessionMode, str]] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., free_minutes: _Optional[int] = ..., free_session: _Optional[bool] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_minutes: _Optional[int] = ..., minute_seconds: _Optional[int] = ...) -> None: ...

class SessionModeChanged(_message.Message):
    __slots__ = ("session_id", "participant_id", "mode")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    participant_id: str
    mode: SessionMode
    def __init__(self, session_id: _Optional[str] = ..., participant_id: _Optional[str] = ..., mode: _Optional[_Union[SessionMode, str]] = ...) -> None: ...

class SessionTimeWarning(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "minutes_left")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MINUTES_LEFT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    minutes_left: int
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., minutes_left: _Optional[int] = ...) -> None: ...

class SessionEnded(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "reason", "started_at", "ended_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    reason: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., reason: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RatingGiven(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "stars", "review")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    STARS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    stars: int
    review: str
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., stars: _Optional[int] = ..., review: _Optional[str] = ...) -> None: ...

class InviteLinkCreated(_message.Message):
    __slots__ = ("link_id", "expert_id", "kind")
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    expert_id: str
    kind: InviteLinkKind
    def __init__(self, link_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., kind: _Optional[_Union[InviteLinkKind, str]] = ...) -> None: ...
