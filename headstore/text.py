"""Text people send us: one rule, used by the gateway's request models and the aggregates' guards.

Control characters have no place in a name, a tag or a search: NUL cannot even be stored by
PostgreSQL, and the others (C0 and C1 controls, DEL, the Unicode line and paragraph separators,
the bidirectional embeddings, overrides and isolates that make text read other than it is
stored, lone surrogates and noncharacters) only hide or disguise what is written. Multi-line
text (an offering, an answer, a review) may keep its line breaks and tabs; nothing else.
"""

from __future__ import annotations

import unicodedata

from headstore.errors import InvalidInput

MULTILINE_WHITESPACE = frozenset("\n\r\t")
"""What a multi-line field may hold beyond printable text: line breaks and tabs."""

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates (LRE…RLO, LRI…PDI). The marks (LRM, RLM, ALM) are kept:
right-to-left text needs them and they cannot reorder anything."""

LINE_SEPARATORS = frozenset("\u2028\u2029")


def forbidden_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of `value` that text may not hold, or None."""
    for char in value:
        if multiline and char in MULTILINE_WHITESPACE:
            continue
        if char in BIDI_CONTROLS or char in LINE_SEPARATORS:
            return char
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):  # C0, DEL, C1; lone surrogates
            return char
        if category == "Cn" and _is_noncharacter(char):
            return char
    return None


def _is_noncharacter(char: str) -> bool:
    point = ord(char)
    return 0xFDD0 <= point <= 0xFDEF or (point & 0xFFFE) == 0xFFFE


def describe_character(char: str) -> str:
    """U+0000, with the character's Unicode name when it has one."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def control_character_message(label: str, char: str, *, multiline: bool = False) -> str:
    allowed = "; only line breaks and tabs are allowed" if multiline else ""
    return f"{label} contains the control character {describe_character(char)}{allowed}."


def check_characters(value: str, field: str, *, multiline: bool = False, label: str = "") -> str:
    """`value` unchanged, or InvalidInput `invalid_characters` naming the character and the
    field."""
    char = forbidden_character(value, multiline=multiline)
    if char is not None:
        raise InvalidInput(
            "invalid_characters",
            control_character_message(label or field_label(field), char, multiline=multiline),
            field,
        )
    return value


def check_text(
    value: str,
    field: str,
    max_length: int,
    *,
    multiline: bool = False,
    min_length: int = 0,
    label: str = "",
) -> str:
    """`value` stripped of surrounding white space: text without control characters (line
    breaks and tabs allowed if `multiline`), of `min_length` to `max_length` characters.

    Codes: `invalid_<field>` (not text), `invalid_characters`, `<field>_required`,
    `<field>_too_short`, `<field>_too_long`; each error names `field`."""
    label = label or field_label(field)
    if not isinstance(value, str):
        raise InvalidInput(f"invalid_{field}", f"{label} must be text.", field)
    text = check_characters(value, field, multiline=multiline, label=label).strip()
    if len(text) < min_length:
        message = (
            f"{label} is required."
            if min_length == 1
            else f"{label} needs at least {min_length} characters."
        )
        raise InvalidInput(
            f"{field}_required" if not text else f"{field}_too_short", message, field
        )
    if len(text) > max_length:
        raise InvalidInput(
            f"{field}_too_long",
            f"{label} can be at most {max_length} characters; it has {len(text)}.",
            field,
        )
    return text


def field_label(field: str) -> str:
    """`job_title` → `Job title`, for messages."""
    words = field.rsplit(".", 1)[-1].replace("_", " ")
    return words[:1].upper() + words[1:]
