"""Finding contact details in free text, so nobody routes clients or experts around Headstore.

The FAQ promises experts may not put contact details in their profile: clients reach them by
message, appointment request or a paid session. The same rule holds for every public text field
of every service (names, job titles, companies, tags, offerings, descriptions, photo addresses,
reviews, application answers, and later questions, answers and messages):
`check_no_contact_details` is the one guard they call.

The text is first normalised, so that what a person reads is what is searched:
- Unicode compatibility forms are folded as NFKC folds them (fullwidth `ｂｏｂ＠ｅｘａｍｐｌｅ`,
  mathematical letters, circled digits; done as NFKD so that the combining marks it separates
  can be dropped too), zero-width and control characters are removed, every kind of space
  becomes a space and every digit (Arabic-Indic, Devanagari, ➌…) its ASCII digit;
- letters that look like Latin ones are mapped to them (`confusable-homoglyphs`, Unicode's
  confusables table: Cyrillic `о`, Greek `ο`…);
- spelled-out separators are read as such: `bob [at] example (dot) com`, `bob at example dot
  com`, `example . com`, `example。com`; letters spaced apart (`b o b @ g m a i l . c o m`) are
  joined, and number words (`four one five…`, `double seven`, `zwei`, `cinco`) become digits.
Each detail found is reported as it appears in the original text.

What counts, and the libraries that decide it:
- phone numbers: `phonenumbers`' PhoneNumberMatcher, tried in several regions, then ordinary
  numbers it would accept are set aside (years, dates, versions, prices, thousands, ISBNs and
  licence numbers);
- web addresses: anything with a scheme or `www.`, or a bare name ending in a suffix of the
  public suffix list (`tldextract`, with the list bundled in the package: it never downloads);
  names of things people write about (`ASP.NET`, `Socket.IO`, file names such as `main.py`,
  degrees such as `B.Com`) are not addresses;
- e-mail addresses, written or spelled out;
- messenger handles: `t.me/…`, `wa.me/…` and similar links, a messenger's name followed by an id
  or number (`Skype: bob.smith`, `WhatsApp +44…`), `bob_88 on Telegram`, and `@handles`.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import phonenumbers
import tldextract
from confusable_homoglyphs.confusables import confusables_data

from headstore.errors import InvalidInput

EMAIL = "e-mail address"
PHONE = "phone number"
WEB = "web address"
MESSENGER = "messenger handle"

CONTACT_DETAILS_NOT_ALLOWED = "contact_details_not_allowed"


class ContactDetail(NamedTuple):
    kind: str
    """One of EMAIL, PHONE, WEB, MESSENGER."""
    text: str
    """The text as it appears in the input."""
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}"


def check_no_contact_details(
    text: str,
    field: str,
    label: str,
    *,
    because: str = "clients contact you through Headstore.",
    address: bool = False,
) -> str:
    """`text` unchanged, or InvalidInput `contact_details_not_allowed` naming what was found and
    the field. `address=True` checks a web address that is allowed as such (a photo): only
    contact details hidden inside it count (see `scan_address`)."""
    details = scan_address(text) if address else scan_contact_details(text)
    if details:
        raise InvalidInput(
            CONTACT_DETAILS_NOT_ALLOWED,
            f"{label} contains contact details ({describe(details)}); {because}",
            field,
        )
    return text


def scan_contact_details(text: str) -> list[ContactDetail]:
    """Every contact detail in `text`, in order of appearance, without overlaps."""
    if not isinstance(text, str) or not text.strip():
        return []
    normalised = _normalised(text)
    views = [_separators_read(normalised)]
    joined = _spaced_letters_joined(normalised)
    if joined is not normalised:
        views.append(_separators_read(joined))
    numbers = _number_words_read(normalised)
    candidates: list[tuple[str, int, int]] = []
    for kind, finder in (
        (MESSENGER, _messenger_links),
        (EMAIL, _emails),
        (MESSENGER, _messenger_ids),
        (WEB, _web_addresses),
    ):
        for view in views:
            candidates += [(kind, *view.original(span)) for span in finder(view, text)]
    for view in [*views, numbers] if numbers is not normalised else views:
        candidates += [(PHONE, *view.original(span)) for span in _phone_numbers(view.text)]
    candidates += [(MESSENGER, *normalised.original(span)) for span in _handles(normalised, text)]
    return _without_overlaps(text, candidates)


def scan_address(url: str) -> list[ContactDetail]:
    """Contact details hidden in a web address that is itself allowed (a photo's address).

    The host is a web address by nature and is not reported. What is reported: a user name
    before the host (`https://bob@…`), hosts that are messenger links (`t.me`, `wa.me`), and
    e-mail addresses, web addresses, messenger handles and international phone numbers
    (`+44…`) in the decoded path, query or fragment. Long digit runs are normal there (image
    ids, timestamps, content hashes), so local-looking numbers are not read as phones."""
    if not isinstance(url, str) or not url.strip():
        return []
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return scan_contact_details(url)
    found: list[ContactDetail] = []
    authority_start = url.find("//") + 2 if "//" in url else 0
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        start = url.find(userinfo, authority_start)
        found.append(ContactDetail(EMAIL, url[start : start + len(userinfo) + 1], start, start))
    host = (parts.hostname or "").lower()
    if _is_messenger_host(host):
        start = url.lower().find(host, authority_start)
        found.append(ContactDetail(MESSENGER, url[start:], start, len(url)))
    rest_start = url.find(parts.netloc, authority_start) + len(parts.netloc) if parts.netloc else 0
    rest = unquote(url[rest_start:])
    readable = re.sub(r"[/?&=#_]", " ", rest)
    for detail in scan_contact_details(readable):
        if detail.kind == PHONE and not re.match(r"\s*(?:\+|00)", detail.text):
            continue
        found.append(detail._replace(start=rest_start, end=len(url)))
    return found


def find_contact_details(text: str) -> list[str]:
    """The contact details in `text`, each as it appears there; empty when there are none."""
    return [detail.text for detail in scan_contact_details(text)]


def describe(details: Sequence[ContactDetail]) -> str:
    """'e-mail address: bob@example.com, phone number: 555 123 4567'"""
    return ", ".join(str(detail) for detail in details)


def _without_overlaps(text: str, candidates: Iterable[tuple[str, int, int]]) -> list[ContactDetail]:
    """The first candidate of each overlapping group wins: candidates come in order of how
    specific their kind is (a messenger link before the web address it also is)."""
    found: list[ContactDetail] = []
    for kind, raw_start, raw_end in candidates:
        start, end = _trimmed(text, raw_start, raw_end)
        while end < len(text) and unicodedata.category(text[end]) in ("Mn", "Me", "Cf"):
            end += 1  # the marks of the last character: "m̲"
        if end <= start or any(start < other.end and other.start < end for other in found):
            continue
        found.append(ContactDetail(kind, text[start:end], start, end))
    return sorted(found, key=lambda detail: detail.start)


_TRAILING = ".,;:!?)]}>'\"*-_ "
_LEADING = "([{<'\"*-_ "


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1] in _TRAILING:
        # A closing bracket that belongs to the detail stays: "(555) 123", "(dot)com"
        if text[end - 1] in ")]}>" and _opens(text[end - 1]) in text[start : end - 1]:
            break
        end -= 1
    while start < end and text[start] in _LEADING:
        if text[start] in "([{<" and _closes(text[start]) in text[start + 1 : end]:
            break
        start += 1
    return start, end


def _opens(closing: str) -> str:
    return {")": "(", "]": "[", "}": "{", ">": "<"}[closing]


def _closes(opening: str) -> str:
    return {"(": ")", "[": "]", "{": "}", "<": ">"}[opening]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---------------------------------------------------------------------------------------------
# Views: the text as read, each character remembering where it came from
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    text: str
    starts: tuple[int, ...]
    """For each character, where the original text it was read from starts…"""
    ends: tuple[int, ...]
    """…and where it ends (exclusive)."""

    def original(self, span: tuple[int, int]) -> tuple[int, int]:
        start, end = span
        return self.starts[start], self.ends[end - 1]

    def sub(self, pattern: re.Pattern[str], read: Callable[[re.Match[str]], str | None]) -> _View:
        """Each match replaced by what `read` makes of it (None leaves it as it is). The new
        characters span the whole matched original text, so a detail found in the view is
        reported as it was written."""
        text: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        done = 0
        for match in pattern.finditer(self.text):
            replacement = read(match) if match.end() > match.start() else None
            if replacement is None or replacement == match.group():
                continue
            text.append(self.text[done : match.start()])
            starts += self.starts[done : match.start()]
            ends += self.ends[done : match.start()]
            first, last = self.starts[match.start()], self.ends[match.end() - 1]
            text.append(replacement)
            starts += [first] * len(replacement)
            ends += [last] * len(replacement)
            done = match.end()
        if not done:
            return self
        text.append(self.text[done:])
        starts += self.starts[done:]
        ends += self.ends[done:]
        return _View("".join(text), tuple(starts), tuple(ends))


_SPACES = re.compile(r"\s+")


def _normalised(text: str) -> _View:
    """Compatibility forms folded, marks and invisible characters removed, look-alike letters
    and foreign digits mapped to ASCII, every space a single space."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(text):
        for piece in _read_character(char):
            out.append(piece)
            starts.append(index)
            ends.append(index + 1)
    view = _View("".join(out), tuple(starts), tuple(ends))
    return view.sub(_SPACES, lambda match: None if match.group() == " " else " ")


@cache
def _read_character(char: str) -> str:
    if char.isascii():
        return char if char.isprintable() else (" " if char.isspace() else "")
    if char.isspace():
        return " "
    pieces = []
    for piece in unicodedata.normalize("NFKD", char):
        category = unicodedata.category(piece)
        if category in ("Mn", "Me", "Cf", "Cc", "Cs", "Co", "Cn"):
            continue  # accents, keycaps, zero-width and bidi marks, controls
        if category in ("Nd", "No") and unicodedata.digit(piece, None) is not None:
            pieces.append(str(unicodedata.digit(piece)))  # "٣", "➌"
        elif piece.isascii():
            pieces.append(piece)
        elif piece.isspace() or category in ("Zl", "Zp"):
            pieces.append(" ")
        else:
            pieces.append(_homoglyphs().get(piece, piece))
    return "".join(pieces)


_HOMOGLYPH_TARGETS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.")
_DOTS = "\u00b7\u2022\u2024\u2027\u2219\u22c5\u30fb\u3002\uff0e\uff61\ufe52\u0701\u0702"


@cache
def _homoglyphs() -> dict[str, str]:
    """Each non-ASCII character Unicode's confusables table says looks like an ASCII letter,
    digit, "@" or "." mapped to it (letters preferring letters), plus the dot-like marks."""
    table: dict[str, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = [h["c"] for h in homoglyphs if h["c"] in _HOMOGLYPH_TARGETS]
        if char.isalpha():
            targets = sorted(targets, key=lambda target: not target.isalpha())
        if targets:
            table[char] = targets[0]
    table.update(dict.fromkeys(_DOTS, "."))
    table.update(dict.fromkeys("\ufe6b\uff20", "@"))
    return table


# ---------------------------------------------------------------------------------------------
# Reading spelled-out separators, spaced letters and number words
# ---------------------------------------------------------------------------------------------

# Short, frequent English words: "the dot com era", "look at this.is" and "me at t.me/bob" are
# not addresses.
_STOPWORDS = _words("""
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its just me more most my
    no nor not now of off on once only or other our ours out over own same she should so some
    such than that the their them then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours
    work works worked working based available call email mail find reach contact look looking
    meet met us one yes ok
    """)

# Words that stand before ".NET" in job titles: "senior dot net developer".
_DOT_NET_WORDS = _words("senior junior lead expert certified asp vb ado ml c f classic")

# Country codes that are also English words: read from a spelled "dot" only at the end of a
# clause ("find me at bob dot me."), never inside prose ("a red dot in the corner").
_WORD_SUFFIXES = _words("am as at be by do in is it me my no so to us")

_BRACKETED_AT = re.compile(
    r"\s*(?:[\[({<]\s*(?:at|@|a)\s*[\])}>]|[\[({<]\s*at\s*|\s*at\s*[\])}>])\s*", re.IGNORECASE
)
_BRACKETED_DOT = re.compile(
    r"\s*[\[({<]\s*(?:dot|\.|d0t|punkt|punto|point)\s*[\])}>]\s*", re.IGNORECASE
)
_JOINED_SEPARATOR = re.compile(r"(?<=[^\W_])\s*[-_](at|dot)[-_]\s*(?=[^\W_])", re.IGNORECASE)
_SPELLED_DOT = re.compile(
    r"(?<=\w)\s+(?:dot|d0t|punkt|punto|point)\s*(?=\w)|(?<=\w)\s*dot(?=com\b)", re.IGNORECASE
)
_SPACED_DOT = re.compile(r"(?<=\w)\s+\.\s*(?=\w)|(?<=\w)[.,]\s+(?=(?:com|net|org|io)\b)")
_COMMA_DOT = re.compile(r"(?<=\w),(?=(?:com|net|org|io|de|co)\b)", re.IGNORECASE)
_SPACED_AT = re.compile(r"(?<=[\w.+-])\s*@+\s*(?=\w)")
_SPELLED_AT = re.compile(r"(?<=\w)\s+(?:at sign|at|arroba|chez|bei)\s+(?=\w)", re.IGNORECASE)
_OBFUSCATED_SCHEME = re.compile(r"\bh(?:xx|tt)p(s?)\s*:\s*/\s*/\s*", re.IGNORECASE)
_ZERO_IN_SUFFIX = re.compile(r"(?<=\.)c0m\b|(?<=\.)0rg\b", re.IGNORECASE)
_WORD_BEFORE = re.compile(r"([\w+-]+)\W*$")
_WORD_AFTER = re.compile(r"\s*([\w-]+)")
_DOMAIN_AFTER = re.compile(r"[\w-]+(?:\.[\w-]+)+")
_LOCAL_BEFORE = re.compile(r"[\w.+-]+$")


def _separators_read(view: _View) -> _View:
    view = view.sub(_BRACKETED_AT, lambda match: "@")
    view = view.sub(_BRACKETED_DOT, lambda match: ".")
    view = view.sub(_JOINED_SEPARATOR, lambda m: "@" if m.group(1).lower() == "at" else ".")
    view = view.sub(_SPELLED_DOT, lambda match: _spelled_dot(view.text, match))
    view = view.sub(_SPACED_DOT, lambda match: _spaced_dot(view.text, match))
    view = view.sub(_COMMA_DOT, lambda match: ".")
    view = view.sub(_ZERO_IN_SUFFIX, lambda match: match.group().replace("0", "o"))
    view = view.sub(_SPACED_AT, lambda match: "@")
    view = view.sub(_SPELLED_AT, lambda match: _spelled_at(view.text, match))
    return view.sub(_OBFUSCATED_SCHEME, lambda match: f"http{match.group(1)}://")


def _spelled_dot(text: str, match: re.Match[str]) -> str | None:
    before = _WORD_BEFORE.search(text, 0, match.start())
    after = _WORD_AFTER.match(text, match.end())
    if not before or not after:
        return None
    left, right = before.group(1).lower(), after.group(1).lower()
    if left in _STOPWORDS or (right == "net" and left in _DOT_NET_WORDS):
        return None
    if right in _WORD_SUFFIXES and re.match(r"\s*\w", text[after.end() :]):
        return None
    return "."


def _spaced_dot(text: str, match: re.Match[str]) -> str | None:
    """ "example . com", "example .com": but "ask me about .com domains" is prose."""
    before = _WORD_BEFORE.search(text, 0, match.start())
    return None if before and before.group(1).lower() in _STOPWORDS else "."


def _spelled_at(text: str, match: re.Match[str]) -> str | None:
    """A spelled "at" between a local part and a registrable domain, or a mail provider
    ("bob at gmail"): "worked at example.com" is read as a web address instead."""
    local = _LOCAL_BEFORE.search(text, 0, match.start())
    if not local or local.group().lower() in _STOPWORDS:
        return None
    domain = _DOMAIN_AFTER.match(text, match.end())
    if domain and _is_address(domain.group()):
        return "@"
    word = _WORD_AFTER.match(text, match.end())
    provider = word.group(1).lower() if word else ""
    handle_like = re.search(r"[\d._+]", local.group().strip("."))
    if provider in _MAIL_ONLY_PROVIDERS or (provider in _MAIL_PROVIDERS and handle_like):
        return "@"
    return None


_SPACED_LETTERS = re.compile(r"(?<!\S)\S(?: \S(?!\S)){3,}|\b[^\W_](?:[-_*][^\W_]\b){3,}")


def _spaced_letters_joined(view: _View) -> _View:
    """ "b o b @ g m a i l . c o m" → "bob@gmail.com"; "4-1-5-5-5-5" → "415555"."""
    return view.sub(_SPACED_LETTERS, lambda match: re.sub(r"[ _*-]", "", match.group()))


_UNITS = {
    # English, German, Spanish, French; accents are already removed
    **dict.fromkeys(("zero", "oh", "null", "cero"), "0"),
    **dict.fromkeys(("one", "eins", "uno", "un", "une"), "1"),
    **dict.fromkeys(("two", "zwei", "zwo", "dos", "deux"), "2"),
    **dict.fromkeys(("three", "drei", "tres", "trois"), "3"),
    **dict.fromkeys(("four", "vier", "cuatro", "quatre"), "4"),
    **dict.fromkeys(("five", "funf", "fuenf", "cinco", "cinq"), "5"),
    **dict.fromkeys(("six", "sechs", "seis"), "6"),
    **dict.fromkeys(("seven", "sieben", "siete", "sept"), "7"),
    **dict.fromkeys(("eight", "acht", "ocho", "huit"), "8"),
    **dict.fromkeys(("nine", "neun", "nueve", "neuf"), "9"),
}
_TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
_TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_REPEATS = {"double": 2, "triple": 3}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TEENS, *_TENS, *_REPEATS], key=len, reverse=True))
_NUMBER_TOKEN = rf"(?:(?<![^\W\d_])(?:{_NUMBER_WORD})(?![^\W\d_])|\d+)"
_NUMBER_RUN = re.compile(
    rf"(?:\bplus\s+|\+\s*)?{_NUMBER_TOKEN}(?:[\s,./-]*{_NUMBER_TOKEN})+", re.IGNORECASE
)
_LOOKALIKE_DIGITS = re.compile(r"(?<![\w|])[\dOoIl|]*\d[\dOoIl|]*(?![\w|])")


def _number_words_read(view: _View) -> _View:
    """Digits in place of number words ("four one five, double five…" → "41555…") and of
    letters standing in for them ("O77OO 9OO l23" → "07700 900 123")."""
    view = view.sub(
        _LOOKALIKE_DIGITS,
        lambda match: re.sub("[Oo]", "0", re.sub("[Il|]", "1", match.group())),
    )
    return view.sub(_NUMBER_RUN, _number_run)


def _number_run(match: re.Match[str]) -> str | None:
    tokens = re.findall(rf"{_NUMBER_TOKEN}", match.group(), re.IGNORECASE)
    words = sum(1 for token in tokens if not token.isdigit())
    if not words:
        return None
    digits: list[str] = []
    repeat = 1
    for index, token in enumerate(tokens):
        word = token.lower()
        if word in _REPEATS:
            repeat = _REPEATS[word]
            continue
        if word in _TENS:
            following = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
            value = _TENS[word] + ("" if following in _UNITS and following != "zero" else "0")
        else:
            value = token if token.isdigit() else _UNITS.get(word) or _TEENS[word]
        digits.append(value * repeat)
        repeat = 1
    number = "".join(digits)
    if not 7 <= len(number) <= 15 or (words == 1 and len(number) < 10):
        return None
    plus = "+" if re.match(r"\s*(?:plus\b|\+)", match.group(), re.IGNORECASE) else ""
    return plus + number


# ---------------------------------------------------------------------------------------------
# E-mail addresses
# ---------------------------------------------------------------------------------------------

_MAIL_ONLY_PROVIDERS = _words(
    """gmail googlemail hotmail protonmail protonme gmx ymail icloud mailru rediffmail tutanota
    fastmail hanmail"""
)
_MAIL_PROVIDERS = _MAIL_ONLY_PROVIDERS | _words(
    "yahoo outlook aol zoho yandex proton live msn qq naver web mail"
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]*\w@(?P<domain>[\w-]+(?:\.[\w-]+)*)")


# "gmail: felix.braun2", "my gmail is felix.braun2"
_MAILBOX_ID = re.compile(
    rf"\b(?P<provider>{'|'.join(sorted(_MAIL_PROVIDERS - {'web', 'mail', 'live'}))})\b"
    r"(?:\s*(?:[:=-]|\b(?:is|id|address|account|name)\b))+\s*(?P<value>\w[\w.+-]*\w)",
    re.IGNORECASE,
)


def _emails(view: _View, original: str) -> list[tuple[int, int]]:
    spans = [
        match.span()
        for match in _MAILBOX_ID.finditer(view.text)
        if _handle_shaped(match.group("value"))
        or (
            match.group("provider").lower() in _MAIL_ONLY_PROVIDERS
            and match.group("value").lower() not in _STOPWORDS
        )
    ]
    for match in _EMAIL.finditer(view.text):
        domain = match.group("domain")
        at = match.start("domain") - 1
        local = view.text[match.start() : at]
        written = original[view.starts[at] : view.ends[at]].strip() == "@"
        if (
            _is_address(domain, strict=False)
            or domain.split(".")[0].lower() in _MAIL_PROVIDERS
            or re.search(r"[\d._+]", local.strip("."))
            or not written  # "bob [at] example"
        ):
            spans.append(match.span())
    return spans


# ---------------------------------------------------------------------------------------------
# Web addresses
# ---------------------------------------------------------------------------------------------


@cache
def _extractor() -> tldextract.TLDExtract:
    """The public suffix list as bundled with tldextract: no download (suffix_list_urls=()),
    no cache directory."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


# Names of things people write about that happen to be registrable domains.
_NAMES = _words(
    """asp.net vb.net ado.net ml.net dot.net math.net socket.io fly.io booking.com amazon.com
    salesforce.com hotels.com expedia.com monday.com"""
)

# File types whose extension is also a top-level domain: "main.py", "README.md", "Main.java".
# ".pl" is not among them: Polish addresses are far more common in profiles than Perl scripts.
_FILE_SUFFIXES = _words("py sh pm md rs cc zip mov tf am ac mk ml ps st sc gs java so")
_FILE_EXTENSIONS = _words(
    """jpg jpeg png gif webp svg avif heic bmp tif tiff pdf doc docx xls xlsx ppt pptx txt csv
    json xml html htm js ts"""
)

# Top-level domains seen in contact details often enough that "Example.Com" counts even in
# title case; other title-case endings read as a missing space ("end.Today we").
_COMMON_SUFFIXES = _words("com net org io co info biz de uk ch nl eu ru fr cz xyz")

_ADDRESS = re.compile(
    r"(?<![\w@.+#-])(?P<scheme>https?://)?(?P<host>(?:[\w-]+\.)+[\w-]+)(?P<port>:\d{1,5})?"
    r"(?P<path>/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_SCHEME_ADDRESS = re.compile(r"(?<![\w.-])https?://[^\s<>\"']+", re.IGNORECASE)


def _web_addresses(view: _View, original: str) -> list[tuple[int, int]]:
    text = view.text
    spans = [match.span() for match in _SCHEME_ADDRESS.finditer(text)]
    for match in _ADDRESS.finditer(text):
        host = match.group("host")
        written_as_address = match.group("scheme") or host.lower().startswith("www.")
        path = bool(match.group("path") or match.group("port"))
        if written_as_address or _is_address(host, path=path):
            spans.append(match.span())
    return spans


def _is_address(host: str, *, path: bool = False, strict: bool = True) -> bool:
    """Whether `host`, written without a scheme, is a web address: a name under a public
    suffix that is not a product, a file, an abbreviation or a missing space."""
    labels = host.split(".")
    if len(labels) > 2 and labels[-1].lower() in _FILE_EXTENSIONS:
        labels = labels[:-1]  # "bobsmith.com.jpg"
        host = ".".join(labels)
    if "_" in host or any(not label for label in labels) or labels[-1].isdigit():
        return False
    parts = _extractor()(host)
    if not parts.suffix or not parts.domain:
        return False
    if path or not strict:
        return True
    suffix, name = parts.suffix, parts.domain
    if re.sub(r"^(?:ex|former|pre|post)-", "", f"{name}.{suffix}".lower()) in _NAMES:
        return False  # "ASP.NET", "ex-Booking.com"
    if len(name) == 1 and not parts.subdomain:
        return False  # "B.Com", "M.Sc", "M.Tech": degrees
    if suffix.lower() in _FILE_SUFFIXES and not parts.subdomain:
        return False
    if suffix[0].isupper() and suffix[1:].islower() and suffix.lower() not in _COMMON_SUFFIXES:
        return False  # "here.Next", "experience.Today": a sentence without its space
    return not (suffix.lower() in _WORD_SUFFIXES and name.lower() in _STOPWORDS)


# ---------------------------------------------------------------------------------------------
# Messenger links, ids and handles
# ---------------------------------------------------------------------------------------------

_MESSENGER_HOSTS = _words(
    """t.me telegram.me telegram.dog wa.me api.whatsapp.com chat.whatsapp.com m.me
    discord.gg discord.com signal.me signal.group line.me u.wechat.com weixin.qq.com
    join.skype.com viber.com invite.viber.com snapchat.com threema.id"""
)
_MESSENGER_LINK = re.compile(
    r"(?<![\w.-])(?:https?://)?(?:www\.)?(?P<host>(?:[\w-]+\.)+[\w-]+)\s?/\s?[^\s<>\"']+"
    r"|\b(?:skype|tg|viber|whatsapp|sgnl|weixin):/*[^\s<>\"']+",
    re.IGNORECASE,
)


def _is_messenger_host(host: str) -> bool:
    return host.lower().removeprefix("www.") in _MESSENGER_HOSTS


def _messenger_links(view: _View, original: str) -> list[tuple[int, int]]:
    return [
        match.span()
        for match in _MESSENGER_LINK.finditer(view.text)
        if match.group("host") is None or _is_messenger_host(match.group("host"))
    ]


# Names that are only messengers, and names that are also ordinary words ("signal processing",
# "line manager", "snap decision"): those need an explicit id, a colon or a handle.
_MESSENGERS = (
    r"skype|telegramm?|tele\s?gram|whats\s?app|whatsap|watsapp|viber|we\s?chat|weixin|threema"
    r"|discord|snapchat|kik|icq|instagram|insta|zalo|kakao\s?talk|kakao|wickr"
    r"|(?:facebook|fb)\s?messenger"
)
_AMBIGUOUS_MESSENGERS = (
    r"signal|line|tg|wa|ig|fb|imo|snap|twitter|messenger|linkedin|facebook|tiktok|youtube|github"
)
_ID_WORDS = r"id|number|no|nr|handle|username|user\s?name|user|nick|nickname|account|contact"
_FILLERS = rf"me|us|at|on|via|to|my|our|is|or|and|add|name|{_ID_WORDS}"
_MESSENGER_ID = re.compile(
    rf"\b(?P<app>{_MESSENGERS}|{_AMBIGUOUS_MESSENGERS})\b"
    rf"(?P<filler>(?:\s*(?:[:=]|-(?=\s)|\b(?:{_FILLERS})\b\.?))*)"
    r"\s*(?P<value>@\s?\w[\w.-]*\w|\+?\(?\d[\d\s().-]{5,}\d|\w[\w.:+#-]*\w)",
    re.IGNORECASE,
)
_HANDLE_ON_MESSENGER = re.compile(
    r"(?<![\w@.+-])(?P<value>@?\w[\w.-]*\w)\s*(?:\bon\b|\bvia\b|\bat\b|@|\()\s*"
    rf"(?P<app>{_MESSENGERS}|{_AMBIGUOUS_MESSENGERS})\b\)?",
    re.IGNORECASE,
)
# Words that follow a messenger's name in ordinary prose: "Skype: yes", "WhatsApp groups".
_ORDINARY_VALUES = _words(
    "yes no available none sessions calls video voice group groups chat channel"
)


def _messenger_ids(view: _View, original: str) -> list[tuple[int, int]]:
    text = view.text
    spans = []
    for match in _MESSENGER_ID.finditer(text):
        value, filler = match.group("value"), match.group("filler")
        if value.lower() in _STOPWORDS or value.lower() in _ORDINARY_VALUES:
            continue
        ambiguous = re.fullmatch(_AMBIGUOUS_MESSENGERS, match.group("app"), re.IGNORECASE)
        introduced = re.search(r"[:=]", filler) or (
            re.search(rf"\b(?:{_ID_WORDS})\b", filler, re.IGNORECASE)
        )
        if _is_number(value):
            found = _reads_as_phone(text, match.start("value"), match.end("value"))
        elif ambiguous:
            found = value.startswith("@") or bool(introduced and _handle_shaped(value))
        else:
            found = bool(introduced) or _handle_shaped(value)
        if found:
            spans.append(match.span())
    for match in _HANDLE_ON_MESSENGER.finditer(text):
        value = match.group("value")
        ambiguous = re.fullmatch(_AMBIGUOUS_MESSENGERS, match.group("app"), re.IGNORECASE)
        if value.startswith("@") or (not ambiguous and _handle_shaped(value)):
            spans.append(match.span())
    return spans


def _is_number(value: str) -> bool:
    return not re.search(r"[^\W\d_]", value)


def _handle_shaped(value: str) -> bool:
    """ "@bob", "bob_smith", "bob.smith", "bob88": not an ordinary word."""
    if value.startswith("@"):
        return True
    has_letter = re.search(r"[^\W\d_]", value)
    return bool(has_letter) and bool(re.search(r"\d|_|\w\.\w", value))


_HANDLE = re.compile(r"(?<![\w@.+-])@(?=\w*[^\W\d_])\w(?:[\w.]{0,28}\w)?\b")


def _handles(view: _View, original: str) -> list[tuple[int, int]]:
    return [match.span() for match in _HANDLE.finditer(view.text)]


# ---------------------------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------------------------

# Regions whose national formats the matcher is asked to read: North America's fixed lengths,
# and three plans with many possible lengths (Germany's alone finds every national number of
# the corpus). Numbers written with "+" or an international prefix are found whatever the
# region. Each region is one more pass over the text.
_REGIONS = ("US", "GB", "DE", "IN")

_YEAR = re.compile(r"^(?:19|20)\d\d$")
_DATE = re.compile(r"^(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{2}|\d{4})|\d{4}[./-]\d{1,2}[./-]\d{1,2})$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$|^\d{1,3}(?:,\d{3})+$|^\d{1,3}(?:'\d{3})+$")
_ROUND_THOUSANDS = re.compile(r"^\d{1,3}(?: 000)+$")
_VERSION = re.compile(r"^(?:0|[1-9]\d?)(?:\.\d+){1,3}$")
# Numbers that name something rather than reach someone.
_IDENTIFIER_BEFORE = re.compile(
    r"(?:\b(?:isbn(?:-1[03])?|issn|orcid|doi|patent|licen[cs]e[ds]?|registration|reg|"
    r"certificate|cert|credential|member(?:ship)?|ean|gtin|case|invoice|order|ticket|iso|din|"
    r"en|iec|version|v|release|build|pages?|ein|ssn|tin|vat|ust-?id(?:nr)?|uid|siret|siren|"
    r"abn|acn|gst|nif|nie|cif|utr)\b|\bpp?\.)"
    r"\.?\s*(?:no\.?|nr\.?|number|#|id)?\s*[:#]?\s*$|#\s*$",
    re.IGNORECASE,
)
_MONEY_BEFORE = re.compile(
    r"(?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|cad|aud|jpy|inr|sek|nok|dkk))\s*$", re.I
)
_MONEY_AFTER = re.compile(
    r"^\s*(?:[$€£¥₹%]|(?:usd|eur|gbp|chf|cad|aud|jpy|inr|sek|nok|dkk|euros?|dollars?|pounds?|"
    r"francs?|rupees?|users|people|clients|customers|hours|words|downloads|members|employees|"
    r"followers|km|kg|m|units|copies)\b)",
    re.IGNORECASE,
)


_DIGIT_RUN = re.compile(r"(?<![\d+])\+?\d(?:[\s().-]?\d){9,14}(?![\s().-]?\d)")


def _phone_numbers(text: str) -> list[tuple[int, int]]:
    if sum(char.isdigit() for char in text) < 7:
        return []
    spans: list[tuple[int, int]] = []
    for region in _REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            # The matcher reads "x" or "ext" as an extension: "Ryzen 9 7950X, 128 GB" is not
            # "9 7950 extension 128"; only the number before it counts.
            letter = re.search(r"[^\W\d_]", match.raw_string)
            end = match.start + (letter.start() if letter else len(match.raw_string))
            end = match.start + len(text[match.start : end].rstrip(" ,.(-"))
            if _reads_as_phone(text, match.start, end):
                spans.append((match.start, end))
    # Digits glued to letters ("phone4155550123") escape the matcher; ten or more in a row are
    # still a number.
    for run in _DIGIT_RUN.finditer(text):
        if _reads_as_phone(text, run.start(), run.end()):
            spans.append(run.span())
    return _merged(spans)


def _reads_as_phone(text: str, start: int, end: int) -> bool:
    candidate = text[start:end]
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        return False
    groups = re.findall(r"\d+", candidate)
    if all(_YEAR.match(group) for group in groups):
        return False  # "2015-2023", "1998 2004 2010"
    compact = re.sub(r"\s", "", candidate)
    if _DATE.match(compact) or _THOUSANDS.match(compact) or _ROUND_THOUSANDS.match(candidate):
        return False  # "12.05.2023", "1.500.000", "2 000 000"
    before, after = text[max(0, start - 40) : start], text[end : end + 30]
    if _IDENTIFIER_BEFORE.search(before) or _is_isbn(digits):
        return False  # "ISBN 978-3-16-148410-0", "licence no. 1234567"
    if re.search(r"\d[.,/-]$", before) or re.match(r"[.,/-]\d", after):
        return False  # part of a longer number: "10.1000/182", "0000-0002-1825-0097"
    if candidate.startswith("+") or candidate.startswith("00"):
        return True
    if _is_range(candidate):
        return False  # "pp. 1021–1058"
    if _VERSION.match(compact) and any(len(group) <= 2 for group in groups):
        return False  # "10.15.7", "4.2.11.3"
    if re.search(r"[\w-]$", before) and not re.search(
        r"(?:tel|phone|call|mobile|fon)$", before, re.I
    ):
        return len(digits) >= 10  # glued to a word: "SKU-1234567"
    if _MONEY_BEFORE.search(before) or _MONEY_AFTER.match(after):
        return _has_phone_grouping(candidate) and not re.search(r"\d[.,]\d{2}$", candidate)
    return True


def _is_range(candidate: str) -> bool:
    """Two numbers joined by a dash that reads as "to": an en dash, or a hyphen with spaces."""
    parts = re.fullmatch(r"(\d+)\s*(?:[\u2013\u2014]|\s-\s)\s*(\d+)", candidate)
    return parts is not None and int(parts[1]) < int(parts[2])


def _is_isbn(digits: str) -> bool:
    """An ISBN-13: 978 or 979 and a valid check digit."""
    if len(digits) != 13 or not digits.startswith(("978", "979")):
        return False
    weighted = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(digits))
    return weighted % 10 == 0


def _has_phone_grouping(candidate: str) -> bool:
    return bool(re.search(r"\d[\s-]\d{3,4}[\s-]\d{4}", candidate))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
