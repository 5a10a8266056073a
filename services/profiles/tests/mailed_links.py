"""The tokens of the links profiles mails, read the way notifications reads them: opened from
the sealed token in the stored event with notifications' private key (a test key pair here)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from headstore.links import new_key_pair, open_sealed
from headstore.settings import Settings

LINK_PRIVATE_KEY, LINK_PUBLIC_KEY = new_key_pair()


def settings(**overrides: Any) -> Settings:
    """In-memory settings whose link key pair these helpers can open."""
    return Settings(**{"persistence": "memory", "link_public_key": LINK_PUBLIC_KEY, **overrides})


def mailed_token(app: Any, aggregate_id: UUID) -> str:
    """The token of the newest link mailed for the aggregate (account or application)."""
    for event in reversed(list(app.events.get(aggregate_id))):
        sealed = getattr(event, "sealed_token", None) or getattr(event, "sealed_signup_token", None)
        if sealed:
            return open_sealed(sealed, LINK_PRIVATE_KEY)
    raise AssertionError(f"no mailed link for {aggregate_id}")


def verified_account(app: Any, email: str, name: str, password: str) -> UUID:
    """An account whose owner followed the mailed verification link (applying needs one)."""
    account_id: UUID = app.sign_up(email, password, name)
    app.verify_email(mailed_token(app, account_id))
    return account_id
