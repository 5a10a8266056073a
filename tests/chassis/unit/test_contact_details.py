import pytest

from headstore.contact_details import (
    EMAIL,
    MESSENGER,
    PHONE,
    WEB,
    check_no_contact_details,
    find_contact_details,
    scan_address,
    scan_contact_details,
)
from headstore.errors import InvalidInput


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
        ("add me on discord bob#1234", "discord bob#1234"),  # Discord's name#number
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
        "I build Discord bots in C# and F#",
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


# --- normalisation: what a person reads is what is searched ----------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ"),  # fullwidth
        ("𝐛𝐨𝐛@𝐠𝐦𝐚𝐢𝐥.𝐜𝐨𝐦", "𝐛𝐨𝐛@𝐠𝐦𝐚𝐢𝐥.𝐜𝐨𝐦"),  # mathematical bold
        ("ⓑⓞⓑ@ⓖⓜⓐⓘⓛ.ⓒⓞⓜ", "ⓑⓞⓑ@ⓖⓜⓐⓘⓛ.ⓒⓞⓜ"),  # circled letters
        ("b\u200bo\u200bb@example.com", "b\u200bo\u200bb@example.com"),  # zero-width spaces
        ("bob\u00ad@exa\u2060mple.com", "bob\u00ad@exa\u2060mple.com"),  # soft hyphen, joiner
        ("bob\x00@example.com", "bob\x00@example.com"),  # control character
        ("b̲o̲b̲@̲e̲x̲a̲m̲p̲l̲e̲.̲c̲o̲m̲", "b̲o̲b̲@̲e̲x̲a̲m̲p̲l̲e̲.̲c̲o̲m̲"),  # combining underline
        ("bob@example。com", "bob@example。com"),  # ideographic full stop
    ],
)
def test_unicode_disguises_are_seen_through(text: str, found: str) -> None:
    assert find_contact_details(text) == [found]
    assert kinds(text) == [EMAIL]


def test_look_alike_letters_from_other_scripts_are_read_as_latin() -> None:
    cyrillic = "b\u043eb@ex\u0430mple.c\u043em"  # о, а from Cyrillic
    assert find_contact_details(f"Mail {cyrillic}") == [cyrillic]


def test_foreign_digits_are_read_as_digits() -> None:
    assert kinds("Call ٠٧٧٠٠ ٩٠٠١٢٣") == [PHONE]  # Arabic-Indic
    assert kinds("Call +९१ ९८७६५ ४३२१०") == [PHONE]  # Devanagari
    assert kinds("Call ４１５－５５５－０１３２") == [PHONE]  # fullwidth


def test_letters_standing_in_for_digits_are_read_as_digits() -> None:
    assert kinds("Call O77OO 9OO l23") == [PHONE]


def test_ordinary_text_in_other_scripts_is_not_flagged() -> None:
    assert find_contact_details("Обо мне: консультант по налогам, 15 лет опыта.") == []
    assert find_contact_details("我是一名税务顾问，有15年经验。") == []
    assert find_contact_details("Gründer der Müller & Partner GmbH seit 2009.") == []


# --- spelled-out separators, spacing and number words ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "bob at gmail",
        "bob.smith at outlook dot com",
        "bob -at- example -dot- com",
        "bob_at_example_dot_com",
        "bob at sign gmail dot com",
        "ana arroba gmail punto com",
        "bob[at]example[.]com",
        "bob <at> example <dot> com",
        "bob(a)gmx.de",
        "bob@@hotmail.se",
        "raj at gmail d0t com",
        "bob at example,com",
        "b o b @ g m a i l . c o m",
        "gmail: bobsmith",
        "my gmail is bob.smith2",
    ],
)
def test_spelled_and_spaced_e_mail_addresses_are_found(text: str) -> None:
    assert kinds(text) == [EMAIL]


@pytest.mark.parametrize(
    "text",
    [
        "Engineer @ Google",
        "I worked at Google for 5 years",
        "Good at Excel, great at people",
        "Gmail is my favourite client",
        "Outlook: calendar and mail rules",
        "Three sessions @ 50 USD each",
    ],
)
def test_at_in_prose_is_not_an_e_mail_address(text: str) -> None:
    assert find_contact_details(text) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see example dot com", "example dot com"),
        ("see example [dot] co [dot] uk", "example [dot] co [dot] uk"),
        ("see example . com", "example . com"),
        ("see example .io", "example .io"),
        ("see www dot example dot com", "www dot example dot com"),
        ("find me at bob dot me", "bob dot me"),
        ("w w w . e x a m p l e . d e", "w w w . e x a m p l e . d e"),
        ("hxxps://example.de", "hxxps://example.de"),
    ],
)
def test_spelled_and_spaced_web_addresses_are_found(text: str, found: str) -> None:
    assert find_contact_details(text) == [found]
    assert kinds(text) == [WEB]


@pytest.mark.parametrize(
    "text",
    [
        "I survived the dot com bubble",
        "Senior dot net developer",
        "A red dot in the corner means overdue",
        "Ask me about .com vs country domains",
        "I connect the dots",
    ],
)
def test_dot_in_prose_is_not_a_web_address(text: str) -> None:
    assert find_contact_details(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "call four one five five five five zero one three two",
        "plus four four seven seven double oh nine double oh one two three",
        "triple five, one two three four",
        "two one two, five five five, zero one four seven",
        "null eins fünf eins zwei drei vier fünf sechs sieben acht",
        "seis uno dos tres cuatro cinco seis siete ocho",
        "zéro six un deux trois quatre cinq six sept huit",
        "four15-555-0132",
        "4 1 5 5 5 5 0 1 3 2",
        "4-1-5-5-5-5-0-1-3-2",
    ],
)
def test_numbers_in_words_or_spaced_out_are_phone_numbers(text: str) -> None:
    assert kinds(text) == [PHONE]


def test_a_few_number_words_in_prose_are_not_a_phone_number() -> None:
    assert find_contact_details("one, two or three sessions; twenty twenty four plans") == []


# --- phone numbers: phonenumbers' matcher in several regions -------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+33 6 12 34 56 78",
        "06 12 34 56 78",
        "+55 11 91234-5678",
        "+61 412 345 678",
        "+81 90-1234-5678",
        "+86 138 0013 8000",
        "+7 912 345-67-89",
        "98765 43210",
        "Handy 0171 / 123 45 67",
        "1-800-555-0199",
        "tel4155550132",
    ],
)
def test_phone_numbers_of_many_countries_are_found(text: str) -> None:
    assert kinds(text) == [PHONE]


def test_an_extension_letter_does_not_join_two_numbers() -> None:
    assert find_contact_details("RTX 4090, Ryzen 9 7950X, 128 GB DDR5.") == []
    assert find_contact_details("Call +1 212 555 0147 x 23") == ["+1 212 555 0147"]


@pytest.mark.parametrize(
    "text",
    [
        "ISBN 978-3-16-148410-0",
        "My book 978-0-306-40615-7 is in its second edition.",
        "ORCID 0000-0002-1825-0097",
        "DOI 10.1000/182",
        "Licence no. 1234567",
        "PMP #2914763",
        "EIN 12-3456789",
        "pp. 1021–1058",
        "Average deal size 12000000 USD",
        "Reached 2 000 000 users",
        "CHF 250'000",
        "Firmware 4.2.11.3",
        "Available from 01/07/2024 to 31/08/2024",
    ],
)
def test_numbers_that_name_or_count_things_are_not_phone_numbers(text: str) -> None:
    assert find_contact_details(text) == []


# --- web addresses: any public suffix, but not names, files or abbreviations --------------------


@pytest.mark.parametrize(
    "address",
    [
        "bob.berlin",
        "bob.ch",
        "bob.com.au",
        "bob.co.jp",
        "bob.consulting",
        "bob.london",
        "bob.pl",
        "bob.in",
        "bob.ai",
        "bob.app",
        "xn--bcher-kva.de",
        "bücher.de",
        "Bob.Com",
        "bob.github.io",
    ],
)
def test_bare_domains_on_any_public_suffix_are_web_addresses(address: str) -> None:
    assert find_contact_details(f"See {address} please") == [address]
    assert kinds(f"See {address} please") == [WEB]


@pytest.mark.parametrize(
    "text",
    [
        "Files: main.py, README.md, deploy.sh, Main.java, main.tf, lib.rs",
        "B.Com, M.Sc, M.Tech",
        "ASP.NET, VB.NET, ML.NET, Socket.IO",
        "Ex-Booking.com data scientist, deployed on Fly.io",
        "Over 15 years of experience.Today I focus on startups.",
        "I love this.Is it possible to book again?",
        "Python 3.11.2, IPv4 10.0.0.0/8",
    ],
)
def test_names_files_and_abbreviations_are_not_web_addresses(text: str) -> None:
    assert find_contact_details(text) == []


def test_a_name_becomes_an_address_with_a_path() -> None:
    assert kinds("amazon.com/shops/bob") == [WEB]


def test_the_public_suffix_list_is_read_without_the_network(monkeypatch, tmp_path) -> None:
    """tldextract would download the list and cache it in the home directory; here it must
    use the snapshot bundled in the package and write nothing."""
    import socket

    from headstore import contact_details

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "https://publicsuffix.org/list")
    contact_details._extractor.cache_clear()
    try:
        assert kinds("See bob.berlin") == [WEB]
        assert contact_details._extractor().suffix_list_urls == ()
    finally:
        contact_details._extractor.cache_clear()
    assert list(tmp_path.iterdir()) == []


# --- messengers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "WeChat ID: kenji_t88",
        "Signal: +1 415 555 0132",
        "Line ID: kenji_jp",
        "Viber: 380671234567",
        "Threema ID 7H3XK2QP",
        "snapchat: lenadesigns",
        "Instagram: annakeller.tax",
        "kenji_t88 on WeChat",
        "@lena_designs on Instagram",
        "t . me / felixbraun",
        "https://wa.me/447700900123?text=hi",
        "discord.gg/brightpath",
        "tg://resolve?domain=annakeller",
        "Skype ID: live:tomwalsh_1",
        "\u0422elegram: @annakeller",  # Cyrillic Т
    ],
)
def test_messenger_handles_in_many_forms_are_found(text: str) -> None:
    assert kinds(text) == [MESSENGER]


@pytest.mark.parametrize(
    "text",
    [
        "Signal processing for 5G networks",
        "Line manager for 12 engineers",
        "Signal: strong background in DSP",
        "Many of my clients run WhatsApp groups",
        "I build bots with the WhatsApp Business API",
        "Migrating companies from Skype for Business to Teams",
    ],
)
def test_messenger_names_in_prose_are_not_handles(text: str) -> None:
    assert find_contact_details(text) == []


# --- the guard ---------------------------------------------------------------------------------


def test_the_guard_names_what_it_found_and_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_no_contact_details("Ring 020 7946 0958 or bob at gmail", "review", "The review")
    assert refused.value.code == "contact_details_not_allowed"
    assert refused.value.field == "review"
    assert refused.value.message == (
        "The review contains contact details (phone number: 020 7946 0958, "
        "e-mail address: bob at gmail); clients contact you through Headstore."
    )


def test_the_guard_returns_clean_text_unchanged() -> None:
    text = "  Tax advice for freelancers, 10-15 years, USD 3.00/min  "
    assert check_no_contact_details(text, "offering", "Offering") is text


@pytest.mark.parametrize(
    "url",
    [
        "https://images.unsplash.com/photo-1503023345310-bd7c1de61c7d?w=400",
        "https://www.gravatar.com/avatar/205e460b479e2e5b48aec07710c08d50",
        "https://cdn.example.com/people/anna-keller-2024.jpg",
    ],
)
def test_an_image_address_is_allowed_as_an_address(url: str) -> None:
    assert scan_address(url) == []


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://bob@cdn.example.com/me.jpg", EMAIL),
        ("https://cdn.example.com/bob.smith@gmail.com.jpg", EMAIL),
        ("https://cdn.example.com/me.jpg?contact=bob%40gmail.com", EMAIL),
        ("https://cdn.example.com/call-me-+44-20-7946-0958.jpg", PHONE),
        ("https://cdn.example.com/www.bobsmith.com.png", WEB),
        ("https://t.me/bobsmith", MESSENGER),
        ("https://cdn.example.com/me.jpg#telegram:@bobsmith", MESSENGER),
    ],
)
def test_contact_details_hidden_in_an_image_address_are_found(url: str, kind: str) -> None:
    assert [detail.kind for detail in scan_address(url)] == [kind]
