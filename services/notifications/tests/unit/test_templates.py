from __future__ import annotations

from datetime import UTC, datetime

from devtools.mailbox import find_links
from services.notifications import templates

URL = "https://headstore.test"
EXPIRES = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)


def test_verification_mail_links_to_verify_email_with_the_token():
    mail = templates.email_verification(URL, "Ada", "tok/en+1", EXPIRES)
    assert find_links(mail.text) == ["https://headstore.test/verify-email?token=tok%2Fen%2B1"]
    assert 'href="https://headstore.test/verify-email?token=tok%2Fen%2B1"' in mail.html
    assert mail.text.startswith("Hello Ada,")
    assert "10:30 UTC on 5 January 2026" in mail.text


def test_reset_mail_links_to_reset_password_and_says_when_it_expires():
    mail = templates.password_reset(URL + "/", "Ada", "abc", EXPIRES)
    assert "Reset" in mail.subject
    assert find_links(mail.text) == ["https://headstore.test/reset-password?token=abc"]
    assert "works until 10:30 UTC on 5 January 2026" in mail.text
    assert "works until 10:30 UTC on 5 January 2026" in mail.html


def test_a_sign_up_attempt_tells_the_owner_to_log_in_or_reset():
    mail = templates.sign_up_attempted(URL, "Ada")
    assert mail.subject == "Someone tried to sign up with your address"
    assert "log in" in mail.text and "reset" in mail.text
    assert f"{URL}/reset-password" in mail.text
    assert "nothing was created" in mail.text


def test_password_changed_notice_says_how_to_recover():
    mail = templates.password_changed(URL, "")
    assert mail.text.startswith("Hello,")
    assert "was just changed" in mail.text
    assert "Reset your password" in mail.text
    assert "token=" not in mail.text


def test_accepted_expert_gets_a_signup_link_and_the_guidelines():
    mail = templates.expert_accepted(URL, "Grace", "signup-1", EXPIRES)
    assert find_links(mail.text) == ["https://headstore.test/expert-signup?token=signup-1"]
    text = mail.text
    assert "accepted" in mail.subject
    assert "Complete your expert profile" in text
    assert "rate per minute and your currency" in text
    assert "no later than 24 hours" in text
    assert "Go online" in text
    assert mail.html.count("<li>") == len(templates.EXPERT_GUIDELINES)


def test_rejected_expert_reads_the_trustees_comment():
    mail = templates.expert_rejected("Grace", "Please add <your> certifications.")
    assert "Please add <your> certifications." in mail.text
    assert "Please add &lt;your&gt; certifications." in mail.html


def test_rejection_without_a_comment_says_so():
    assert "did not add a comment" in templates.expert_rejected("Grace", "  ").text


def test_names_are_escaped_in_html():
    mail = templates.password_changed(URL, "<script>x</script>")
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html


def test_a_link_without_expiry_says_nothing_about_it():
    mail = templates.email_verification(URL, "Ada", "t", None)
    assert "works until" not in mail.text
