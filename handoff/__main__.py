"""``python -m handoff``: prepare the database, print URLs and demo credentials, serve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from handoff.app import create_app, create_schema
from handoff.seed import seed_demo
from handoff.settings import Settings
from handoff.store import Store


async def prepare(settings: Settings) -> list:
    store = Store.from_url(settings.database_url)
    try:
        await create_schema(store)
        return await seed_demo(store, settings.seed_passwords) if settings.seed_demo else []
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff", description="Run the handoff hub.")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
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
    accounts = asyncio.run(prepare(settings))
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        f"  Shop page + chat widget: {base}/",
        f"  Agent console:           {base}/console",
        f"  API description:         {base}/openapi.json",
        f"  Rasa:                    {settings.rasa_url}   assignment: {settings.assign_mode}",
    ]
    for acc in accounts:
        if acc.password is None:
            shown = "(existing account, password unchanged)"
        elif acc.username in settings.seed_passwords:
            shown = "(from the environment)"
        else:
            shown = acc.password
        lines.append(f"  {acc.role:<10} {acc.username:<10} password: {shown}")
    if settings.identity_secret_generated:
        lines.append("  HUB_IDENTITY_SECRET not set: a random one is used (signed identities from shops fail).")
    print("\n".join(lines) + "\n", flush=True)
    app = create_app(settings)
    app.run(host=settings.host, port=settings.port, access_log=settings.access_log,
            motd=False, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
