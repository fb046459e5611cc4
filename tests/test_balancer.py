"""deploy/haproxy.cfg, the balancer of docker-compose.yml, run by the real HAProxy binary in
front of stand-in hubs and action servers: both get traffic, websockets pass, a dead server is
taken out by its health check and a refused connection is retried on the other one.

Needs Debian's `haproxy` (.ci/run installs it): fails under CI=true without it, skips elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.stack import HAPROXY_CFG, BalancerService, Service, balancer_env, free_port, haproxy_bin
from tests.services import require_haproxy

STANDIN = Path(__file__).parent / "fixtures" / "standin_server.py"


def test_balancer_env_fills_the_slots() -> None:
    env = balancer_env(["127.0.0.1:1"], ["127.0.0.1:2", "127.0.0.1:3"], 10, 11, 12)
    assert env == {"HUB1": "127.0.0.1:1", "HUB2": "127.0.0.1:1", "ACTIONS1": "127.0.0.1:2",
                   "ACTIONS2": "127.0.0.1:3", "LB_HUB_BIND": "127.0.0.1:10",
                   "LB_ACTIONS_BIND": "127.0.0.1:11", "LB_STATUS_BIND": "127.0.0.1:12"}
    with pytest.raises(ValueError):
        balancer_env([], ["a:1"], 1, 2, 3)
    with pytest.raises(ValueError):
        balancer_env(["a:1", "b:1", "c:1"], ["a:2"], 1, 2, 3)


def test_the_config_is_valid_for_containers_and_local_processes() -> None:
    """`haproxy -c` with the compose file's addresses (service names) and with local ones."""
    require_haproxy()
    compose = {"HUB1": "hub-1:8000", "HUB2": "hub-2:8000", "ACTIONS1": "actions-1:5055",
               "ACTIONS2": "actions-2:5055", "LB_HUB_BIND": ":8000", "LB_ACTIONS_BIND": ":5055",
               "LB_STATUS_BIND": ":8404"}
    local = balancer_env(["127.0.0.1:18001", "127.0.0.1:18002"], ["127.0.0.1:15056"], 18000, 15055, 18404)
    for env in (compose, local):
        proc = subprocess.run([haproxy_bin(), "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Configuration file is valid" in proc.stdout + proc.stderr


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[BalancerService, dict[str, Service]]]:
    require_haproxy()
    ports = {name: free_port() for name in ("hub-1", "hub-2", "actions-1", "actions-2")}
    servers = {name: Service(name, [sys.executable, str(STANDIN), name, str(port)], tmp_path / f"{name}.log",
                             f"http://127.0.0.1:{port}/healthz").start(30) for name, port in ports.items()}
    lb = BalancerService([f"127.0.0.1:{ports['hub-1']}", f"127.0.0.1:{ports['hub-2']}"],
                         [f"127.0.0.1:{ports['actions-1']}", f"127.0.0.1:{ports['actions-2']}"],
                         tmp_path / "balancer.log")
    try:
        lb.start(30)
        lb.wait_all_up(30)
        yield lb, servers
    finally:
        lb.stop()
        for server in servers.values():
            server.stop()


def _who(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


async def test_both_get_traffic_websockets_pass_and_a_dead_server_is_avoided(
        balanced: tuple[BalancerService, dict[str, Service]]) -> None:
    lb, servers = balanced
    hubs = Counter(_who(f"{lb.url}/who")["name"] for _ in range(10))
    assert hubs == {"hub-1": 5, "hub-2": 5}
    assert _who(f"{lb.url}/who")["forwarded_for"] == "127.0.0.1"  # option forwardfor (HUB_PROXIES_COUNT=1)
    req = urllib.request.Request(lb.action_url, data=b"{}", method="POST")
    actions = Counter(json.loads(urllib.request.urlopen(req, timeout=5).read())["name"] for _ in range(10))
    assert actions == {"actions-1": 5, "actions-2": 5}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{lb.url.replace('http', 'ws')}/ws/customer") as ws:
            await ws.send_str("你好")
            reply = await asyncio.wait_for(ws.receive(), 5)
            assert reply.data.endswith(":你好")
    servers["hub-1"].kill()
    servers["actions-2"].kill()
    # before the health check notices: a refused connection is redispatched, nothing fails
    assert {_who(f"{lb.url}/who")["name"] for _ in range(10)} == {"hub-2"}
    assert {json.loads(urllib.request.urlopen(urllib.request.Request(lb.action_url, data=b"{}", method="POST"),
                                              timeout=5).read())["name"] for _ in range(10)} == {"actions-1"}
    for _ in range(50):  # then it is marked down (inter 1 s, fall 2)
        states = lb.server_states()
        if states["hubs/hub1"].startswith("DOWN") and states["action_servers/actions2"].startswith("DOWN"):
            break
        await asyncio.sleep(0.2)
    assert states["hubs/hub1"].startswith("DOWN") and states["hubs/hub2"] == "UP"
    assert states["action_servers/actions2"].startswith("DOWN")
