"""What an operator sees at ``python -m handoff``: URLs and demo logins that work, printed once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import aiohttp

from handoff.__main__ import start_banner
from handoff.identity import verify_identity
from handoff.seed import SeededAccount
from handoff.settings import Settings

from .conftest import ROOT, HubProcess

NO_PASSWORDS = {"HUB_SUPERVISOR_PASSWORD": "", "HUB_AGENT1_PASSWORD": "", "HUB_AGENT2_PASSWORD": ""}
ACCOUNT_LINE = re.compile(r"^\s+(supervisor|agent)\s+(\w+)\s+.*password: (\S+)$", re.M)


async def _login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> int:
    async with session.post(f"{base}/api/agent/login", json={"username": username, "password": password}) as r:
        return r.status


def _hub(tmp_path: Path, name: str) -> HubProcess:
    return HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", **NO_PASSWORDS,
                       "RASA_URL": "http://127.0.0.1:9"}, tmp_path / f"{name}.log")


async def test_fresh_start_prints_working_logins_once_then_how_to_reset(
    tmp_path: Path, session: aiohttp.ClientSession,
) -> None:
    first = _hub(tmp_path, "first")
    try:
        out = first.logs()
        assert f"Agent console:           {first.url}/console" in out
        assert f"Shop page + chat widget: {first.url}/" in out
        printed = {user: pw for _, user, pw in ACCOUNT_LINE.findall(out)}
        assert set(printed) == {"supervisor", "agent1", "agent2"}
        for user, password in printed.items():
            assert await _login(session, first.url, user, password) == 200
    finally:
        first.stop()
    assert first.logs().count(printed["agent1"]) == 1

    again = _hub(tmp_path, "again")
    try:
        out = again.logs()
        assert ACCOUNT_LINE.findall(out) == []
        assert out.count("password unchanged") == 3
        assert "-m handoff --reset-password <username>" in out
        assert all(pw not in out for pw in printed.values())
        async with session.post(f"{again.url}/api/agent/login",
                                json={"username": "agent1", "password": printed["agent1"], "bearer": True}) as r:
            old_token = (await r.json())["token"]
        reset = subprocess.run(
            [sys.executable, "-m", "handoff", "--reset-password", "agent1"], cwd=ROOT, capture_output=True,
            text=True, env={"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "PATH": "/usr/bin:/bin"},
            check=True,
        )
        new = re.search(r"new password: (\S+)", reset.stdout)
        assert new is not None, reset.stdout
        assert await _login(session, again.url, "agent1", printed["agent1"]) == 401
        assert await _login(session, again.url, "agent1", new.group(1)) == 200
        async with session.get(f"{again.url}/api/agent/me", headers={"Authorization": f"Bearer {old_token}"}) as r:
            assert r.status == 401  # the reset ended the old session
    finally:
        again.stop()


def test_unknown_account_reset_fails_clearly(tmp_path: Path) -> None:
    reset = subprocess.run(
        [sys.executable, "-m", "handoff", "--reset-password", "nobody"], cwd=ROOT, capture_output=True,
        text=True, env={"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "PATH": "/usr/bin:/bin"},
    )
    assert reset.returncode == 1 and "nobody" in reset.stderr


def test_banner_hides_passwords_from_the_environment_and_signs_a_demo_link() -> None:
    settings = Settings.from_env({"HUB_AGENT1_PASSWORD": "from-env-secret"})
    accounts = [SeededAccount("agent1", "agent", "from-env-secret", "客服 小李"),
                SeededAccount("agent2", "agent", "generated-pw", "客服 小陈")]
    text = start_banner(settings, accounts)
    assert "from-env-secret" not in text and "password from HUB_AGENT1_PASSWORD" in text
    assert "password: generated-pw" in text
    link = re.search(r"#identity=(\S+)", text)
    assert link is not None
    assert verify_identity(link.group(1), settings.identity_secret)["customer_id"] == "C0001"
    # with a real shop key the banner never prints a login link for a customer
    fixed = Settings.from_env({"HUB_IDENTITY_SECRET": "shop-key"})
    assert "#identity=" not in start_banner(fixed, accounts)
