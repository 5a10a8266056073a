from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActivatePayoutRequest(_message.Message):
    __slots__ = ("account_id", "email", "country", "return_url", "refresh_url")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    RETURN_URL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_URL_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    country: str
    return_url: str
    refresh_url: str
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., country: _Optional[str] = ..., return_url: _Optional[str] = ..., refresh_url: _Optional[str] = ...) -> None: ...

class GetPayoutAccountRequest(_message.Message):
    __slots__ = ("account_id", "refresh")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    refresh: bool
    def __init__(self, account_id: _Optional[str] = ..., refresh: _Optional[bool] = ...) -> None: ...

class PayoutAccount(_message.Message):
    __slots__ = ("account_id", "status", "country", "stripe_account_id", "onboarding_url")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    STRIPE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ONBOARDING_URL_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    status: str
    country: str
    stripe_account_id: str
    onboarding_url: str
    def __init__(self, account_id: _Optional[str] = ..., status: _Optional[str] = ..., country: _Optional[str] = ..., stripe_account_id: _Optional[str] = ..., onboarding_url: _Optional[str] = ...) -> None: ...

class GetPayoutStatisticsRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class WeekEarnings(_message.Message):
    __slots__ = ("week", "week_start", "week_end", "earnings", "ambassador_shares", "sessions", "minutes")
    WEEK_FIELD_NUMBER: _ClassVar[int]
    WEEK_START_FIELD_NUMBER: _ClassVar[int]
    WEEK_END_FIELD_NUMBER: _ClassVar[int]
    EARNINGS_FIELD_NUMBER: _ClassVar[int]
    AMBASSADOR_SHARES_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    week: int
    week_start: str
    week_end: str
    earnings: _money_pb2.Money
    ambassador_shares: _money_pb2.Money
    sessions: int
    minutes: int
    def __init__(self, week: _Optional[int] = ..., week_start: _Optional[str] = ..., week_end: _Optional[str] = ..., earnings: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., ambassador_shares: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sessions: _Optional[int] = ..., minutes: _Optional[int] = ...) -> None: ...

class CurrencyBalance(_message.Message):
    __slots__ = ("earned", "paid", "balance")
    EARNED_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    earned: _money_pb2.Money
    paid: _money_pb2.Money
    balance: _money_pb2.Money
    def __init__(self, earned: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., paid: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., balance: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("week", "amount", "status", "transfer_id", "reason")
    WEEK_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    week: int
    amount: _money_pb2.Money
    status: str
    transfer_id: str
    reason: str
    def __init__(self, week: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[str] = ..., transfer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PayoutStatistics(_message.Message):
    __slots__ = ("weeks", "balances", "transfers", "sessions", "minutes", "ratings", "average_rating_hundredths")
    WEEKS_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    RATINGS_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_RATING_HUNDREDTHS_FIELD_NUMBER: _ClassVar[int]
    weeks: _containers.RepeatedCompositeFieldContainer[WeekEarnings]
    balances: _containers.RepeatedCompositeFieldContainer[CurrencyBalance]
    transfers: _containers.RepeatedCompositeFieldContainer[Transfer]
    sessions: int
    minutes: int
    ratings: int
    average_rating_hundredths: int
    def __init__(self, weeks: _Optional[_Iterable[_Union[WeekEarnings, _Mapping]]] = ..., balances: _Optional[_Iterable[_Union[CurrencyBalance, _Mapping]]] = ..., transfers: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ..., sessions: _Optional[int] = ..., minutes: _Optional[int] = ..., ratings: _Optional[int] = ..., average_rating_hundredths: _Optional[int] = ...) -> None: ...

class HandleStripeWebhookRequest(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: str
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class HandleStripeWebhookResponse(_message.Message):
    __slots__ = ("event_type", "handled", "duplicate")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    HANDLED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    handled: bool
    duplicate: bool
    def __init__(self, event_type: _Optional[str] = ..., handled: _Optional[bool] = ..., duplicate: _Optional[bool] = ...) -> None: ...
