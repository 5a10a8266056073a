"""`python -m devtools …`: the development tools of a single-machine run (dev extra only).

stripe    the local Stripe-compatible server (`python -m devtools stripe --help`)
mail      the local SMTP server that keeps what it gets, with a web page of the mails
janus     Janus (the SFU) with Headstore's configuration, for a single-machine run
dev-env   an env file for one development run: the development profile and random secrets
"""

from __future__ import annotations

import argparse
import sys

from cli.main import prepare_secrets
from headstore import logs
from headstore import secrets as secret_registry
from headstore.settings import Settings


def run_janus(settings: Settings) -> None:
    """Janus with Headstore's configuration in var/janus, its API on 127.0.0.1, posting its
    events to the calls service; replaces this process."""
    import os
    import shutil
    from pathlib import Path

    from devtools.janus_config import write_janus_config
    from services.calls.rooms import EVENTS_USER, JanusSettings

    janus = shutil.which("janus") or "/usr/bin/janus"
    conf = Path("var/janus").resolve()
    conf.mkdir(parents=True, exist_ok=True)
    secrets = JanusSettings.from_env()
    write_janus_config(
        conf,
        ip="127.0.0.1",
        http_port=8088,
        admin_port=7088,
        admin_secret=secrets.admin_secret,
        api_secret=secrets.api_secret,
        admin_key=secrets.room_admin_key,
        event_backend=f"http://127.0.0.1:{settings.janus_events_port}/janus/events",
        event_backend_user=EVENTS_USER,
        event_backend_password=secrets.events_password,
    )
    os.execv(janus, [janus, "-F", str(conf), "-o"])


def write_development_env(path: str) -> None:
    """One development run's env file: the profile and fresh random secrets (those the
    environment does not set), readable by the owner only. honcho loads it into every process."""
    import os
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as env_file:
        env_file.write(secret_registry.development_env_file())


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["stripe"]:
        from devtools.stripe_server import main as stripe_main

        return stripe_main(arguments[1:])  # its own options: port, webhooks
    parser = argparse.ArgumentParser(
        prog="python -m devtools",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "stripe",
        help="run the local Stripe-compatible server; `python -m devtools stripe --help`",
        add_help=False,
    )
    mail = commands.add_parser("mail", help="run the local SMTP server that keeps what it gets")
    mail.add_argument("--smtp-port", type=int, default=None)
    mail.add_argument("--web-port", type=int, default=8025)
    mail.add_argument("--host", default="127.0.0.1")
    commands.add_parser("janus", help="run Janus (the SFU) for a single-machine run")
    dev_env = commands.add_parser(
        "dev-env",
        help="write an env file for one development run: HEADSTORE_PROFILE=development and "
        "random secrets (make run)",
    )
    dev_env.add_argument("path")
    args = parser.parse_args(arguments)

    logs.configure(args.command)
    if args.command == "dev-env":
        write_development_env(args.path)
        return 0
    if args.command == "janus":
        prepare_secrets("janus")
    settings = Settings.from_env()
    if args.command == "mail":
        from devtools.mailbox import serve

        serve(settings, args.smtp_port or settings.smtp_port, args.web_port, args.host)
    elif args.command == "janus":
        run_janus(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
