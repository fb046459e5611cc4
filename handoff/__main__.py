"""``python -m handoff``: prepare the database, print URLs and demo credentials, serve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from handoff import shapes
from handoff.app import HubProtocol, create_app, create_schema
from handoff.console import agent_sessions_topic
from handoff.identity import sign_identity
from handoff.realtime import RedisBus
from handoff.seed import DEMO_CUSTOMER, DEMO_PASSWORD_ENV, SeededAccount, reset_password, seed_demo
from handoff.settings import ROOT, Settings
from handoff.store import Store


async def prepare(settings: Settings) -> list:
    store = Store.from_url(settings.database_url)
    try:
        await create_schema(store)
        return await seed_demo(store, settings.seed_passwords) if settings.seed_demo else []
    finally:
        await store.close()


async def reset(settings: Settings, username: str) -> str:
    """New password; the account's sessions end, and with Redis its open consoles on every hub
    process close now (without Redis they close at their next check, ``HUB_SESSION_CHECK``)."""
    store = Store.from_url(settings.database_url)
    try:
        await create_schema(store)
        password = await reset_password(store, username, settings.seed_passwords.get(username))
        agent = await store.agents.by_username(username)
    finally:
        await store.close()
    if settings.redis_url and agent is not None:
        bus = RedisBus(settings.redis_url)
        try:
            await bus.publish_now(agent_sessions_topic(agent["id"]), shapes.session_revoked_event())
        except Exception as exc:  # the sessions are gone anyway; consoles notice at their next check
            print(f"could not announce the reset through Redis ({type(exc).__name__}); open consoles "
                  f"close within {settings.session_check_seconds:g} s", file=sys.stderr)
        finally:
            await bus.redis.close()
    return password


def python_cmd() -> str:
    """How to call this interpreter from the project folder (``.venv/bin/python`` under make run)."""
    exe = os.path.abspath(sys.executable)
    return os.path.relpath(exe, ROOT) if exe.startswith(str(ROOT) + os.sep) else "python"


def start_banner(settings: Settings, accounts: list[SeededAccount]) -> str:
    """What an operator needs at start: where things are and how to log in.

    A generated password is shown only by the start that created the account (it is stored
    hashed), so later starts say how to set a new one instead."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "  kefu hub",
        f"  Shop page + chat widget: {base}/",
        f"  Agent console:           {base}/console",
        f"  API description:         {base}/openapi.json",
        f"  Rasa:                    {settings.rasa_url}   assignment: {settings.assign_mode}",
    ]
    if accounts:
        lines += ["", f"  Demo accounts (log in at {base}/console):"]
        for acc in accounts:
            if acc.password is None:
                shown = "password unchanged (shown when the account was created)"
            elif acc.username in settings.seed_passwords:
                shown = f"password from {DEMO_PASSWORD_ENV.get(acc.username, 'the environment')}"
            else:
                shown = f"password: {acc.password}"
            lines.append(f"    {acc.role:<10}  {acc.username:<10}  {acc.display_name:<8}  {shown}")
        if any(acc.password is None for acc in accounts):
            lines.append(f"  New password for an account: {python_cmd()} -m handoff --reset-password <username>")
    if settings.identity_secret_generated:
        lines.append("  HUB_IDENTITY_SECRET not set: a random one is used (signed identities from shops fail).")
        if settings.seed_demo:  # only with a throwaway key: this link logs anyone in as the customer
            customer_id, name = DEMO_CUSTOMER
            token = sign_identity(customer_id, settings.identity_secret, name=name, ttl_seconds=7 * 86400)
            lines.append(f"  Shop page as signed-in demo customer {name} ({customer_id}): {base}/#identity={token}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff", description="Run the handoff hub.")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument(
        "--reset-password", metavar="USERNAME",
        help="set a new password for an account (a demo account's HUB_*_PASSWORD if set, else a "
             "generated one), print it, end the account's sessions and exit",
    )
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    hub_log = logging.getLogger("handoff")
    hub_log.addHandler(handler)
    hub_log.setLevel(logging.INFO)
    hub_log.propagate = False
    settings = Settings.from_env()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if args.reset_password:
        try:
            password = asyncio.run(reset(settings, args.reset_password))
        except LookupError as exc:
            print(f"{exc}", file=sys.stderr)
            return 1
        if args.reset_password in settings.seed_passwords:
            print(f"{args.reset_password}: password set from {DEMO_PASSWORD_ENV[args.reset_password]}; "
                  "open sessions ended.", flush=True)
        else:
            print(f"{args.reset_password}: new password: {password}   (open sessions ended)", flush=True)
        return 0
    accounts = asyncio.run(prepare(settings))
    print(start_banner(settings, accounts), flush=True)
    app = create_app(settings)
    app.run(host=settings.host, port=settings.port, access_log=settings.access_log,
            motd=False, workers=1, protocol=HubProtocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
