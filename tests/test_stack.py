"""The one stack harness (bot/stack.py): endpoints written as YAML, processes started, found
ready, stopped, and the action server started exactly as `make run` starts it."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot.stack import (
    HubService,
    Service,
    action_server,
    endpoints_config,
    free_port,
    write_endpoints,
)


def test_endpoints_embedded(tmp_path: Path) -> None:
    path = write_endpoints(tmp_path / "endpoints.yml", "http://127.0.0.1:5055/webhook", tmp_path / "t.db", env={})
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {
        "action_endpoint": {"url": "http://127.0.0.1:5055/webhook"},
        "tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "t.db")},
    }


def test_endpoints_at_scale_with_a_password_yaml_would_misread() -> None:
    env = {"DATABASE_URL": "postgresql://kefu:p%3A%20%23x@db.local:6543/shop", "REDIS_URL": "redis://cache:6380/2"}
    config = endpoints_config("http://a/webhook", None, env)
    assert yaml.safe_load(yaml.safe_dump(config)) == config == {
        "action_endpoint": {"url": "http://a/webhook"},
        "tracker_store": {"type": "SQL", "dialect": "postgresql", "url": "db.local", "port": 6543, "db": "shop",
                          "username": "kefu", "password": "p: #x"},
        "lock_store": {"type": "redis", "url": "cache", "port": 6380, "db": 2},
    }
    assert endpoints_config("http://a/webhook", None, {"TRACKER_DATABASE_URL": "postgresql://h/t"}
                            )["tracker_store"]["username"] == "postgres"


def test_trackers_in_redis_on_request() -> None:
    env = {"TRACKER_DATABASE_URL": "redis://:s%40cret@cache:6380/3", "DATABASE_URL": "postgresql://h/shop"}
    assert endpoints_config("http://a/webhook", None, env)["tracker_store"] == {
        "type": "redis", "url": "cache", "port": 6380, "db": 3, "key_prefix": "kefu", "password": "s@cret",
        "use_ssl": False}


def test_a_service_is_ready_logs_and_stops(tmp_path: Path) -> None:
    port = free_port()
    server = Service("web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                     tmp_path / "web.log", f"http://127.0.0.1:{port}/", fresh_log=True).start(30)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert resp.status == 200
    finally:
        server.stop()
    assert server.poll() is not None
    assert "GET / " in server.logs()


def test_a_service_that_dies_fails_the_start_with_its_log(tmp_path: Path) -> None:
    dying = Service("dying", [sys.executable, "-c", "print('no config'); raise SystemExit(3)"],
                    tmp_path / "dying.log", f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(RuntimeError, match="(?s)dying did not start.*no config"):
        dying.start(30)


def test_the_hub_port_comes_from_its_environment(tmp_path: Path) -> None:
    hub = HubService({"HUB_PORT": "8123", "REDIS_URL": None}, tmp_path / "hub.log")
    assert hub.url == "http://127.0.0.1:8123" and hub.env["HUB_PORT"] == "8123"
    assert "REDIS_URL" not in hub.env and hub.env["PYTHONUNBUFFERED"] == "1"


@pytest.mark.slow
def test_the_action_server_starts_as_in_production(tmp_path: Path) -> None:
    """`rasa run actions` serves every action of actions/: the benchmarks' old work-around for an
    action base class without a name is not needed, so they start it as `make run` does."""
    port = free_port()
    actions = action_server(port, tmp_path / "actions.log",
                            {"DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}"}).start(120)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/actions", timeout=10) as resp:
            names = {a["name"] for a in json.loads(resp.read())}
    finally:
        actions.stop()
    domain = yaml.safe_load((Path(__file__).resolve().parents[1] / "domain.yml").read_text(encoding="utf-8"))
    custom = {a for a in domain["actions"] if a.startswith("action_") or a.startswith("validate_")}
    assert custom <= names
