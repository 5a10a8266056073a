from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Ticked(_message.Message):
    __slots__ = ("counter_id", "tick")
    COUNTER_ID_FIELD_NUMBER: _ClassVar[int]
    TICK_FIELD_NUMBER: _ClassVar[int]
    counter_id: str
    tick: int
    def __init__(self, counter_id: _Optional[str] = ..., tick: _Optional[int] = ...) -> None: ...
