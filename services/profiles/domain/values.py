"""What more than one profiles aggregate checks: e-mail addresses, token digests and mailed
links, times and lifetimes, public text and names, referral codes.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta
from typing import Any

from headstore.contact_details import check_no_contact_details
from headstore.errors import InvalidInput, PreconditionFailed
from headstore.text import check_text, field_label

_EMAIL_RE = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_TOKEN_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str, field: str = "email") -> str:
    """The address normalised to lower case; InvalidInput `invalid_email` if it is not one."""
    normalised = normalise_email(email) if isinstance(email, str) else ""
    local = normalised.partition("@")[0]
    if len(normalised) > 254 or len(local) > 64 or not _EMAIL_RE.match(normalised):
        raise InvalidInput(
            "invalid_email", f"{email!r} is not an e-mail address like name@example.com.", field
        )
    return normalised


def check_token_digest(token_digest: str, field: str = "token") -> str:
    """A SHA-256 hex digest (64 hex characters), lower-cased."""
    digest = token_digest.strip().lower() if isinstance(token_digest, str) else ""
    if not _TOKEN_DIGEST_RE.match(digest):
        raise InvalidInput(
            "invalid_token_digest", "A token digest must be 64 hexadecimal characters.", field
        )
    return digest


def check_aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput("invalid_time", f"{field} must be a time with a time zone.", field)
    return moment


def check_lifetime(lifetime: timedelta, field: str = "lifetime") -> timedelta:
    if not isinstance(lifetime, timedelta) or lifetime <= timedelta(0):
        raise InvalidInput("invalid_lifetime", "A link's lifetime must be positive.", field)
    return lifetime


def same_digest(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


def check_new_link(token_digest: str, now: datetime, lifetime: timedelta) -> tuple[str, datetime]:
    digest = check_token_digest(token_digest)
    return digest, check_aware(now, "now") + check_lifetime(lifetime)


def check_link(
    code: str,
    name: str,
    remedy: str,
    current: dict[str, Any] | None,
    spent: dict[str, str],
    digest: str,
    now: datetime,
) -> None:
    """The single-use link rules shared by verification and reset links."""
    if current is not None and same_digest(current["digest"], digest):
        if now >= current["expires_at"]:
            raise PreconditionFailed(
                f"{code}_link_expired", f"This {name} has expired. {remedy}", "token"
            )
        return
    reason = spent.get(digest)
    if reason == "used":
        raise PreconditionFailed(
            f"{code}_link_used", f"This {name} has already been used. {remedy}", "token"
        )
    if reason == "superseded":
        raise PreconditionFailed(
            f"{code}_link_superseded",
            f"A newer {name} replaced this one; use the latest e-mail. {remedy}",
            "token",
        )
    raise InvalidInput(f"{code}_link_invalid", f"This {name} is not valid. {remedy}", "token")


_REFERRAL_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$")


def check_referral_code(referral_code: str | None) -> str | None:
    """The code in its canonical (upper-case) form, or None for no code: codes are compared
    without regard to case, so an applicant may type `hs-k3jx7qpa` for `HS-K3JX7QPA`."""
    if referral_code is None or not referral_code.strip():
        return None
    code = referral_code.strip()
    if not _REFERRAL_CODE_RE.match(code):
        raise InvalidInput(
            "invalid_referral_code",
            f"{referral_code!r} is not a referral code; it is 3–40 letters, digits, - or _.",
            "referral_code",
        )
    return code.upper()


MAX_NAME_LENGTH = 80


def check_public_text(
    value: str,
    field: str,
    max_length: int,
    *,
    min_length: int = 0,
    multiline: bool = False,
    label: str = "",
) -> str:
    """`check_text`, and no contact details: for every text other people read."""
    text = check_text(
        value, field, max_length, min_length=min_length, multiline=multiline, label=label
    )
    return check_no_contact_details(text, field, label or field_label(field))
