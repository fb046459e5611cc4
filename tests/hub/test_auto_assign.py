"""HUB_ASSIGN=auto with the real order service behind the customer panel and VIP level."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from handoff.identity import sign_identity

from .conftest import (
    IDENTITY_SECRET,
    ROOT,
    HubProcess,
    RasaStandIn,
    login,
    next_event,
    open_customer,
)


@pytest.fixture(scope="module")
def auto_hub(rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("auto")
    shop = f"sqlite:///{tmp / 'shop.db'}"
    subprocess.run([sys.executable, "-m", "bot.orders.seed", "--url", shop], cwd=ROOT, check=True,
                   capture_output=True)
    proc = HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}", "RASA_URL": rasa.url,
                       "HUB_ASSIGN": "auto", "DATABASE_URL": shop}, tmp / "hub.log")
    yield proc
    proc.stop()


async def test_auto_assign_by_skill_group_with_customer_panel(auto_hub: HubProcess, session) -> None:
    sup = await login(session, auto_hub.url, "supervisor")
    await sup.presence("offline")
    a1 = await login(session, auto_hub.url, "agent1")  # orders + general
    a2 = await login(session, auto_hub.url, "agent2")  # refunds + payments + account
    await a1.presence("online")
    await a2.presence("online")

    vip = await open_customer(session, auto_hub.url, sign_identity("C0002", IDENTITY_SECRET, name="李娜"))
    async with vip.ws(auto_hub.ws_url) as cws:
        await vip.send("我要投诉，退款拖了一周")  # stand-in bot: angry, skill refunds
        joined = await next_event(cws, "agent_joined")
        assert joined["display_name"] == a2.info["display_name"]
    _, detail = await a2.call("GET", f"/api/agent/conversations/{vip.id}")
    assert detail["mode"] == "agent" and detail["assigned_agent_id"] == a2.id
    assert detail["vip_level"] == 5 and detail["customer"]["vip_level"] == 5
    assert detail["customer"]["phone_masked"] != "15900005678" and detail["customer"]["phone_masked"].endswith("5678")
    assert {o["order_id"] for o in detail["orders"]} >= {"2025061800003"}
    assert "15900005678" not in str(detail)

    other = await open_customer(session, auto_hub.url)
    await other.send("转人工")  # skill orders
    assert (await other.state())["agent"]["display_name"] == a1.info["display_name"]

    # Nobody of the group online: the chat still goes to an online agent with room.
    await a1.presence("offline")
    third = await open_customer(session, auto_hub.url)
    await third.send("转人工")
    assert (await third.state())["agent"]["display_name"] == a2.info["display_name"]

    # Agent closes a chat and comes back: a waiting chat is handed over at once.
    await a2.presence("offline")
    waiting = await open_customer(session, auto_hub.url)
    await waiting.send("转人工")
    assert (await waiting.state())["mode"] == "queued"
    await a1.presence("online")
    assert (await waiting.state())["agent"]["display_name"] == a1.info["display_name"]
