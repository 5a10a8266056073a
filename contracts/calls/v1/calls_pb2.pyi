import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from contracts.events.v1 import calls_pb2 as _calls_pb2
from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestSessionRequest(_message.Message):
    __slots__ = ("client_id", "expert_id", "mode", "invite_token", "spending_cap_minor")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    INVITE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SPENDING_CAP_MINOR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    expert_id: str
    mode: _calls_pb2.SessionMode
    invite_token: str
    spending_cap_minor: int
    def __init__(self, client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., mode: _Optional[_Union[_calls_pb2.SessionMode, str]] = ..., invite_token: _Optional[str] = ..., spending_cap_minor: _Optional[int] = ...) -> None: ...

class AnswerSessionRequest(_message.Message):
    __slots__ = ("expert_id", "session_id", "accept")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    session_id: str
    accept: bool
    def __init__(self, expert_id: _Optional[str] = ..., session_id: _Optional[str] = ..., accept: _Optional[bool] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("participant_id", "session_id")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    session_id: str
    def __init__(self, participant_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class HangUpRequest(_message.Message):
    __slots__ = ("participant_id", "session_id")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    session_id: str
    def __init__(self, participant_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class SwitchModeRequest(_message.Message):
    __slots__ = ("participant_id", "session_id", "mode")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    session_id: str
    mode: _calls_pb2.SessionMode
    def __init__(self, participant_id: _Optional[str] = ..., session_id: _Optional[str] = ..., mode: _Optional[_Union[_calls_pb2.SessionMode, str]] = ...) -> None: ...

class RateSessionRequest(_message.Message):
    __slots__ = ("client_id", "session_id", "stars", "review")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STARS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    session_id: str
    stars: int
    review: str
    def __init__(self, client_id: _Optional[str] = ..., session_id: _Optional[str] = ..., stars: _Optional[int] = ..., review: _Optional[str] = ...) -> None: ...

class GetPaidLinkRequest(_message.Message):
    __slots__ = ("expert_id",)
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    def __init__(self, expert_id: _Optional[str] = ...) -> None: ...

class CreateFreeLinkRequest(_message.Message):
    __slots__ = ("expert_id",)
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    def __init__(self, expert_id: _Optional[str] = ...) -> None: ...

class GetInviteLinkRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class InviteLink(_message.Message):
    __slots__ = ("link_id", "expert_id", "kind", "token", "redeemed")
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    expert_id: str
    kind: _calls_pb2.InviteLinkKind
    token: str
    redeemed: bool
    def __init__(self, link_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., kind: _Optional[_Union[_calls_pb2.InviteLinkKind, str]] = ..., token: _Optional[str] = ..., redeemed: _Optional[bool] = ...) -> None: ...

class JoinDetails(_message.Message):
    __slots__ = ("janus_url", "room_id", "token", "display")
    JANUS_URL_FIELD_NUMBER: _ClassVar[int]
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FIELD_NUMBER: _ClassVar[int]
    janus_url: str
    room_id: int
    token: str
    display: str
    def __init__(self, janus_url: _Optional[str] = ..., room_id: _Optional[int] = ..., token: _Optional[str] = ..., display: _Optional[str] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "mode", "state", "rate_per_minute", "free_minutes", "free_session", "started_at", "ended_at", "end_reason", "join", "max_minutes", "spending_cap")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FREE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    FREE_SESSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    MAX_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SPENDING_CAP_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    mode: _calls_pb2.SessionMode
    state: str
    rate_per_minute: _money_pb2.Money
    free_minutes: int
    free_session: bool
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    end_reason: str
    join: JoinDetails
    max_minutes: int
    spending_cap: _money_pb2.Money
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., mode: _Optional[_Union[_calls_pb2.SessionMode, str]] = ..., state: _Optional[str] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., free_minutes: _Optional[int] = ..., free_session: _Optional[bool] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_reason: _Optional[str] = ..., join: _Optional[_Union[JoinDetails, _Mapping]] = ..., max_minutes: _Optional[int] = ..., spending_cap: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Rating(_message.Message):
    __slots__ = ("session_id", "stars", "review")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STARS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    stars: int
    review: str
    def __init__(self, session_id: _Optional[str] = ..., stars: _Optional[int] = ..., review: _Optional[str] = ...) -> None: ...

class GetExpertRatingRequest(_message.Message):
    __slots__ = ("expert_id",)
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    def __init__(self, expert_id: _Optional[str] = ...) -> None: ...

class ExpertRating(_message.Message):
    __slots__ = ("expert_id", "count", "average_tenths")
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_TENTHS_FIELD_NUMBER: _ClassVar[int]
    expert_id: str
    count: int
    average_tenths: int
    def __init__(self, expert_id: _Optional[str] = ..., count: _Optional[int] = ..., average_tenths: _Optional[int] = ...) -> None: ...
