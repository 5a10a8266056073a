from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentAuthorized(_message.Message):
    __slots__ = ("session_id", "block", "amount", "covers_minutes_to")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COVERS_MINUTES_TO_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    block: int
    amount: _money_pb2.Money
    covers_minutes_to: int
    def __init__(self, session_id: _Optional[str] = ..., block: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., covers_minutes_to: _Optional[int] = ...) -> None: ...

class PaymentAuthorizationFailed(_message.Message):
    __slots__ = ("session_id", "block", "amount", "reason", "ends_session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENDS_SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    block: int
    amount: _money_pb2.Money
    reason: str
    ends_session: bool
    def __init__(self, session_id: _Optional[str] = ..., block: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., ends_session: _Optional[bool] = ...) -> None: ...

class MinuteBilled(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "minute", "amount", "cost_so_far", "earnings_so_far")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COST_SO_FAR_FIELD_NUMBER: _ClassVar[int]
    EARNINGS_SO_FAR_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    minute: int
    amount: _money_pb2.Money
    cost_so_far: _money_pb2.Money
    earnings_so_far: _money_pb2.Money
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., minute: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., cost_so_far: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., earnings_so_far: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class MinuteBillingReversed(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "minute", "amount", "cost_so_far")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COST_SO_FAR_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    minute: int
    amount: _money_pb2.Money
    cost_so_far: _money_pb2.Money
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., minute: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., cost_so_far: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class SessionCharged(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "minutes", "billed_minutes", "rate_per_minute", "total", "expert_share", "platform_share")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    BILLED_MINUTES_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    EXPERT_SHARE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SHARE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    minutes: int
    billed_minutes: int
    rate_per_minute: _money_pb2.Money
    total: _money_pb2.Money
    expert_share: _money_pb2.Money
    platform_share: _money_pb2.Money
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., minutes: _Optional[int] = ..., billed_minutes: _Optional[int] = ..., rate_per_minute: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., expert_share: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., platform_share: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class EarningsAccrued(_message.Message):
    __slots__ = ("session_id", "expert_id", "amount", "commission")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    expert_id: str
    amount: _money_pb2.Money
    commission: _money_pb2.Money
    def __init__(self, session_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., commission: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class CardSaved(_message.Message):
    __slots__ = ("client_id", "brand", "last4", "country", "exp_month", "exp_year")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    EXP_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXP_YEAR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    brand: str
    last4: str
    country: str
    exp_month: int
    exp_year: int
    def __init__(self, client_id: _Optional[str] = ..., brand: _Optional[str] = ..., last4: _Optional[str] = ..., country: _Optional[str] = ..., exp_month: _Optional[int] = ..., exp_year: _Optional[int] = ...) -> None: ...

class RefundRequested(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "amount", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    amount: _money_pb2.Money
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RefundRefused(_message.Message):
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

class SessionRefunded(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "amount", "expert_share", "platform_share", "origin")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPERT_SHARE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SHARE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    amount: _money_pb2.Money
    expert_share: _money_pb2.Money
    platform_share: _money_pb2.Money
    origin: str
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., expert_share: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., platform_share: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., origin: _Optional[str] = ...) -> None: ...

class DisputeOpened(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "dispute_id", "amount", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    dispute_id: str
    amount: _money_pb2.Money
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., dispute_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class DisputeClosed(_message.Message):
    __slots__ = ("session_id", "client_id", "expert_id", "dispute_id", "outcome", "amount", "expert_share", "platform_share")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPERT_SHARE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SHARE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    client_id: str
    expert_id: str
    dispute_id: str
    outcome: str
    amount: _money_pb2.Money
    expert_share: _money_pb2.Money
    platform_share: _money_pb2.Money
    def __init__(self, session_id: _Optional[str] = ..., client_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., dispute_id: _Optional[str] = ..., outcome: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., expert_share: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., platform_share: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...
