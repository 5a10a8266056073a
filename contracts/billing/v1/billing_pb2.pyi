from contracts.events.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateSetupIntentRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class SetupIntent(_message.Message):
    __slots__ = ("setup_intent_id", "client_secret", "customer_id")
    SETUP_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    setup_intent_id: str
    client_secret: str
    customer_id: str
    def __init__(self, setup_intent_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class SaveCardRequest(_message.Message):
    __slots__ = ("client_id", "payment_method_id")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    payment_method_id: str
    def __init__(self, client_id: _Optional[str] = ..., payment_method_id: _Optional[str] = ...) -> None: ...

class GetCardRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class Card(_message.Message):
    __slots__ = ("brand", "last4", "country", "exp_month", "exp_year")
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    EXP_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXP_YEAR_FIELD_NUMBER: _ClassVar[int]
    brand: str
    last4: str
    country: str
    exp_month: int
    exp_year: int
    def __init__(self, brand: _Optional[str] = ..., last4: _Optional[str] = ..., country: _Optional[str] = ..., exp_month: _Optional[int] = ..., exp_year: _Optional[int] = ...) -> None: ...

class GetSessionBillRequest(_message.Message):
    __slots__ = ("participant_id", "session_id")
    PARTICIPANT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    participant_id: str
    session_id: str
    def __init__(self, participant_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class SessionBill(_message.Message):
    __slots__ = ("session_id", "billed_minutes", "cost_so_far", "earnings_so_far", "state", "total")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    BILLED_MINUTES_FIELD_NUMBER: _ClassVar[int]
    COST_SO_FAR_FIELD_NUMBER: _ClassVar[int]
    EARNINGS_SO_FAR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    billed_minutes: int
    cost_so_far: _money_pb2.Money
    earnings_so_far: _money_pb2.Money
    state: str
    total: _money_pb2.Money
    def __init__(self, session_id: _Optional[str] = ..., billed_minutes: _Optional[int] = ..., cost_so_far: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., earnings_so_far: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., state: _Optional[str] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

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

class RequestRefundRequest(_message.Message):
    __slots__ = ("client_id", "session_id", "reason")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    session_id: str
    reason: str
    def __init__(self, client_id: _Optional[str] = ..., session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GrantRefundRequest(_message.Message):
    __slots__ = ("granted_by", "session_id", "as_admin")
    GRANTED_BY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    granted_by: str
    session_id: str
    as_admin: bool
    def __init__(self, granted_by: _Optional[str] = ..., session_id: _Optional[str] = ..., as_admin: _Optional[bool] = ...) -> None: ...

class RefuseRefundRequest(_message.Message):
    __slots__ = ("admin_id", "session_id", "reason")
    ADMIN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    admin_id: str
    session_id: str
    reason: str
    def __init__(self, admin_id: _Optional[str] = ..., session_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetRefundRequest(_message.Message):
    __slots__ = ("reader_id", "session_id", "as_admin")
    READER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    reader_id: str
    session_id: str
    as_admin: bool
    def __init__(self, reader_id: _Optional[str] = ..., session_id: _Optional[str] = ..., as_admin: _Optional[bool] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("session_id", "state", "amount", "reason", "refusal_reason", "granted_by_role")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    GRANTED_BY_ROLE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    state: str
    amount: _money_pb2.Money
    reason: str
    refusal_reason: str
    granted_by_role: str
    def __init__(self, session_id: _Optional[str] = ..., state: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., refusal_reason: _Optional[str] = ..., granted_by_role: _Optional[str] = ...) -> None: ...
