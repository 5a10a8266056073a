"""The notifications domain: one `Email` per mail the platform must send (email.py), and the
`Addressee` of each account holder (addressee.py).
"""

from __future__ import annotations

from headstore.topics import register_stable_topics
from services.notifications.domain.addressee import Addressee, addressee_id
from services.notifications.domain.email import (
    MAX_ERROR_LENGTH,
    Email,
    EmailStatus,
    RetryPolicy,
    email_id,
)

__all__ = [
    "Addressee",
    "Email",
    "EmailStatus",
    "MAX_ERROR_LENGTH",
    "RetryPolicy",
    "addressee_id",
    "email_id",
]

# Stored as `notifications:Email.Sent` and so on, wherever the classes live; the topics stored
# while they lived in services/notifications/domain.py resolve to the same classes
# (headstore.topics).
register_stable_topics(
    "notifications", Email, Addressee, previous=("services.notifications.domain",)
)
