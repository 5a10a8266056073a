"""Text people send us: one rule, used by the gateway's request models and the aggregates' guards.

Control characters have no place in a name, a tag or a search: NUL cannot even be stored by
PostgreSQL, and the others (C0 and C1 controls, DEL, the Unicode line and paragraph separators,
the bidirectional embeddings, overrides and isolates that make text read other than it is
stored, lone surrogates and noncharacters) only hide or disguise what is written. Multi-line
text (an offering, an answer, a review) may keep its line breaks and tabs; nothing else.
"""

from __future__ import annotations

import re
import unicodedata

from headstore.errors import InvalidInput

_BIDI_AND_SEPARATORS = r"\u2028\u2029\u202a-\u202e\u2066-\u2069"
# The line and paragraph separators, and the bidirectional embeddings, overrides and isolates
# (LRE…RLO, LRI…PDI). The marks (LRM, RLM, ALM) are kept: right-to-left text needs them and
# they cannot reorder anything.
FORBIDDEN_IN_LINE = r"\u0000-\u001f\u007f-\u009f" + _BIDI_AND_SEPARATORS
"""Regular-expression class body: what a single-line text may not hold (C0 with tab and line
breaks, DEL, C1, and the above)."""
FORBIDDEN_IN_MULTILINE = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f" + (
    _BIDI_AND_SEPARATORS
)
"""The same, less tab, line feed and carriage return."""
BLANK = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Every character Python's `str.strip()` removes (`str.isspace()`), as a class body."""

_FORBIDDEN = {
    # Lone surrogates cannot be encoded (nor stored); a JSON body can still spell one (\ud800).
    multiline: re.compile(f"[{forbidden}\\ud800-\\udfff]")
    for multiline, forbidden in ((False, FORBIDDEN_IN_LINE), (True, FORBIDDEN_IN_MULTILINE))
}


def text_pattern(*, multiline: bool = False, required: bool = False) -> str:
    """The JSON-schema `pattern` of text under this rule: no forbidden character and, if
    `required`, at least one that is not white space (what `check_text(min_length=1)` keeps)."""
    forbidden = FORBIDDEN_IN_MULTILINE if multiline else FORBIDDEN_IN_LINE
    if required:
        return f"^[^{forbidden}]*[^{forbidden}{BLANK}][^{forbidden}]*$"
    return f"^[^{forbidden}]*$"


def forbidden_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of `value` that text may not hold, or None."""
    found = _FORBIDDEN[multiline].search(value)
    return found.group() if found else None


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
