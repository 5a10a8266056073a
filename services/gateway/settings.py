"""The gateway's own variables (its rate limits are in ratelimits.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from headstore.settings import GRPC_PORTS, EnvironmentSettings, per_service, variable
from services.gateway.auth import DEFAULT_ACCESS_STATE_SECONDS
from services.gateway.upstream import DEFAULT_DEADLINE_SECONDS


class GatewaySettings(EnvironmentSettings):
    deadline_seconds: float = variable("GATEWAY_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS)
    """How long the gateway waits for a service's answer."""
    live_recheck_seconds: float = variable("GATEWAY_LIVE_RECHECK_SECONDS", 30.0)
    """How often an open live view checks its access token again (a password change ends it)."""
    access_state_seconds: float = variable(
        "GATEWAY_ACCESS_STATE_SECONDS", DEFAULT_ACCESS_STATE_SECONDS
    )
    docs: str = variable("GATEWAY_DOCS", "0")
    """1: serve the interactive API documentation (see `serves_docs`)."""
    web_dir: Path | None = variable("HEADSTORE_WEB_DIR", None)
    """Where the web app's files are; unset: `web/` of the source tree or working directory."""
    upstreams: Annotated[dict[str, str], per_service("GRPC", GRPC_PORTS)] = Field(
        default_factory=dict
    )
    """`<SERVICE>_GRPC`: where each service answers, when not on this machine."""

    @property
    def serves_docs(self) -> bool:
        """GATEWAY_DOCS=1 serves the interactive API documentation (/docs, /redoc): on in
        development, off unless asked for in production. /openapi.json is always served: it is
        the public contract of the API (the landing page links it, clients generate code from
        it)."""
        return self.docs == "1"
