import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PayoutAccountActivated(_message.Message):
    __slots__ = ("account_id", "stripe_account_id", "country")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STRIPE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    stripe_account_id: str
    country: str
    def __init__(self, account_id: _Optional[str] = ..., stripe_account_id: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class TransferSent(_message.Message):
    __slots__ = ("account_id", "week", "amount", "transfer_id", "transfer_group")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WEEK_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_GROUP_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    week: int
    amount: _money_pb2.Money
    transfer_id: str
    transfer_group: str
    def __init__(self, account_id: _Optional[str] = ..., week: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., transfer_id: _Optional[str] = ..., transfer_group: _Optional[str] = ...) -> None: ...

class TransferFailed(_message.Message):
    __slots__ = ("account_id", "week", "amount", "reason")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WEEK_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    week: int
    amount: _money_pb2.Money
    reason: str
    def __init__(self, account_id: _Optional[str] = ..., week: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class AmbassadorShareAccrued(_message.Message):
    __slots__ = ("ambassador_id", "expert_id", "session_id", "amount", "commission")
    AMBASSADOR_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FIELD_NUMBER: _ClassVar[int]
    ambassador_id: str
    expert_id: str
    session_id: str
    amount: _money_pb2.Money
    commission: _money_pb2.Money
    def __init__(self, ambassador_id: _Optional[str] = ..., expert_id: _Optional[str] = ..., session_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., commission: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class StatementLine(_message.Message):
    __slots__ = ("earnings", "ambassador_shares", "amount", "status", "transfer_id", "reason", "balance")
    EARNINGS_FIELD_NUMBER: _ClassVar[int]
    AMBASSADOR_SHARES_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    earnings: _money_pb2.Money
    ambassador_shares: _money_pb2.Money
    amount: _money_pb2.Money
    status: str
    transfer_id: str
    reason: str
    balance: _money_pb2.Money
    def __init__(self, earnings: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., ambassador_shares: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[str] = ..., transfer_id: _Optional[str] = ..., reason: _Optional[str] = ..., balance: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class PayoutStatementIssued(_message.Message):
    __slots__ = ("account_id", "week", "period_start", "period_end", "lines")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    WEEK_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    week: int
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    lines: _containers.RepeatedCompositeFieldContainer[StatementLine]
    def __init__(self, account_id: _Optional[str] = ..., week: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[StatementLine, _Mapping]]] = ...) -> None: ...
