"""The mails the platform sends, each as plain text and simple HTML with the same content.

Every template is a function of plain values (no events, no settings objects), so it can be
tested and previewed on its own. Links are built from the public URL of the web app.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from headstore.money import format_money

EMAIL_VERIFICATION = "email_verification"
PASSWORD_RESET = "password_reset"
PASSWORD_CHANGED = "password_changed"
SIGN_UP_ATTEMPTED = "sign_up_attempted"
EXPERT_ACCEPTED = "expert_accepted"
EXPERT_REJECTED = "expert_rejected"
RECEIPT_CLIENT = "receipt_client"
RECEIPT_EXPERT = "receipt_expert"
REFUND_REQUESTED = "refund_requested"
REFUND_REFUSED = "refund_refused"
REFUND_CLIENT = "refund_client"
REFUND_EXPERT = "refund_expert"
DISPUTE_OPENED = "dispute_opened"
DISPUTE_CLOSED = "dispute_closed"

SIGNATURE = "The Headstore team"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


Block = str | Link | Bullets


def link(public_url: str, path: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/{path}?token={quote(token, safe='')}"


def describe_expiry(expires_at: datetime | None) -> str:
    """'The link works until 10:30 UTC on 5 January 2026.', or '' without an expiry."""
    if expires_at is None:
        return ""
    at = expires_at.astimezone(UTC)
    return f"The link works until {at:%H:%M} UTC on {at.day} {at:%B %Y}."


def _greeting(name: str) -> str:
    return f"Hello {name.strip()}," if name.strip() else "Hello,"


def _render(subject: str, name: str, blocks: list[Block]) -> Rendered:
    text_parts = [_greeting(name)]
    html_parts = [f"<p>{html.escape(_greeting(name))}</p>"]
    for block in blocks:
        if isinstance(block, Link):
            text_parts.append(f"{block.label}:\n{block.url}")
            url = html.escape(block.url)
            html_parts.append(f'<p><a href="{url}">{html.escape(block.label)}</a><br>{url}</p>')
        elif isinstance(block, Bullets):
            text_parts.append("\n".join(f"- {item}" for item in block.items))
            items = "".join(f"<li>{html.escape(item)}</li>" for item in block.items)
            html_parts.append(f"<ul>{items}</ul>")
        elif block:
            text_parts.append(block)
            html_parts.append(f"<p>{html.escape(block)}</p>".replace("\n", "<br>"))
    text_parts.append(SIGNATURE)
    html_parts.append(f"<p>{html.escape(SIGNATURE)}</p>")
    page = (
        '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.4">'
        + "".join(html_parts)
        + "</body></html>"
    )
    return Rendered(subject=subject, text="\n\n".join(text_parts) + "\n", html=page)


def email_verification(
    public_url: str, name: str, token: str, expires_at: datetime | None
) -> Rendered:
    return _render(
        "Confirm your e-mail address",
        name,
        [
            "Please confirm that this is your e-mail address, so clients and experts can reach"
            " you on Headstore.",
            Link("Confirm your e-mail address", link(public_url, "verify-email", token)),
            describe_expiry(expires_at),
            "If you did not sign up for Headstore, you can ignore this mail.",
        ],
    )


def password_reset(public_url: str, name: str, token: str, expires_at: datetime | None) -> Rendered:
    return _render(
        "Reset your Headstore password",
        name,
        [
            "Someone asked to reset the password of your Headstore account. Choose a new"
            " password here:",
            Link("Reset your password", link(public_url, "reset-password", token)),
            describe_expiry(expires_at) + " The link can be used once.",
            "If you did not ask for this, ignore this mail: your password stays as it is.",
        ],
    )


def sign_up_attempted(public_url: str, name: str) -> Rendered:
    return _render(
        "Someone tried to sign up with your address",
        name,
        [
            "Someone just tried to create a Headstore account with your e-mail address. You "
            "already have an account, so nothing was created.",
            "If that was you, log in instead. If you forgot your password, reset it: click "
            '"Login", then "Reset your password", and enter your e-mail address.',
            Link("Reset your password", f"{public_url.rstrip('/')}/reset-password"),
            "If it was not you, ignore this mail: your account is unchanged.",
        ],
    )


def password_changed(public_url: str, name: str) -> Rendered:
    return _render(
        "Your Headstore password was changed",
        name,
        [
            "The password of your Headstore account was just changed.",
            "If that was you, there is nothing more to do. If it was not, reset your password"
            ' now: click "Login", then "Reset your password", and enter your e-mail address.',
            Link("Go to Headstore", public_url.rstrip("/")),
        ],
    )


EXPERT_GUIDELINES = (
    "Complete your expert profile: photo, job title, company, offering, categories, languages"
    " and description.",
    "Set your rate per minute and your currency (USD, GBP, EUR, CAD or CHF), and any initial"
    " free minutes for new clients.",
    "Answer clients' messages and appointment requests as soon as possible, and no later than"
    " 24 hours.",
    "Go online when you can take sessions: clients can then call you by voice or video, and"
    " you see what you earn as the session runs.",
    "Activate payout with Stripe to receive your earnings every week (your rate minus our 10%"
    " commission).",
    "Answer questions, publish articles and upload documents to earn reputation points.",
)


def expert_accepted(
    public_url: str, name: str, signup_token: str, expires_at: datetime | None
) -> Rendered:
    return _render(
        "Welcome to Headstore: your expert application was accepted",
        name,
        [
            "Congratulations: our committee of trustees has accepted your application to become"
            " a Headstore expert.",
            Link("Sign up as an expert", link(public_url, "expert-signup", signup_token)),
            describe_expiry(expires_at),
            "To get started:",
            Bullets(EXPERT_GUIDELINES),
            "We look forward to seeing you online.",
        ],
    )


def expert_rejected(name: str, comment: str) -> Rendered:
    comment = comment.strip()
    return _render(
        "Your Headstore expert application",
        name,
        [
            "Thank you for applying to become a Headstore expert. Our committee of trustees has"
            " reviewed your application and cannot accept it at this time.",
            f"The trustees' comment:\n{comment}"
            if comment
            else "The trustees did not add a comment.",
            "You are welcome to keep using Headstore as a client, and to ask and answer"
            " questions in the Q&A area.",
        ],
    )


def session_receipt(
    name: str,
    *,
    for_expert: bool,
    other_name: str,
    session_id: str,
    minutes: int,
    billed_minutes: int,
    rate_minor: int,
    total_minor: int,
    expert_share_minor: int,
    currency: str,
) -> Rendered:
    """The receipt both sides get after each session (FAQ: "a receipt including the total
    amount for the session")."""
    free = minutes - billed_minutes
    lines = [
        f"Session: {session_id}",
        f"{'Client' if for_expert else 'Expert'}: {other_name}",
        f"Minutes: {minutes}" + (f" ({free} free)" if free else ""),
        f"Rate: {format_money(rate_minor, currency)} per minute",
        f"Total: {format_money(total_minor, currency)}",
    ]
    if for_expert:
        lines += [
            f"Your earnings: {format_money(expert_share_minor, currency)}",
            f"Headstore commission: {format_money(total_minor - expert_share_minor, currency)}",
        ]
        intro = "Here is the receipt for the session you just held."
        outro = "Your earnings are paid out to your bank account weekly through Stripe."
    else:
        intro = "Thank you for your session. Here is your receipt."
        outro = "The total was charged to your card. You can rate the session on Headstore."
    return _render(
        f"Your Headstore receipt: {format_money(total_minor, currency)}",
        name,
        [intro, "\n".join(lines), outro],
    )


PAYOUT_STATEMENT = "payout_statement"


@dataclass(frozen=True)
class StatementLine:
    currency: str
    earnings_minor: int
    ambassador_shares_minor: int
    amount_minor: int
    status: str  # "sent" or "failed"
    reason: str
    balance_minor: int


def payout_statement(
    name: str, *, period_start: datetime, period_end: datetime, lines: list[StatementLine]
) -> Rendered:
    """The weekly statement after the payout run: per currency, what was earned in the week,
    what was transferred (or why not) and what is still unpaid."""
    start, end = period_start.astimezone(UTC), period_end.astimezone(UTC)
    if end - start >= timedelta(days=1):
        last_day = (end - timedelta(microseconds=1)).date()
        period = f"{start:%d %B %Y} to {last_day:%d %B %Y}"
    else:  # a test calendar with short weeks
        period = f"{start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC"
    blocks: list[Block] = [f"Here is your Headstore payout statement for {period}."]
    for line in lines:
        transferred = format_money(line.amount_minor, line.currency)
        items = [
            f"Earned from sessions this week: {format_money(line.earnings_minor, line.currency)}"
        ]
        if line.ambassador_shares_minor:
            items.append(
                f"Ambassador shares this week: "
                f"{format_money(line.ambassador_shares_minor, line.currency)}"
            )
        if line.status == "sent":
            items.append(f"Transferred to your Stripe account: {transferred}")
        else:
            items.append(
                f"Not transferred: {transferred} "
                f"({line.reason or 'refused by Stripe'}); we try again with the next payout."
            )
        items.append(f"Still unpaid: {format_money(line.balance_minor, line.currency)}")
        blocks += [line.currency, Bullets(tuple(items))]
    blocks.append("Stripe pays transfers out to your bank account on its usual schedule.")
    total = ", ".join(
        format_money(line.amount_minor, line.currency) for line in lines if line.status == "sent"
    )
    return _render(f"Your Headstore payout: {total or 'nothing transferred'}", name, blocks)


# --- refunds and disputes ----------------------------------------------------------------------


def refund_requested(
    public_url: str,
    name: str,
    *,
    client_name: str,
    session_id: str,
    amount_minor: int,
    currency: str,
    reason: str,
) -> Rendered:
    """To the expert: a client asked for the charge of a session back, and why."""
    amount = format_money(amount_minor, currency)
    reason = reason.strip()
    return _render(
        f"A client asked for a refund of {amount}",
        name,
        [
            f"{client_name or 'Your client'} asked for a refund of the session {session_id}"
            f" ({amount}).",
            f"The client's reason:\n{reason}" if reason else "The client gave no reason.",
            "What to do: if you agree, log in to Headstore and grant the refund of this session."
            " The client gets the whole charge back and your"
            " earnings for the session are taken back from your next payout. If you do not"
            " agree, you need not do anything: our team reviews the request and decides.",
            Link("Go to Headstore", public_url.rstrip("/")),
        ],
    )


def refund_refused(
    name: str,
    *,
    expert_name: str,
    session_id: str,
    reason: str,
) -> Rendered:
    """To the client: the refund they asked for was refused, and why."""
    reason = reason.strip()
    return _render(
        "Your refund request was refused",
        name,
        [
            f"We have reviewed your request for a refund of the session {session_id}"
            f" with {expert_name or 'your expert'} and cannot grant it.",
            f"Our reason:\n{reason}" if reason else "",
            "The charge for the session stays as it was. If you have questions, please contact"
            " us via our contact form.",
        ],
    )


def session_refunded(
    name: str,
    *,
    for_expert: bool,
    other_name: str,
    session_id: str,
    amount_minor: int,
    expert_share_minor: int,
    currency: str,
) -> Rendered:
    """To both sides: the session's charge went back to the client's card."""
    amount = format_money(amount_minor, currency)
    lines = [
        f"Session: {session_id}",
        f"{'Client' if for_expert else 'Expert'}: {other_name}",
        f"Refunded: {amount}",
    ]
    if for_expert:
        lines.append(f"Taken back from your earnings: {format_money(expert_share_minor, currency)}")
        intro = "The charge for one of your sessions was refunded to the client."
        outro = (
            "Your earnings for the session are taken back from your next payout; if they were"
            " paid out already, the amount is deducted from your next earnings."
        )
    else:
        intro = "Your refund is on its way."
        outro = (
            "The amount goes back to the card you paid with. Banks usually take 5 to 10"
            " business days to show it."
        )
    return _render(
        f"Refund for your Headstore session: {amount}", name, [intro, "\n".join(lines), outro]
    )


def dispute_opened(
    name: str, *, session_id: str, amount_minor: int, currency: str, reason: str
) -> Rendered:
    """To the expert: the client's bank disputes a session's charge; its earnings are held."""
    amount = format_money(amount_minor, currency)
    return _render(
        f"A payment for one of your sessions is disputed: {amount}",
        name,
        [
            f"The client's bank disputes the charge of {amount} for the session {session_id}"
            + (f" (reason given: {reason.replace('_', ' ')})." if reason.strip() else "."),
            "Your earnings for this session are held, and not paid out, until the dispute is"
            " closed. We answer the bank with the session's records; you will hear from us"
            " when it is decided.",
        ],
    )


def dispute_closed(
    name: str,
    *,
    session_id: str,
    outcome: str,
    amount_minor: int,
    expert_share_minor: int,
    currency: str,
) -> Rendered:
    """To the expert: the dispute is over; won releases the earnings, lost takes them back."""
    amount = format_money(amount_minor, currency)
    if outcome == "won":
        subject = "A disputed payment was decided in your favour"
        blocks: list[Block] = [
            f"The dispute over the charge of {amount} for the session {session_id} is closed:"
            " the bank decided for us.",
            "Your earnings for the session are released and paid out with your next payout.",
        ]
    else:
        subject = "A disputed payment was lost"
        blocks = [
            f"The dispute over the charge of {amount} for the session {session_id} is closed:"
            " the bank decided for the client, and the charge went back to them.",
            f"Taken back from your earnings: {format_money(expert_share_minor, currency)}. It is"
            " deducted from your next payout.",
        ]
    return _render(subject, name, blocks)
