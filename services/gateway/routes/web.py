"""The pages behind the links mailed to people, and a landing page. Static files from `web/`;
their scripts call the JSON API. Tokens ride in the URL, so these pages send no Referer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from services.gateway.settings import GatewaySettings


def web_dir() -> Path:
    """`HEADSTORE_WEB_DIR`, else `web/` of the source tree, else `web/` of the working directory."""
    if configured := GatewaySettings.from_env().web_dir:
        return configured
    beside_source = Path(__file__).resolve().parents[3] / "web"
    return beside_source if beside_source.is_dir() else Path.cwd() / "web"


WEB_DIR = web_dir()

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}

PAGES = {
    "/": "index.html",
    "/verify-email": "verify-email.html",
    "/reset-password": "reset-password.html",
    "/expert-signup": "expert-signup.html",
    "/invite": "invite.html",
    "/apply": "apply.html",
    "/payout/return": "payout-return.html",
    "/payout/refresh": "payout-refresh.html",
}

ASSETS = {"app.js": "text/javascript", "apply.js": "text/javascript", "style.css": "text/css"}

router = APIRouter(include_in_schema=False)


def _page(filename: str) -> Callable[[], Awaitable[FileResponse]]:
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / filename, media_type="text/html", headers=PAGE_HEADERS)

    page.__name__ = f"page_{filename.removesuffix('.html').replace('-', '_')}"
    return page


for path, filename in PAGES.items():
    router.add_api_route(path, _page(filename), methods=["GET"], response_class=FileResponse)


@router.get("/assets/{name}")
async def asset(name: str) -> FileResponse:
    """The pages' script and styles; only these names, so nothing else under web/ leaks."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404)
    return FileResponse(
        WEB_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
