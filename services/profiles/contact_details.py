"""Finding contact details in free text, so profiles cannot route clients around Headstore.

The FAQ promises experts may not put contact details in their profile: clients reach them by
message, appointment request or a paid session. This module finds e-mail addresses (also spelled
out: "bob at example dot com", "bob [at] example"), phone numbers, web addresses and messenger
handles, and tries hard not to flag ordinary prose ("10+ years", "version 2.0", "Dr. Smith",
"5.5 million", "2015-2023").

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from typing import NamedTuple

EMAIL = "e-mail address"
PHONE = "phone number"
WEB = "web address"
MESSENGER = "messenger handle"


class ContactDetail(NamedTuple):
    kind: str
    """One of EMAIL, PHONE, WEB, MESSENGER."""
    text: str
    """The text as it appears in the input."""
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}"


# Top-level domains a bare address (no scheme, no "www.") must end in to count as a web address.
# Country codes that are also common English words ("is", "at", "be", "to", "in", "me", "it",
# "no", "so", "us") are left out: "this.is" is a typo far more often than an address. Addresses
# with those endings are still found with a scheme, "www." or a path ("t.me/bob").
_BARE_TLDS_TEXT = """
    com net org info biz edu gov mil int name pro mobi asia app dev ai io co xyz online site
    website shop store tech blog page link live club email space agency consulting coach expert
    academy solutions services design media studio world today life guru global digital cloud
    uk de fr es nl ch eu ca au nz ie pt pl cz gr se dk fi ru cn jp kr br mx ar cl ly gg tv cc
    fm ws la vc sh ac im li lu hu ro bg sk si hr rs ua tr il ae sa za ng ke sg hk tw my ph th vn
    """
_BARE_TLDS = frozenset(_BARE_TLDS_TEXT.split())

# Dotted words that look like domains but are names of things people write about.
_NOT_DOMAINS = frozenset({"asp.net", "vb.net", "ado.net", "dot.net", "vue.js", "node.js"})

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[\w.+-]+\s?@\s?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

# "bob [at] example", "bob(at)example.com", "bob {at} example {dot} com"
_BRACKETED_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[\w.+-]+\s*[\[({<]\s*at\s*[\])}>]\s*[A-Za-z0-9-]+"
    r"(?:(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.)[A-Za-z0-9-]+)*(?![\w/-]|\.\w)",
    re.IGNORECASE,
)

# "bob at example dot com", "bob AT example DOT co DOT uk", "bob at example.com": a plain "at"
# needs a spelled-out or bracketed "dot", or a real dot glued to a lower-case word.
_SPELLED_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[\w.+-]+\s+at\s+[A-Za-z0-9-]+"
    r"(?:(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.(?=(?-i:[a-z])))[A-Za-z0-9-]+)+"
    r"(?![\w/-]|\.\w)",
    re.IGNORECASE,
)

_MESSENGER_LINK_RE = re.compile(
    r"(?<![\w.-])(?:https?://)?(?:t\.me|telegram\.me|wa\.me|m\.me|discord\.gg|"
    r"chat\.whatsapp\.com)/\S+",
    re.IGNORECASE,
)

_MESSENGERS = r"skype|telegram|whatsapp|whats\s?app|viber|wechat|threema|discord|snapchat"
_MESSENGER_ID_RE = re.compile(
    rf"\b(?:{_MESSENGERS})\b"
    r"(?:\s+(?:me|us|at|on|via|to|id|is|number|handle|name|account|contact))*"
    r"\s*(?:[:=]\s*@?[\w.+-]*\w|@\s?\w[\w.]*\w|\+?\(?\d[\d\s().-]{5,}\d)",
    re.IGNORECASE,
)

_HANDLE_RE = re.compile(r"(?<![\w@.+-])@(?=\w*[A-Za-z])\w(?:[\w.]{0,28}\w)?\b")

_URL_RE = re.compile(r"(?<![\w.-])(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)

_BARE_DOMAIN_RE = re.compile(
    r"(?<![\w@.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?P<tld>[A-Za-z]{2,24})\b(?!\.?\w)(?P<path>/[^\s<>\"']*)?",
)

# Digit groups joined by short separators (space, dot, dash), with an optional leading "+" and
# parenthesised area codes: "+44 (0)20 7946 0958", "(555) 123-4567", "0049.30.1234567".
_AREA = r"(?:\(\s?\d{1,5}\s?\)\s?)"
_PHONE_RE = re.compile(
    rf"(?<![\w.,+-])(?:\+\s?)?{_AREA}?\d+(?:[ .-]{{1,2}}{_AREA}?\d+)*(?![\w+]|[.,]\d)"
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_DATE = re.compile(r"^(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{2}|\d{4})|\d{4}-\d{1,2}-\d{1,2})$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$|^\d{1,3}(?:,\d{3})+$")

_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def scan_contact_details(text: str) -> list[ContactDetail]:
    """Every contact detail in `text`, in order of appearance, without overlaps."""
    found: list[ContactDetail] = []
    for kind, candidates in (
        (EMAIL, _emails(text)),
        (MESSENGER, _messenger_ids(text)),
        (WEB, _web_addresses(text)),
        (PHONE, _phone_numbers(text)),
        (MESSENGER, _handles(text)),
    ):
        for start, end in candidates:
            if not any(start < other.end and other.start < end for other in found):
                found.append(ContactDetail(kind, text[start:end], start, end))
    return sorted(found, key=lambda detail: detail.start)


def find_contact_details(text: str) -> list[str]:
    """The contact details in `text`, each as it appears there; empty when there are none."""
    return [detail.text for detail in scan_contact_details(text)]


def describe(details: list[ContactDetail]) -> str:
    """'e-mail address: bob@example.com, phone number: 555 123 4567'"""
    return ", ".join(str(detail) for detail in details)


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [_trimmed(match.start(), match.end(), text) for match in pattern.finditer(text)]


def _trimmed(start: int, end: int, text: str) -> tuple[int, int]:
    while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
        end -= 1
    return start, end


def _emails(text: str) -> list[tuple[int, int]]:
    return (
        _spans(_EMAIL_RE, text)
        + _spans(_BRACKETED_EMAIL_RE, text)
        + _spans(_SPELLED_EMAIL_RE, text)
    )


def _messenger_ids(text: str) -> list[tuple[int, int]]:
    return _spans(_MESSENGER_LINK_RE, text) + _spans(_MESSENGER_ID_RE, text)


def _handles(text: str) -> list[tuple[int, int]]:
    return _spans(_HANDLE_RE, text)


def _web_addresses(text: str) -> list[tuple[int, int]]:
    spans = _spans(_URL_RE, text)
    for match in _BARE_DOMAIN_RE.finditer(text):
        tld = match.group("tld")
        if match.group(0).lower().rstrip(_TRAILING_PUNCTUATION) in _NOT_DOMAINS:
            continue
        if tld[0].isupper() and tld[1:].islower():
            continue  # "end.Next": a missing space before a new sentence, not an address
        if match.group("path") or tld.lower() in _BARE_TLDS:
            spans.append(_trimmed(match.start(), match.end(), text))
    return spans


def _phone_numbers(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _PHONE_RE.finditer(text):
        candidate = match.group(0)
        digits = re.sub(r"\D", "", candidate)
        if not 7 <= len(digits) <= 15:
            continue
        groups = re.findall(r"\d+", candidate)
        if all(_YEAR.match(group) for group in groups):
            continue  # "2015-2023", "1998 2004 2010"
        compact = re.sub(r"\s", "", candidate)
        if _DATE.match(compact) or _THOUSANDS.match(compact):
            continue  # "12.05.2023", "1.500.000"
        spans.append(_trimmed(match.start(), match.end(), text))
    return spans
