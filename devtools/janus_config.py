"""Janus' configuration for Headstore: only the VideoRoom plugin and the HTTP transport, the
admin API behind a secret, the Janus API behind the API secret (calls) or a token that calls
added for one participant (`token_auth`), rooms creatable only with the admin key, and the
sample event handler posting every event to the calls service with HTTP basic auth. Used by the
test harness (inside a network namespace) and by `python -m devtools janus` for a
single-machine run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path


class JanusConfigError(RuntimeError):
    pass


def _disable_list(folder: Path, keep: set[str]) -> str:
    return ",".join(sorted(p.name for p in folder.glob("*.so") if p.name not in keep))


def write_janus_config(
    conf: Path,
    source: Path = Path("/etc/janus"),
    *,
    ip: str,
    http_port: int,
    admin_port: int,
    admin_secret: str,
    api_secret: str,
    admin_key: str,
    event_backend: str | None,
    event_backend_user: str = "janus",
    event_backend_password: str = "",
    ice_enforce_list: str | None = None,
    debug_level: int = 4,
    server_name: str = "headstore",
) -> None:
    """Write a private configuration into `conf` (a copy of `source`, Debian's /etc/janus).

    `api_secret` authenticates calls on the Janus API; participants use tokens that calls adds
    through the admin API (stored-token authentication). The event handler posts to
    `event_backend` as `event_backend_user` with `event_backend_password` (basic auth)."""
    for name, value in {
        "admin_secret": admin_secret,
        "api_secret": api_secret,
        "event_backend_password": event_backend_password if event_backend else "-",
    }.items():
        if not value or '"' in value or "\\" in value:
            raise JanusConfigError(f"{name} must be a non-empty string without quotes")
    shutil.copytree(source, conf, dirs_exist_ok=True)
    original = (source / "janus.jcfg").read_text()

    def folder_of(key: str) -> Path:
        found = re.search(rf'^\s*{key}\s*=\s*"([^"]+)"', original, re.M)
        if not found:
            raise JanusConfigError(f"{key} not found in {source}/janus.jcfg")
        return Path(found.group(1))

    plugins, transports = folder_of("plugins_folder"), folder_of("transports_folder")
    events, loggers = folder_of("events_folder"), folder_of("loggers_folder")
    keep_events = {"libjanus_sampleevh.so"} if event_backend else set()
    enforce = f'\tice_enforce_list = "{ice_enforce_list}"\n' if ice_enforce_list else ""
    (conf / "janus.jcfg").write_text(
        f"""general: {{
	configs_folder = "{conf}"
	plugins_folder = "{plugins}"
	transports_folder = "{transports}"
	events_folder = "{events}"
	loggers_folder = "{loggers}"
	debug_level = {debug_level}
	admin_secret = "{admin_secret}"
	api_secret = "{api_secret}"
	token_auth = true
	server_name = "{server_name}"
	session_timeout = 60
}}
certificates: {{
}}
media: {{
}}
nat: {{
	nice_debug = false
{enforce}	ignore_mdns = true
}}
plugins: {{
	disable = "{_disable_list(plugins, {"libjanus_videoroom.so"})}"
}}
transports: {{
	disable = "{_disable_list(transports, {"libjanus_http.so"})}"
}}
loggers: {{
	disable = "{_disable_list(loggers, set())}"
}}
events: {{
	broadcast = {"true" if event_backend else "false"}
	disable = "{_disable_list(events, keep_events)}"
	stats_period = 0
}}
"""
    )
    (conf / "janus.transport.http.jcfg").write_text(
        f"""general: {{
	json = "compact"
	base_path = "/janus"
	http = true
	ip = "{ip}"
	port = {http_port}
	https = false
}}
admin: {{
	admin_base_path = "/admin"
	admin_http = true
	admin_ip = "{ip}"
	admin_port = {admin_port}
	admin_https = false
}}
cors: {{
}}
"""
    )
    (conf / "janus.plugin.videoroom.jcfg").write_text(
        f"""general: {{
	admin_key = "{admin_key}"
	lock_rtp_forward = true
}}
"""
    )
    (conf / "janus.eventhandler.sampleevh.jcfg").write_text(
        f"""general: {{
	enabled = {"true" if event_backend else "false"}
	events = "sessions,handles,webrtc,media,plugins"
	grouping = false
	json = "compact"
	backend = "{event_backend or "http://127.0.0.1:9/unused"}"
	backend_user = "{event_backend_user}"
	backend_pwd = "{event_backend_password}"
}}
"""
    )
