import pytest

from headstore.contact_details import (
    EMAIL,
    MESSENGER,
    PHONE,
    WEB,
    find_contact_details,
    scan_contact_details,
)


def kinds(text: str) -> list[str]:
    return [detail.kind for detail in scan_contact_details(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Write to bob@example.com today.", "bob@example.com"),
        ("Write to Bob.Smith+work@mail.example.co.uk", "Bob.Smith+work@mail.example.co.uk"),
        ("bob @ example.com", "bob @ example.com"),
        ("mail bob at example dot com", "bob at example dot com"),
        ("mail bob AT example DOT co DOT uk", "bob AT example DOT co DOT uk"),
        ("mail bob at example.com", "bob at example.com"),
        ("mail bob [at] example", "bob [at] example"),
        ("mail bob(at)example(dot)com", "bob(at)example(dot)com"),
        ("mail bob {at} example [dot] io", "bob {at} example [dot] io"),
    ],
)
def test_email_addresses_are_found(text: str, found: str) -> None:
    assert find_contact_details(text) == [found]
    assert kinds(text) == [EMAIL]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Call +44 20 7946 0958.", "+44 20 7946 0958"),
        ("Call +44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
        ("Call (555) 123-4567", "(555) 123-4567"),
        ("Call 555-1234 after six", "555-1234"),
        ("Call 555 123 4567", "555 123 4567"),
        ("Call 0049.30.1234567", "0049.30.1234567"),
        ("Call 07700900123", "07700900123"),
    ],
)
def test_phone_numbers_are_found(text: str, found: str) -> None:
    assert find_contact_details(text) == [found]
    assert kinds(text) == [PHONE]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("See https://example.com/about, thanks", "https://example.com/about"),
        ("See http://bob.example.org", "http://bob.example.org"),
        ("See www.bob.de.", "www.bob.de"),
        ("See example.com.", "example.com"),
        ("See example.io for more", "example.io"),
        ("See my-site.co.uk", "my-site.co.uk"),
        ("See EXAMPLE.COM", "EXAMPLE.COM"),
        ("See bob.me/blog", "bob.me/blog"),
    ],
)
def test_web_addresses_are_found(text: str, found: str) -> None:
    assert find_contact_details(text) == [found]
    assert kinds(text) == [WEB]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Follow @bob_smith", "@bob_smith"),
        ("skype: bob.smith", "skype: bob.smith"),
        ("Skype ID: bob.smith", "Skype ID: bob.smith"),
        ("telegram @bob", "telegram @bob"),
        ("Message me at t.me/bobsmith", "t.me/bobsmith"),
        ("wa.me/447700900123", "wa.me/447700900123"),
        ("WhatsApp me on +44 7700 900123", "WhatsApp me on +44 7700 900123"),
        ("whatsapp: bobsmith", "whatsapp: bobsmith"),
    ],
)
def test_messenger_handles_are_found(text: str, found: str) -> None:
    assert find_contact_details(text) == [found]
    assert kinds(text) == [MESSENGER]


@pytest.mark.parametrize(
    "text",
    [
        "10+ years of experience",
        "version 2.0",
        "Dr. Smith and Mr. Jones",
        "I answer within 24 hours",
        "We raised 5.5 million",
        "The sentence ends here.Next one starts",
        "Managing director 2015-2023, partner 1998 - 2004",
        "Certified on 12.05.2023",
        "Grew revenue to 1.500.000 EUR and 1,500,000 USD",
        "e.g. taxes, i.e. the boring part",
        "Ph.D. from a U.S.A. university",
        "We met at noon. Then we talked",
        "I work at night and at weekends",
        "Senior ASP.NET and Node.js developer",
        "I use Skype for sessions",
        "Telegram is popular in my country",
        "Rated 4.9 by 1200 clients in 30 countries",
        "Available 24/7, 3 languages, 90-minute sessions",
        "Files like report.pdf and notes.txt",
        "ISO 9001:2015 auditor",
        "",
    ],
)
def test_ordinary_prose_is_not_contact_details(text: str) -> None:
    assert find_contact_details(text) == []


def test_several_details_are_found_in_order() -> None:
    text = "Mail bob@example.com, call 555 123 4567 or see example.com"
    assert find_contact_details(text) == ["bob@example.com", "555 123 4567", "example.com"]


def test_the_domain_of_an_email_address_is_not_reported_again() -> None:
    assert kinds("bob@example.com") == [EMAIL]


def test_a_detail_describes_its_kind_and_text() -> None:
    (detail,) = scan_contact_details("bob@example.com")
    assert str(detail) == "e-mail address: bob@example.com"
