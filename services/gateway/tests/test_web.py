"""The pages behind mailed links, and the landing page, are served from web/."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("path", "must_contain"),
    [
        ("/verify-email?token=abc", ['data-page="verify-email"', "Confirm my address"]),
        (
            "/reset-password?token=abc",
            ['autocomplete="new-password"', 'name="confirm_password"', 'for="password"'],
        ),
        ("/expert-signup?token=abc", ['autocomplete="new-password"', 'data-field="password"']),
        ("/invite?token=abc", ['data-page="invite"', 'id="details"']),
        ("/", ['href="/openapi.json"']),
    ],
)
async def test_each_page_is_served_as_html(
    client: httpx.AsyncClient, path: str, must_contain: list[str]
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    for text in must_contain:
        assert text in response.text


async def test_pages_with_tokens_leak_no_referrer_and_are_not_cached(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/reset-password?token=secret")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_the_pages_script_and_styles_are_served(client: httpx.AsyncClient) -> None:
    script = await client.get("/assets/app.js")
    styles = await client.get("/assets/style.css")
    assert script.status_code == styles.status_code == 200
    for path in ("/v1/accounts/verify", "/v1/password-resets/confirm", "/v1/expert-signup"):
        assert path in script.text
    assert "result.error.message" in script.text


async def test_web_pages_are_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/", "/verify-email", "/reset-password", "/expert-signup", "/invite"} & set(paths)


@pytest.mark.parametrize("name", ["index.html", "..%2Fpyproject.toml", "nope.js"])
async def test_only_the_known_assets_are_served(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/assets/{name}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
