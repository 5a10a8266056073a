"""The one rule for text people send: no control characters (line breaks and tabs allowed in
multi-line text), stripped, bounded, with a stable code and the field."""

from __future__ import annotations

import re

import pytest

from headstore.errors import InvalidInput
from headstore.text import check_text, forbidden_character, text_pattern


@pytest.mark.parametrize(
    "char",
    [
        "\x00",  # NUL: PostgreSQL cannot store it
        "\x01",
        "\x1b",  # ESC
        "\x7f",  # DEL
        "\x80",
        "\x85",  # NEL
        "\x9f",
        "\u2028",  # line separator
        "\u2029",  # paragraph separator
        "\u202a",
        "\u202e",  # right-to-left override
        "\u2066",
        "\u2069",
        "\ud800",  # a lone surrogate
    ],
)
def test_control_characters_are_forbidden_in_any_text(char: str) -> None:
    assert forbidden_character(f"a{char}b") == char
    assert forbidden_character(f"a{char}b", multiline=True) == char


@pytest.mark.parametrize("char", ["\n", "\r", "\t"])
def test_line_breaks_and_tabs_are_allowed_only_in_multi_line_text(char: str) -> None:
    assert forbidden_character(f"a{char}b") == char
    assert forbidden_character(f"a{char}b", multiline=True) is None


@pytest.mark.parametrize(
    "text",
    [
        "Ada Lovelace",
        "Zoë Ñúñez-O'Brien",
        "مرحبا\u200fبالعالم",  # Arabic with a right-to-left mark
        "東京の税理士",
        "C++ / ASP.NET, 1–2 € ✓ 🙂",
        "\u00a0non-breaking\u2009thin",
    ],
)
def test_ordinary_text_in_any_script_passes(text: str) -> None:
    assert forbidden_character(text) is None


def test_the_error_names_the_field_and_the_character() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_text("Ann\x00", "job_title", 80)
    error = caught.value
    assert (error.code, error.field, error.http_status) == ("invalid_characters", "job_title", 422)
    assert error.message == "Job title contains the control character U+0000."


def test_text_is_stripped_and_bounded() -> None:
    assert check_text("  Ann ", "name", 3, min_length=1) == "Ann"
    assert check_text("\tAnn\r\n", "name", 3, multiline=True) == "Ann"
    with pytest.raises(InvalidInput) as too_long:
        check_text("Anna", "name", 3)
    assert (too_long.value.code, too_long.value.field) == ("name_too_long", "name")
    with pytest.raises(InvalidInput) as missing:
        check_text("   ", "name", 3, min_length=1)
    assert missing.value.code == "name_required"
    with pytest.raises(InvalidInput) as not_text:
        check_text(3, "name", 3)  # type: ignore[arg-type]
    assert not_text.value.code == "invalid_name"


@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize(
    "value", ["Ann", "  Ann ", "", "   ", "\u00a0", "A\tB", "A\nB", "A\x00B", "\u202eAnn", "Zoë"]
)
def test_the_documented_pattern_says_what_check_text_accepts(value: str, multiline: bool) -> None:
    """The gateway publishes the pattern; the aggregates run check_text: they must agree."""
    for required in (False, True):
        documented = re.search(text_pattern(multiline=multiline, required=required), value)
        try:
            check_text(value, "name", 100, multiline=multiline, min_length=int(required))
            accepted = True
        except InvalidInput:
            accepted = False
        assert bool(documented) == accepted, (value, multiline, required)
