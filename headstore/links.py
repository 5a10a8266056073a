"""Tokens of mailed links, sealed for the one service that mails them.

A mailed link (e-mail verification, password reset, expert signup) carries a random single-use
token. The service that makes it keeps only its digest, and the token must reach the
notifications service through events (stored, then on AMQP) without anyone else being able to
read it: it is sealed with notifications' public key (libsodium's sealed box: X25519 and
XSalsa20-Poly1305 with a throw-away sender key), and only notifications holds the private key.
Keys and sealed tokens travel as standard base64 text.
"""

from __future__ import annotations

import base64
import binascii

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox


class LinkSealError(ValueError):
    """A key is missing or malformed, or a sealed token does not open with the key."""


def _key_bytes(key: str, variable: str) -> bytes:
    if not key:
        raise LinkSealError(f"{variable} is not set: mailed-link tokens cannot be sealed or opened")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise LinkSealError(f"{variable} is not base64") from None
    if len(raw) != 32:
        raise LinkSealError(f"{variable} must be 32 bytes, base64-encoded")
    return raw


def seal(token: str, public_key: str) -> str:
    """`token` sealed for the holder of the private half of `public_key` (base64 text)."""
    box = SealedBox(PublicKey(_key_bytes(public_key, "NOTIFICATIONS_LINK_PUBLIC_KEY")))
    return base64.b64encode(box.encrypt(token.encode())).decode()


def open_sealed(sealed: str | bytes, private_key: str) -> str:
    """The token inside `sealed` (base64 text, or the raw bytes of a protobuf `bytes` field)."""
    box = SealedBox(PrivateKey(_key_bytes(private_key, "NOTIFICATIONS_LINK_PRIVATE_KEY")))
    try:
        raw = sealed if isinstance(sealed, bytes) else base64.b64decode(sealed, validate=True)
        return box.decrypt(raw).decode()
    except (CryptoError, binascii.Error, ValueError, UnicodeDecodeError):
        raise LinkSealError(
            "a sealed link token does not open with NOTIFICATIONS_LINK_PRIVATE_KEY: the key "
            "pair of notifications and profiles do not match, or the token was altered"
        ) from None


def new_key_pair() -> tuple[str, str]:
    """(private, public) keys as base64 text, for development runs and tests."""
    private = PrivateKey.generate()
    return (
        base64.b64encode(bytes(private)).decode(),
        base64.b64encode(bytes(private.public_key)).decode(),
    )
