"""The 历史 view and the chat sidebar's earlier conversations in real Chromium against a real hub
(SQLite, the Rasa stand-in for the bot part, the seeded demo shop for the customer panel).

Past conversations are arranged through the hub's API as customers and agents make them; what
is tested is the console: a supervisor finds a conversation by order number and text, reads it,
scores it and sees the agent's 质检 average; an agent serving the customer again sees the earlier
conversation in the sidebar and opens it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.hub.browser_support import (
    BROWSER_MARKS,
    DEMO_CUSTOMER,
    IDENTITY_SECRET,
    PASSWORDS,
    Hub,
    launch_chromium,
    playwright_api,
    run_hub,
    save_screenshot,
)

from .conftest import RasaStandIn

pytestmark = BROWSER_MARKS

sync_api = playwright_api()
expect = sync_api.expect

DESKTOP = {"width": 1440, "height": 900}
ORDER = "2025061800004"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, rasa: RasaStandIn, shop_db_url: str) -> Iterator[Hub]:
    with run_hub(tmp_path_factory.mktemp("hub-history"), rasa.url, shop_db_url) as hub:
        yield hub


def _identity() -> str:
    from handoff.identity import sign_identity

    return sign_identity(DEMO_CUSTOMER["customer_id"], IDENTITY_SECRET, name=DEMO_CUSTOMER["name"])


def _open(hub: Hub) -> tuple[str, str]:
    data = hub.api("POST", "/api/conversations", {"channel": "web", "identity": _identity()})
    return data["conversation_id"], data["token"]


def _say(hub: Hub, conv: tuple[str, str], *texts: str) -> None:
    for text in texts:
        hub.api("POST", f"/api/conversations/{conv[0]}/messages", {"text": text}, token=conv[1])


def _agent_token(hub: Hub, username: str) -> str:
    return hub.api("POST", "/api/agent/login", {"username": username, "password": PASSWORDS[username],
                                                "bearer": True})["token"]


def login_console(browser, hub: Hub, username: str):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: errors.append("dialog: " + d.message))  # alert() from injected markup
    page.goto(f"{hub.url}/console")
    page.locator("#login-user").fill(username)
    page.locator("#login-pass").fill(PASSWORDS[username])
    page.locator("#login-submit").click()
    expect(page.locator("#app")).to_be_visible()
    page.locator("#presence").select_option("online")
    return ctx, page, errors


def test_supervisor_finds_reads_and_scores_and_agent_sees_earlier_chats(browser, hub: Hub) -> None:
    # An earlier conversation of 张伟: the bot part, a handoff, agent1's answer, a rating of 4.
    agent1 = _agent_token(hub, "agent1")
    first = _open(hub)
    _say(hub, first, f"我的订单{ORDER}怎么还没到", "1234", f"我要转人工 {HOSTILE}")
    hub.api("POST", f"/api/agent/conversations/{first[0]}/claim", {}, token=agent1)
    hub.api("POST", f"/api/agent/conversations/{first[0]}/messages",
            {"text": f"您好，订单{ORDER}已发货，预计明天送达"}, token=agent1)
    hub.api("POST", f"/api/agent/conversations/{first[0]}/messages",
            {"text": "内部：已催促快递", "internal": True}, token=agent1)
    hub.api("POST", f"/api/agent/conversations/{first[0]}/close", {}, token=agent1)
    hub.api("POST", f"/api/conversations/{first[0]}/csat", {"score": 4}, token=first[1])
    # another customer's chat, which the searches below must not find
    other = hub.api("POST", "/api/conversations", {"channel": "web"})
    _say(hub, (other["conversation_id"], other["token"]), "随便问问发货时间")

    sctx, sup, sup_errors = login_console(browser, hub, "supervisor")
    actx, agent, agent_errors = login_console(browser, hub, "agent1")
    try:
        # -- the supervisor: search by order number, then order number and text
        sup.locator(".rail-btn[data-view=history]").click()
        expect(sup.locator("#view-title")).to_have_text("历史会话与质检")
        expect(sup.locator("[data-role=history-item]")).to_have_count(2)
        sup.locator("#hist-order").fill(ORDER)
        sup.locator("#hist-submit").click()
        expect(sup.locator("[data-role=history-item]")).to_have_count(1)
        sup.locator("#hist-q").fill("已发货")
        sup.locator("#hist-submit").click()
        item = sup.locator("[data-role=history-item]")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("张伟")
        expect(item).to_contain_text("已发货")  # the snippet is the match
        expect(item).to_contain_text("评分 4★")
        sup.locator("#hist-q").fill("发货时间")
        sup.locator("#hist-submit").click()
        expect(sup.locator("#hist-results")).to_contain_text("没有符合条件的会话")
        sup.locator("#hist-q").fill("已发货")
        sup.locator("#hist-submit").click()

        # -- the transcript: bot part, handoff, agent, note marked, hostile text as text
        sup.locator("[data-role=history-item]").first.click()
        transcript = sup.locator("#hist-transcript")
        expect(transcript.locator("[data-role=hist-bot]", has_text="收到：1234")).to_be_visible()
        expect(transcript.locator("[data-role=hist-event]").first).to_contain_text("转人工")
        expect(transcript.locator("[data-role=hist-agent]", has_text="已发货")).to_be_visible()
        expect(transcript.locator("[data-role=hist-note]")).to_contain_text("客户不可见")
        expect(transcript.locator("[data-role=hist-customer]", has_text=HOSTILE)).to_be_visible()
        assert transcript.locator("img").count() == 0
        expect(sup.locator("#hist-info")).to_contain_text(ORDER)
        expect(sup.locator("#hist-info")).to_contain_text("1234")
        expect(sup.locator("#qa-note")).to_contain_text("客服 小李")

        # -- 质检: score it; the board shows the agent's averages
        for item_name, value in (("greeting", 5), ("correct", 4), ("resolved", 5), ("attitude", 4)):
            sup.locator(f"#qa-items [data-item={item_name}] .qa-star[data-value='{value}']").click()
        sup.locator("#qa-comment").fill("<b>用语规范</b>，可主动告知物流单号")
        sup.locator("#qa-save").click()
        expect(sup.locator("[data-role=toast]", has_text="质检评分已保存")).to_be_visible()
        row = sup.locator("#qa-table [data-role=qa-agent]", has_text="客服 小李")
        expect(row).to_be_visible()
        expect(row.locator("td").nth(1)).to_have_text("1")
        expect(row.locator(".qa-overall")).to_have_text("4.5")
        expect(sup.locator("#qa-save")).to_have_text("更新评分")
        expect(sup.locator("[data-role=history-item]").first).to_contain_text("质检 4.5")
        save_screenshot(sup, "console-history.png", "console-history.png")

        # -- the agent: 张伟 is back; serving him, the sidebar lists the earlier conversation
        second = _open(hub)
        _say(hub, second, "我要转人工，还是上次那个订单")
        queued = agent.locator(f"[data-role=queue-item][data-id='{second[0]}']")
        expect(queued).to_be_visible(timeout=20_000)
        queued.locator("[data-role=claim]").click()
        expect(agent.locator("#btn-close")).to_be_visible()
        previous = agent.locator("[data-role=previous-conversation]")
        expect(previous).to_have_count(1)
        expect(previous).to_have_attribute("data-id", first[0])
        expect(agent.locator("[data-role=customer-history]")).to_contain_text("按登录身份关联")
        previous.scroll_into_view_if_needed()
        save_screenshot(agent, "console-sidebar-history.png", "console-sidebar-history.png")
        previous.click()
        expect(agent.locator("#view-history")).to_be_visible()
        expect(agent.locator("#hist-transcript [data-role=hist-agent]", has_text="已发货")).to_be_visible()
        expect(agent.locator("#qa-form")).to_be_hidden()  # scoring is the supervisors'
        expect(agent.locator("#hist-agent")).to_be_hidden()
        expect(agent.locator("#hist-scope")).to_have_text("仅显示您接待过的会话")
        # agent1's own search lists the chats they handled, and not the other customer's
        expect(agent.locator("[data-role=history-item]")).to_have_count(2)
        expect(agent.locator("#hist-results")).not_to_contain_text("随便问问")
    finally:
        sctx.close()
        actx.close()
    assert sup_errors == [] and agent_errors == []


def test_hub_log_never_holds_a_full_phone_number(hub: Hub) -> None:
    """A searched phone tail and a typed full number: neither the number nor the query leaks into the log."""
    conv = _open(hub)
    _say(hub, conv, "我的手机是13812345678")
    sup = _agent_token(hub, "supervisor")
    found = hub.api("GET", "/api/agent/history?phone_tail=5678", token=sup)
    assert conv[0] in [i["conversation_id"] for i in found["items"]]
    snippet = next(i["snippet"] for i in found["items"] if i["conversation_id"] == conv[0])
    assert "138****5678" in snippet
    assert re.search(r"13812345678", hub.logs()) is None
