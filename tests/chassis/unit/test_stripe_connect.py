"""Connect at the Stripe stand-in, as Stripe does it: a new account is pending until its holder
goes through the onboarding link (details submitted, then verified: two `account.updated`,
optionally delivered out of order), countries Stripe does not serve are refused, accounts abroad
need the recipient service agreement, a connected account's failed payout is a Connect event.
Through the official SDK."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from devtools.stripe_testing import Webhooks, client_of, dev_call, webhooks
from devtools.testing import stripe_stand_in, wait_until


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stripe.StripeClient]:
    with stripe_stand_in(tmp_path_factory.mktemp("stripe-connect") / "server.log") as url:
        yield client_of(url)


def new_account(client: stripe.StripeClient, country: str = "US", **params: Any) -> Any:
    created: Any = {
        "type": "express",
        "country": country,
        "capabilities": {"transfers": {"requested": True}},
        **params,
    }
    return client.v1.accounts.create(created)


def open_link(client: stripe.StripeClient, account_id: str) -> None:
    """What the account holder's browser does with the onboarding link: all of it."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    link = client.v1.account_links.create(
        {
            "account": account_id,
            "refresh_url": "https://headstore.test/reauth",
            "return_url": "https://headstore.test/return",
            "type": "account_onboarding",
        }
    )
    with pytest.raises(urllib.error.HTTPError) as back:
        urllib.request.build_opener(NoRedirect).open(link.url, timeout=10)
    assert back.value.headers["Location"] == "https://headstore.test/return"


def updates(delivered: Webhooks, account_id: str, count: int) -> list[Any]:
    """The first `count` account.updated deliveries about the account, in arrival order."""

    def arrived() -> list[Any]:
        got = [
            e
            for e in delivered.events()
            if e.type == "account.updated" and e.data.object.id == account_id
        ]
        return got if len(got) >= count else []

    return list(wait_until(arrived, timeout=15, what=f"{count} account.updated"))


def test_a_new_account_is_pending_until_onboarded(client: stripe.StripeClient) -> None:
    account = new_account(client)
    assert (account.charges_enabled, account.payouts_enabled) == (False, False)
    assert account.details_submitted is False
    assert account.requirements is not None and account.requirements.currently_due
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert account.capabilities is not None and account.capabilities.transfers == "inactive"
    destination: Any = {"amount": 100, "currency": "usd", "destination": account.id}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(destination)
    assert refused.value.code == "insufficient_capabilities_for_transfer"


def test_onboarding_submits_details_then_verifies_them(client: stripe.StripeClient) -> None:
    account = new_account(client)
    with webhooks(client, ["account.updated"], connect=True) as delivered:
        open_link(client, account.id)
        both = updates(delivered, account.id, 2)
    # Stripe does not promise an order of delivery: told apart by what they say
    [submitted] = [e for e in both if not e.data.object.payouts_enabled]
    [verified] = [e for e in both if e.data.object.payouts_enabled]
    assert submitted.account == account.id
    first = submitted.data.object
    assert first.details_submitted is True and first.payouts_enabled is False
    assert first.requirements.currently_due == []
    assert first.requirements.pending_verification
    assert first.requirements.disabled_reason == "requirements.pending_verification"
    assert first.capabilities.transfers == "pending"
    assert submitted.data.previous_attributes["details_submitted"] is False
    last = verified.data.object
    assert (last.payouts_enabled, last.capabilities.transfers) == (True, "active")
    assert last.requirements.pending_verification == []
    assert verified.data.previous_attributes["payouts_enabled"] is False
    assert client.v1.accounts.retrieve(account.id).payouts_enabled is True


def test_account_updates_may_arrive_out_of_order(tmp_path: Path) -> None:
    with stripe_stand_in(tmp_path / "stripe.log", "--account-updates-out-of-order") as url:
        client = client_of(url)
        account = new_account(client)
        with webhooks(client, ["account.updated"], connect=True) as delivered:
            open_link(client, account.id)
            first_in, second_in = updates(delivered, account.id, 2)
        # the verified state arrives before the pending one it follows: a consumer that keeps
        # the last delivery would think the account pending; Stripe's answer is to read it
        assert first_in.data.object.payouts_enabled is True
        assert second_in.data.object.payouts_enabled is False
        assert first_in.created >= second_in.created
        assert client.v1.accounts.retrieve(account.id).payouts_enabled is True


@pytest.mark.parametrize("country", ["KP", "IN", "RU"])
def test_countries_stripe_does_not_serve_are_refused(
    client: stripe.StripeClient, country: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        new_account(client, country, tos_acceptance={"service_agreement": "recipient"})
    assert (refused.value.code, refused.value.param) == ("country_unsupported", "country")


def test_an_account_abroad_needs_the_recipient_service_agreement(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        new_account(client, "GB")
    assert refused.value.param == "tos_acceptance[service_agreement]"
    assert "recipient" in str(refused.value.user_message)
    with pytest.raises(stripe.InvalidRequestError):  # only through cross-border payouts
        new_account(client, "CL", tos_acceptance={"service_agreement": "full"})

    abroad = new_account(client, "GB", tos_acceptance={"service_agreement": "recipient"})
    assert abroad.tos_acceptance is not None
    assert abroad.tos_acceptance.service_agreement == "recipient"
    assert abroad.default_currency == "gbp"
    at_home = new_account(client, "US")
    assert at_home.tos_acceptance is not None
    assert at_home.tos_acceptance.service_agreement == "full"
    with pytest.raises(stripe.InvalidRequestError) as no_cards:
        client.v1.accounts.create(
            {
                "type": "express",
                "country": "FR",
                "capabilities": {
                    "card_payments": {"requested": True},
                    "transfers": {"requested": True},
                },
                "tos_acceptance": {"service_agreement": "recipient"},
            }
        )
    assert no_cards.value.param == "capabilities[card_payments]"


def test_a_european_platform_opens_full_accounts_across_europe(tmp_path: Path) -> None:
    with stripe_stand_in(tmp_path / "stripe.log", "--platform-country", "GB") as url:
        client = client_of(url)
        assert new_account(client, "DE").country == "DE"
        with pytest.raises(stripe.InvalidRequestError):
            new_account(client, "US")


def test_a_connected_accounts_failed_payout_is_a_connect_event(
    client: stripe.StripeClient,
) -> None:
    account = new_account(client)
    with webhooks(client, ["payout.failed"], connect=True) as delivered:
        payout = dev_call(
            client,
            "post",
            f"/_dev/accounts/{account.id}/payout_failed",
            amount=2500,
            failure_code="no_account",
        )
        event = delivered.wait_for("payout.failed", payout["id"])
    assert event.account == account.id
    failed = event.data.object
    assert (failed.object, failed.status, failed.amount, failed.currency) == (
        "payout",
        "failed",
        2500,
        "usd",
    )
    assert failed.failure_code == "no_account" and failed.failure_message
    with pytest.raises(stripe.InvalidRequestError):
        dev_call(client, "post", f"/_dev/accounts/{account.id}/payout_failed", failure_code="x")


def test_accounts_abroad_without_the_recipient_agreement_only_when_told(tmp_path: Path) -> None:
    # not as Stripe: for a caller that does not ask for the recipient agreement
    with stripe_stand_in(tmp_path / "stripe.log", "--allow-full-cross-border-accounts") as url:
        client = client_of(url)
        abroad = new_account(client, "GB")
        assert abroad.tos_acceptance is not None
        assert abroad.tos_acceptance.service_agreement == "full"
        with pytest.raises(stripe.InvalidRequestError):  # reached only through cross-border
            new_account(client, "CL")
