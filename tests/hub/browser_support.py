"""Helpers for the browser tests: a real hub subprocess and a Debian Chromium driven by Playwright.

Nothing here downloads a browser: Chromium comes from the distribution (`apt-get install chromium`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from bot.stack import HubService, free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOC_IMAGES = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORDS = {"supervisor": "sup-pass-123", "agent1": "agent1-pass-123", "agent2": "agent2-pass-123"}
IDENTITY_SECRET = "browser-test-identity-secret"
# Demo customer with known orders in the deterministic shop seed (bot/orders/seed.py).
DEMO_CUSTOMER = {"customer_id": "C0001", "name": "张伟"}


def closed_url() -> str:
    """A loopback URL nothing listens on: the hub sees Rasa as down."""
    return f"http://127.0.0.1:{free_port()}"


def hours_excluding_now(tz: str = "Asia/Shanghai") -> str:
    """Working hours (HH:MM-HH:MM) that start two hours from now: the hub is off duty."""
    now = datetime.now(ZoneInfo(tz))
    start = now + timedelta(hours=2)
    end = now + timedelta(hours=3)
    return f"{start:%H:%M}-{end:%H:%M}"


class Hub(HubService):
    """A running `python -m handoff` process."""

    def api(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        """A JSON call to the hub, for arranging state a test is not about."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as res:
            raw = res.read()
        return json.loads(raw) if raw else {}


def restart_hub(hub: Hub) -> None:
    """Stop the hub and start it again on the same port and database (clients must reconnect)."""
    hub.restart()


@contextmanager
def run_hub(
    tmp_dir: Path, rasa_url: str, shop_db_url: str | None = None, **extra_env: str
) -> Iterator[Hub]:
    """Start the hub as a subprocess on a free port with its own SQLite database; stop it after."""
    env: dict[str, str | None] = {
        "HUB_HOST": "127.0.0.1",
        "HUB_DATABASE_URL": f"sqlite:///{tmp_dir / 'hub.db'}",
        "HUB_IDENTITY_SECRET": IDENTITY_SECRET,
        "RASA_URL": rasa_url,
        "HUB_RASA_TIMEOUT": "15",
        "HUB_SUPERVISOR_PASSWORD": PASSWORDS["supervisor"],
        "HUB_AGENT1_PASSWORD": PASSWORDS["agent1"],
        "HUB_AGENT2_PASSWORD": PASSWORDS["agent2"],
        "HUB_WORKING_HOURS": "00:00-24:00",  # always (23:59 left a minute off duty)
        "HUB_RATE_LIMIT": "200",
        # every browser is on 127.0.0.1: per-address limits would count them all as one client
        "HUB_OPEN_PER_ADDRESS": "100000", "HUB_QUEUE_PER_ADDRESS": "100000",
        "HUB_TICKETS_PER_ADDRESS": "100000", "HUB_TYPING_PER_ADDRESS": "100000",
        "REDIS_URL": None,  # in-process fan-out
        **extra_env,
    }
    if shop_db_url:
        env["DATABASE_URL"] = shop_db_url
        env["SHOP_DATABASE_URL"] = shop_db_url
    hub = Hub(env, tmp_dir / "hub.log")
    hub.start(60)
    try:
        yield hub
    finally:
        hub.stop()


def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    """The distribution's Chromium, headless, with the network-quiet flags CI needs."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class _ShopHandler(BaseHTTPRequestHandler):
    hub_url = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        query = parse_qs(urlsplit(self.path).query)
        body = shop_page_html(self.hub_url, (query.get("identity") or [None])[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def third_party_shop(hub_url: str) -> Iterator[str]:
    """A shop on another origin (another port) that embeds the widget: the real embed case."""
    handler = type("ShopHandler", (_ShopHandler,), {"hub_url": hub_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/shop"
    finally:
        server.shutdown()
        server.server_close()


def shop_page_html(hub_url: str, identity: str | None) -> str:
    """A third-party shop page that embeds the widget with the one documented tag."""
    ident = f' data-identity="{escape(identity)}"' if identity else ""
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>测试商城</title><style>body{font-family:serif;background:#fafafa}"
        "button{background:red!important;font-size:30px!important}</style></head>"
        "<body><h1>测试商城</h1><p>商品列表……</p>"
        f"<script src='{hub_url}/widget.js' data-hub='{hub_url}'{ident}></script>"
        "</body></html>"
    )


def save_screenshot(page, name: str, doc_name: str | None = None) -> Path:  # type: ignore[no-untyped-def]
    """Save to test-artifacts/; with UPDATE_DOC_IMAGES=1 also refresh docs/img/<doc_name>."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    if doc_name and os.environ.get("UPDATE_DOC_IMAGES") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / doc_name)
    return path


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


BROWSER_MARKS = [pytest.mark.browser, pytest.mark.slow]


def playwright_api() -> Any:
    """Playwright's sync API for a browser test module, which is skipped when Debian's Chromium
    is missing (`.ci/run` installs it)."""
    api = pytest.importorskip("playwright.sync_api")
    if not chromium_available():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return api


def cjk_font_available() -> bool:
    """Without a Chinese font Chromium draws every 汉字 as a box (apt-get install fonts-noto-cjk)."""
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.stdout.strip())
