"""`headstore amqp-definitions` refuses an incomplete or unsafe set of URIs."""

from __future__ import annotations

import pytest

from cli.amqp_users import accounts, definitions


def complete() -> dict[str, str]:
    environ = {"RABBITMQ_DEFAULT_USER": "admin", "RABBITMQ_DEFAULT_PASS": "admin-pw"}
    for account in accounts():
        environ[account.uri_variable] = f"amqp://{account.name}:pw-{account.name}@rabbitmq/hs"
    return environ


def test_every_account_gets_its_own_user_in_one_vhost() -> None:
    document = definitions(complete())
    names = [user["name"] for user in document["users"]]
    assert len(names) == len(set(names)) == len(accounts()) + 1
    assert document["vhosts"] == [{"name": "hs"}]
    assert {p["vhost"] for p in document["permissions"]} == {"hs"}
    relay = next(p for p in document["permissions"] if p["user"] == "profiles-relay")
    assert (relay["configure"], relay["write"], relay["read"]) == (
        r"^profiles\..*$",
        r"^profiles\..*$",
        "^$",
    )


def test_the_uri_variables_are_named_after_the_accounts() -> None:
    variables = {account.uri_variable for account in accounts()}
    assert {"PROFILES_AMQP_URI", "PROFILES_RELAY_AMQP_URI", "GATEWAY_AMQP_URI"} <= variables
    assert "MIGRATE_AMQP_URI" in variables


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BILLING_RELAY_AMQP_URI": ""}, "BILLING_RELAY_AMQP_URI is not set"),
        ({"BILLING_AMQP_URI": "amqp://calls:x@rabbitmq/hs"}, "use the same user 'calls'"),
        ({"GATEWAY_AMQP_URI": "amqp://gateway:x@rabbitmq/other"}, "same virtual host"),
        ({"CALLS_AMQP_URI": "amqp://calls@rabbitmq/hs"}, "CALLS_AMQP_URI must be"),
        ({"RABBITMQ_DEFAULT_PASS": ""}, "RABBITMQ_DEFAULT_PASS"),
        ({"MIGRATE_AMQP_URI": "amqp://admin:x@rabbitmq/hs"}, "use the same user 'admin'"),
    ],
)
def test_an_incomplete_or_shared_set_is_refused(change: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        definitions({**complete(), **change})
