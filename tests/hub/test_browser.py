"""Browser tests: a customer in the website widget and an agent in the console, in real Chromium
against a real hub subprocess.

Most tests run the hub with Rasa unreachable (the hub then queues every chat with reason
bot_unavailable), which exercises queue, claim, reply, close and CSAT without a model. The full
flow (FAQ answer from the bot, anger, handoff) uses the session `rasa_url` fixture.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.hub.browser_support import (
    BROWSER_MARKS,
    DEMO_CUSTOMER,
    IDENTITY_SECRET,
    PASSWORDS,
    Hub,
    cjk_font_available,
    closed_url,
    hours_excluding_now,
    launch_chromium,
    playwright_api,
    restart_hub,
    run_hub,
    save_screenshot,
    third_party_shop,
)

pytestmark = BROWSER_MARKS

sync_api = playwright_api()
expect = sync_api.expect

SLOW = 20_000  # ms: a bot reply goes through Rasa on a 2-core machine
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1366, "height": 860}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not cjk_font_available():
        advice = "no Chinese font: screenshots show boxes for 汉字 (apt-get install fonts-noto-cjk)"
        if os.environ.get("CI") == "true":
            pytest.fail(advice)
        warnings.warn(advice, stacklevel=1)
    with sync_api.sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def hub_no_rasa(tmp_path_factory: pytest.TempPathFactory, shop_db_url: str) -> Iterator[Hub]:
    with run_hub(tmp_path_factory.mktemp("hub-norasa"), closed_url(), shop_db_url) as hub:
        yield hub


@pytest.fixture(scope="module")
def shop(hub_no_rasa: Hub) -> Iterator[str]:
    with third_party_shop(hub_no_rasa.url) as url:
        yield url


@pytest.fixture()
def hub_private(tmp_path: Path, shop_db_url: str) -> Iterator[Hub]:
    """A hub of the test's own, for tests that restart it."""
    with run_hub(tmp_path, closed_url(), shop_db_url) as hub:
        yield hub


@pytest.fixture(scope="module")
def hub_offline(tmp_path_factory: pytest.TempPathFactory, shop_db_url: str) -> Iterator[Hub]:
    """A hub outside its working hours: no human help, so the widget offers a message form."""
    with run_hub(
        tmp_path_factory.mktemp("hub-offline"), closed_url(), shop_db_url,
        HUB_WORKING_HOURS=hours_excluding_now(),
    ) as hub:
        yield hub


@pytest.fixture(scope="module")
def hub_with_rasa(
    tmp_path_factory: pytest.TempPathFactory, rasa_url: str, shop_db_url: str
) -> Iterator[Hub]:
    with run_hub(tmp_path_factory.mktemp("hub-rasa"), rasa_url, shop_db_url) as hub:
        yield hub


def signed_identity(customer: dict[str, str]) -> str:
    from handoff.identity import sign_identity

    return sign_identity(customer["customer_id"], IDENTITY_SECRET, name=customer["name"])


# ---------------------------------------------------------------- page helpers


def open_widget(ctx, url: str):  # type: ignore[no-untyped-def]
    page = ctx.new_page()
    page.goto(url)
    page.locator("[data-role=launcher]").click()
    expect(page.locator("[data-role=panel]")).to_be_visible()
    return page


def open_shop(browser, shop_url: str, viewport=DESKTOP, identity: str | None = None):  # type: ignore[no-untyped-def]
    """A fresh customer on a third-party shop page (another origin) that embeds the widget."""
    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
    url = shop_url + (f"?identity={quote(identity)}" if identity else "")
    return ctx, open_widget(ctx, url)


def open_demo_shop(browser, hub: Hub, identity: str):  # type: ignore[no-untyped-def]
    """The hub's own demo shop page at `/`, logged in through the signed identity in the address."""
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    return ctx, open_widget(ctx, f"{hub.url}/#identity={quote(identity)}")


def customer_send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator("[data-role=input]")
    box.fill(text)
    box.press("Enter")
    row = page.locator("[data-role=msg-customer]", has_text=text).last
    expect(row).to_be_visible()
    expect(row).not_to_have_class(re.compile(r"\b(pending|failed)\b"), timeout=SLOW)  # stored


def login_console(browser, hub: Hub, username: str):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    page.goto(f"{hub.url}/console")
    page.locator("#login-user").fill(username)
    page.locator("#login-pass").fill(PASSWORDS[username])
    page.locator("#login-submit").click()
    expect(page.locator("#app")).to_be_visible()
    if page.locator("#presence").input_value() != "online":  # left "away" by an earlier test
        page.locator("#presence").select_option("online")
    expect(page.locator("#presence-dot")).to_have_class(re.compile(r"\bonline\b"))
    return ctx, page


def claim_first(agent) -> None:  # type: ignore[no-untyped-def]
    item = agent.locator("[data-role=queue-item]").first
    expect(item).to_be_visible(timeout=SLOW)
    item.locator("[data-role=claim]").click()
    expect(agent.locator("#btn-close")).to_be_visible()


# ---------------------------------------------------------------- tests


def test_full_flow_faq_anger_handoff_reply_csat(browser, hub_with_rasa: Hub) -> None:
    """FAQ answered by the bot, anger hands off, agent sees the bot part and orders, CSAT at the end."""
    hub = hub_with_rasa
    cctx, customer = open_demo_shop(browser, hub, signed_identity(DEMO_CUSTOMER))
    actx, agent = login_console(browser, hub, "agent2")  # the angry refund waits for agent2's groups
    try:
        customer_send(customer, "退款一般多久能到账？")
        bot = customer.locator("[data-role=msg-bot]").last
        expect(bot).to_be_visible(timeout=SLOW)
        expect(bot).to_contain_text("72")

        customer_send(customer, "你们这是什么垃圾服务！气死我了，钱到现在都没退，我要投诉！")
        queue = customer.locator("[data-role=queue]")
        expect(queue).to_be_visible(timeout=SLOW)
        expect(queue).to_contain_text(re.compile(r"第 \d+ 位"))

        claim_first(agent)
        transcript = agent.locator("#transcript")
        expect(transcript.locator("[data-role=msg-bot]").first).to_be_visible()
        expect(transcript).to_contain_text("退款一般多久能到账")
        expect(agent.locator("#chat-tags")).to_contain_text("客户情绪激动")
        expect(agent.locator("[data-role=order]").first).to_be_visible()
        expect(agent.locator("[data-role=phone-masked]")).to_have_text(re.compile(r"^1\d{2}\*{4}\d{4}$"))

        agent_replies(customer, agent)
        save_screenshot(agent, "console.png", "console.png")
        close_and_rate(customer, agent)
        save_screenshot(customer, "widget.png", "widget.png")
    finally:
        cctx.close()
        actx.close()


def agent_replies(customer, agent) -> None:  # type: ignore[no-untyped-def]
    """The customer is told an agent joined and sees the agent's reply."""
    joined = customer.locator("[data-role=system]", has_text="已接入")
    expect(joined).to_have_count(1, timeout=SLOW)
    expect(joined).to_have_text(re.compile(r"^(客服|主管) \S+ 已接入"))  # one title, not "客服 客服 小李"
    expect(customer.locator("[data-role=panel]")).not_to_contain_text("客服 客服")
    reply = "您好，我是人工客服，非常抱歉给您带来不便，我马上为您核实。"
    agent.locator("#composer-input").fill(reply)
    agent.locator("#composer-input").press("Enter")
    expect(agent.locator("#transcript [data-role=msg-agent]", has_text=reply)).to_be_visible()
    expect(customer.locator("[data-role=msg-agent]", has_text=reply)).to_be_visible(timeout=SLOW)


def close_and_rate(customer, agent) -> None:  # type: ignore[no-untyped-def]
    """Closing asks the customer for 1-5 stars; the rating is accepted."""
    agent.locator("#btn-close").click()
    csat = customer.locator("[data-role=csat]")
    expect(csat).to_be_visible(timeout=SLOW)
    csat.locator("[data-score='5']").click()
    csat.locator("button.btn").click()
    expect(customer.locator("[data-role=csat-done]")).to_contain_text("5 星")


def test_queue_claim_reply_close_without_bot(browser, hub_no_rasa: Hub, shop: str) -> None:
    """With Rasa down every chat goes to the queue; a second agent's claim is refused clearly."""
    hub = hub_no_rasa
    cctx, customer = open_shop(browser, shop, identity=signed_identity(DEMO_CUSTOMER))
    actx, agent = login_console(browser, hub, "agent1")
    bctx, other = login_console(browser, hub, "agent2")
    try:
        customer_send(customer, "我的订单 2025061800004 物流三天没动了")
        expect(customer.locator("[data-role=queue]")).to_contain_text(re.compile(r"第 \d+ 位"), timeout=SLOW)

        item = agent.locator("[data-role=queue-item]").first
        expect(item).to_contain_text("机器人不可用", timeout=SLOW)
        expect(item).to_contain_text("网页")
        expect(other.locator("[data-role=queue-item]")).to_have_count(1, timeout=SLOW)
        # agent2 opens the same chat and is about to claim it when agent1 wins
        other.locator("[data-role=queue-item]").first.click()
        expect(other.locator("#btn-claim")).to_be_visible()
        claim_first(agent)
        other.locator("#btn-claim").click()
        expect(other.locator("[data-role=toast]", has_text="已被其他客服接入")).to_be_visible()

        expect(agent.locator("#transcript")).to_contain_text("物流三天没动了")
        expect(agent.locator("[data-role=order]").first).to_be_visible()

        note = "内部备注：客户情绪一般，先查物流"
        agent.locator(".ctab[data-mode=note]").click()
        agent.locator("#composer-input").fill(note)
        agent.locator("#btn-send").click()
        expect(agent.locator("#transcript [data-role=msg-note]", has_text=note)).to_be_visible()
        agent.locator(".ctab[data-mode=reply]").click()

        agent_replies(customer, agent)
        expect(customer.locator("[data-role=messages]")).not_to_contain_text(note)
        save_screenshot(agent, "console-norasa.png")
        close_and_rate(customer, agent)
        save_screenshot(customer, "widget-norasa.png")
    finally:
        cctx.close()
        actx.close()
        bctx.close()


def test_queue_toast_leaves_with_the_claimed_chat(browser, hub_no_rasa: Hub, shop: str) -> None:
    """A colleague's "new in queue" toast goes once the chat is claimed. Its page clock is paused,
    so the toast's own timeout cannot be what removes it."""
    hub = hub_no_rasa
    actx, agent = login_console(browser, hub, "agent1")
    bctx, other = login_console(browser, hub, "agent2")
    cctx, customer = open_shop(browser, shop)
    try:
        other.clock.install()
        other.clock.pause_at(datetime.now() + timedelta(seconds=2))
        customer_send(customer, "请问发票怎么开")
        waiting = other.locator("[data-role=toast]", has_text="位新客户在排队")
        expect(waiting).to_have_text("有 1 位新客户在排队", timeout=SLOW)
        item = agent.locator("[data-role=queue-item]").last  # the newest of equal priority
        expect(item).to_be_visible(timeout=SLOW)
        item.locator("[data-role=claim]").click()
        expect(agent.locator("#btn-close")).to_be_visible()
        expect(waiting).to_have_count(0)
        agent.locator("#btn-close").click()
    finally:
        cctx.close()
        actx.close()
        bctx.close()


def test_typing_indicator_and_canned_reply_shortcut(browser, hub_no_rasa: Hub, shop: str) -> None:
    hub = hub_no_rasa
    sctx, sup = login_console(browser, hub, "supervisor")
    cctx, customer = open_shop(browser, shop)
    actx, agent = login_console(browser, hub, "agent1")
    try:
        sup.locator(".rail-btn[data-view=canned]").click()
        sup.locator("#canned-title").fill("测试话术 物流催件")
        sup.locator("#canned-text").fill("已为您联系快递催件，预计 24 小时内更新物流信息。")
        sup.locator("#canned-save").click()
        expect(sup.locator("[data-role=canned-card]", has_text="测试话术 物流催件")).to_be_visible()

        customer_send(customer, "在吗？快递怎么还没到")
        claim_first(agent)

        customer.locator("[data-role=input]").type("我再问一下")
        expect(agent.locator("#peer-typing")).to_be_visible(timeout=SLOW)

        agent.locator("#composer-input").type("/")
        expect(agent.locator("#canned-pop")).to_be_visible()
        agent.locator("#canned-filter").type("物流催件")
        agent.locator("#canned-filter").press("Enter")
        expect(agent.locator("#composer-input")).to_have_value("已为您联系快递催件，预计 24 小时内更新物流信息。")
        agent.locator("#composer-input").press("Enter")
        expect(customer.locator("[data-role=msg-agent]", has_text="已为您联系快递催件")).to_be_visible(timeout=SLOW)

        agent.locator("#composer-input").type("稍")
        expect(customer.locator("[data-role=typing]")).to_be_visible(timeout=SLOW)

        # agents read the list; only supervisors edit it
        agent.locator(".rail-btn[data-view=canned]").click()
        expect(agent.locator("#canned-form")).to_be_hidden()
        expect(agent.locator("[data-role=canned-card]", has_text="测试话术 物流催件")).to_be_visible()
        card = sup.locator("[data-role=canned-card]", has_text="测试话术 物流催件")
        card.get_by_role("button", name="编辑").click()
        sup.locator("#canned-text").fill("已加急催件，今天内回复您。")
        sup.locator("#canned-save").click()
        expect(card).to_contain_text("已加急催件")
        sup.once("dialog", lambda dialog: dialog.accept())
        card.get_by_role("button", name="删除").click()
        expect(sup.locator("[data-role=canned-card]", has_text="测试话术 物流催件")).to_have_count(0)
    finally:
        sctx.close()
        cctx.close()
        actx.close()


def test_history_survives_reload_and_text_is_escaped(browser, hub_no_rasa: Hub, shop: str) -> None:
    hub = hub_no_rasa
    cctx, customer = open_shop(browser, shop)
    try:
        evil = "<img src=x onerror=\"window.__pwned=1\"><b>粗体</b>"
        customer_send(customer, evil)
        first_id = customer.evaluate("() => window.__kefuWidget.state().conversation_id")
        assert first_id
        customer.reload()
        # no click needed: the stored conversation resumes with its history
        customer.locator("[data-role=launcher]").click()
        expect(customer.locator("[data-role=msg-customer]", has_text=evil)).to_be_visible(timeout=SLOW)
        assert customer.evaluate("() => window.__kefuWidget.state().conversation_id") == first_id
        assert customer.evaluate("() => window.__pwned === undefined")
        assert customer.locator("[data-role=messages] img").count() == 0

        actx, agent = login_console(browser, hub, "agent1")
        try:
            item = agent.locator(f"[data-role=queue-item][data-id='{first_id}']")
            expect(item).to_be_visible(timeout=SLOW)
            item.click()
            expect(agent.locator("#transcript")).to_contain_text("<b>粗体</b>")
            assert agent.locator("#transcript img, #transcript b").count() == 0
            assert agent.evaluate("() => window.__pwned === undefined")
        finally:
            actx.close()
    finally:
        cctx.close()


@pytest.mark.parametrize("phone", [SMALL_PHONE, PHONE], ids=["375px", "390px"])
def test_phone_sized_screen_gets_full_screen_panel(browser, shop: str, phone: dict[str, int]) -> None:
    cctx, customer = open_shop(browser, shop, viewport=phone)
    try:
        # the panel slides in (CSS transition): wait until it has settled, then measure
        customer.wait_for_function(
            """([w, h]) => {
                const r = document.querySelector('#kefu-widget-host').shadowRoot
                    .querySelector('[data-role=panel]').getBoundingClientRect();
                return r.x === 0 && r.y === 0 && r.width === w && r.height === h;
            }""",
            arg=[phone["width"], phone["height"]],
            timeout=5000,
        )
        box = customer.locator("[data-role=panel]").bounding_box()
        assert box is not None
        assert (box["x"], box["y"]) == (0, 0)
        assert (box["width"], box["height"]) == (phone["width"], phone["height"])
        customer_send(customer, "手机上也能聊天吗")
        expect(customer.locator("[data-role=queue]")).to_be_visible(timeout=SLOW)
        # nothing sticks out sideways: input, send button and the queue banner fit the screen
        for role in ("input", "send", "queue", "messages"):
            part = customer.locator(f"[data-role={role}]").bounding_box()
            assert part is not None, role
            assert part["x"] >= 0 and part["x"] + part["width"] <= phone["width"] + 0.5, (role, part)
        assert customer.evaluate(
            """() => { const m = document.querySelector('#kefu-widget-host').shadowRoot
                           .querySelector('[data-role=messages]');
                       return m.scrollWidth <= m.clientWidth; }""")
        save_screenshot(customer, f"widget-phone-{phone['width']}.png")
        customer.locator("[data-role=close]").click()
        expect(customer.locator("[data-role=launcher]")).to_be_visible()
    finally:
        cctx.close()


def test_offline_leave_message_becomes_ticket(browser, hub_offline: Hub) -> None:
    hub = hub_offline
    cctx, customer = open_demo_shop(browser, hub, signed_identity(DEMO_CUSTOMER))
    actx, agent = login_console(browser, hub, "agent1")
    try:
        customer_send(customer, "我要找人工")
        form = customer.locator("[data-role=leave-message]")
        expect(form).to_be_visible(timeout=SLOW)
        expect(customer.locator("[data-role=queue]")).to_be_hidden()  # no queue promise off duty
        expect(customer.locator("[data-role=subtitle]")).to_contain_text("暂不在线")
        form.locator("textarea").fill("发票抬头开错了，麻烦改成公司名称")
        form.locator("input").fill("abc")
        form.locator("button.btn").click()
        expect(form.locator(".err")).to_contain_text("手机号或邮箱")
        form.locator("input").fill("13900001111")
        form.locator("button.btn").click()
        expect(customer.locator("[data-role=leave-message-done]")).to_contain_text("工单号")

        agent.locator(".rail-btn[data-view=tickets]").click()
        row = agent.locator("[data-role=ticket-row]", has_text="发票抬头开错了")
        expect(row).to_be_visible(timeout=SLOW)
        row.locator("select").select_option("solved")
        expect(agent.locator("[data-role=toast]", has_text="已解决")).to_be_visible()
        agent.reload()
        agent.locator(".rail-btn[data-view=tickets]").click()
        expect(agent.locator("[data-role=ticket-row]", has_text="发票抬头开错了").locator("select")).to_have_value("solved")
    finally:
        cctx.close()
        actx.close()


def test_supervisor_dashboard_shows_figures(browser, hub_no_rasa: Hub, shop: str) -> None:
    hub = hub_no_rasa
    cctx, customer = open_shop(browser, shop)
    sctx, sup = login_console(browser, hub, "supervisor")
    try:
        customer_send(customer, "人工客服")
        expect(customer.locator("[data-role=queue]")).to_be_visible(timeout=SLOW)
        sup.locator(".rail-btn[data-view=stats]").click()
        kpis = sup.locator("[data-role=kpi]")
        expect(kpis).to_have_count(6)
        expect(kpis.nth(0)).not_to_contain_text("—")
        expect(sup.locator("#reasons-chart")).to_contain_text("机器人不可用")
        expect(sup.locator("#agents-table tbody tr").first).to_be_visible()
        save_screenshot(sup, "console-supervisor.png")
        # a colleague stepping away shows on the dashboard
        actx, colleague = login_console(browser, hub, "agent2")
        try:
            row = sup.locator("#agents-table tbody tr", has_text="客服 小陈")
            expect(row).to_contain_text("在线")
            colleague.locator("#presence").select_option("away")
            expect(row).to_contain_text("离开")
            colleague.locator("#presence").select_option("online")
            expect(row).to_contain_text("在线")
        finally:
            actx.close()
    finally:
        cctx.close()
        sctx.close()


def test_transfer_to_colleague(browser, hub_no_rasa: Hub, shop: str) -> None:
    hub = hub_no_rasa
    cctx, customer = open_shop(browser, shop)
    actx, agent = login_console(browser, hub, "agent1")
    bctx, other = login_console(browser, hub, "agent2")
    try:
        customer_send(customer, "请帮我转给退款专员")
        cid = customer.evaluate("() => window.__kefuWidget.state().conversation_id")
        item = agent.locator(f"[data-role=queue-item][data-id='{cid}']")
        expect(item).to_be_visible(timeout=SLOW)
        item.locator("[data-role=claim]").click()
        expect(agent.locator("#btn-transfer")).to_be_visible()
        agent.locator("#btn-transfer").click()
        agent.locator("input[name=ttype][value=agent]").check()
        expect(agent.locator("#transfer-agent option", has_text="小陈")).to_have_count(1)
        agent.locator("#transfer-agent").select_option(label=agent.locator(
            "#transfer-agent option", has_text="小陈").inner_text())
        agent.locator("#transfer-ok").click()
        expect(agent.locator("[data-role=toast]", has_text="已转接")).to_be_visible()

        expect(other.locator("[data-role=toast]", has_text="有新会话分配给您")).to_be_visible(timeout=SLOW)
        other.locator(".tab[data-tab=mine]").click()
        mine = other.locator(f"[data-role=mine-item][data-id='{cid}']")
        expect(mine).to_be_visible()
        mine.click()
        expect(other.locator("#transcript")).to_contain_text("请帮我转给退款专员")
        expect(other.locator("#btn-close")).to_be_visible()
        expect(agent.locator(f"[data-role=mine-item][data-id='{cid}']")).to_have_count(0)

        other.locator("#btn-return").click()
        expect(other.locator("[data-role=toast]", has_text="已转回机器人")).to_be_visible()
        expect(other.locator(f"[data-role=mine-item][data-id='{cid}']")).to_have_count(0)
        expect(customer.locator("[data-role=subtitle]")).to_contain_text("智能客服", timeout=SLOW)
    finally:
        cctx.close()
        actx.close()
        bctx.close()


def test_both_sides_reconnect_after_hub_restart(browser, hub_private: Hub, shop_db_url: str) -> None:
    """Websockets drop when the hub restarts; both pages reconnect and nothing is lost."""
    hub = hub_private
    with third_party_shop(hub.url) as shop_url:
        cctx, customer = open_shop(browser, shop_url)
        actx, agent = login_console(browser, hub, "agent1")
        try:
            customer_send(customer, "重启前的消息")
            claim_first(agent)
            expect(customer.locator("[data-role=system]", has_text="已接入")).to_have_count(1, timeout=SLOW)
            expect(agent.locator("#conn")).to_have_class(re.compile(r"\bok\b"))

            agent.evaluate("""() => { window.__conn = [];
                new MutationObserver(() => window.__conn.push(document.querySelector('#conn').className))
                    .observe(document.querySelector('#conn'), {attributes: true}); }""")
            customer.evaluate("""() => { window.__net = [];
                const net = document.querySelector('#kefu-widget-host').shadowRoot
                    .querySelector('[data-role=net]');
                new MutationObserver(() => window.__net.push(net.hidden))
                    .observe(net, {attributes: true}); }""")

            restart_hub(hub)
            expect(agent.locator("#conn")).to_have_class(re.compile(r"\bok\b"), timeout=SLOW)
            expect(customer.locator("[data-role=net]")).to_be_hidden(timeout=SLOW)
            # both really lost the connection and said so, then recovered
            assert any("down" in c for c in agent.evaluate("() => window.__conn"))
            assert False in customer.evaluate("() => window.__net")

            reply = "重启后客服的回复"
            agent.locator("#composer-input").fill(reply)
            agent.locator("#composer-input").press("Enter")
            expect(customer.locator("[data-role=msg-agent]", has_text=reply)).to_be_visible(timeout=SLOW)
            customer_send(customer, "重启后客户的消息")
            expect(agent.locator("#transcript")).to_contain_text("重启后客户的消息", timeout=SLOW)
            # sent once each, despite the reconnects
            expect(customer.locator("[data-role=msg-customer]", has_text="重启后客户的消息")).to_have_count(1)
            expect(agent.locator("#transcript [data-role=msg-agent]", has_text=reply)).to_have_count(1)
        finally:
            cctx.close()
            actx.close()


def test_unread_counts_and_new_chat_alert(browser, hub_no_rasa: Hub, shop: str) -> None:
    hub = hub_no_rasa
    actx, agent = login_console(browser, hub, "agent1")
    actx2 = bctx = None
    try:
        base_title = agent.title()
        actx2, first = open_shop(browser, shop)
        customer_send(first, "第一位客户")
        expect(agent).to_have_title(re.compile("^【新会话】"), timeout=SLOW)
        id1 = first.evaluate("() => window.__kefuWidget.state().conversation_id")
        agent.locator(f"[data-role=queue-item][data-id='{id1}'] [data-role=claim]").click()
        expect(agent.locator("#btn-close")).to_be_visible()
        expect(agent).to_have_title(base_title)

        bctx, second = open_shop(browser, shop)
        customer_send(second, "第二位客户")
        id2 = second.evaluate("() => window.__kefuWidget.state().conversation_id")
        agent.locator(".tab[data-tab=queue]").click()
        agent.locator(f"[data-role=queue-item][data-id='{id2}'] [data-role=claim]").click()
        expect(agent.locator("#transcript")).to_contain_text("第二位客户")

        # chat 2 is open; two messages arrive in chat 1
        customer_send(first, "还在吗？")
        customer_send(first, "麻烦快一点")
        item1 = agent.locator(f"[data-role=mine-item][data-id='{id1}']")
        expect(item1.locator("[data-role=unread]")).to_have_text("2", timeout=SLOW)
        expect(agent.locator(f"[data-role=mine-item][data-id='{id2}'] [data-role=unread]")).to_have_count(0)
        item1.click()
        expect(agent.locator("#transcript")).to_contain_text("麻烦快一点")
        expect(item1.locator("[data-role=unread]")).to_have_count(0)

        # the customer's side: a reply while the panel is closed shows on the bubble
        first.locator("[data-role=close]").click()
        agent.locator("#composer-input").fill("马上为您处理")
        agent.locator("#composer-input").press("Enter")
        expect(first.locator("[data-role=unread]")).to_have_text("1", timeout=SLOW)
        first.reload()
        # the stored conversation resumes at once, panel closed: history loads, but is not unread
        expect(first.locator("[data-role=msg-agent]", has_text="马上为您处理")).to_be_attached(timeout=SLOW)
        expect(first.locator("[data-role=unread]")).to_be_hidden()
        first.locator("[data-role=launcher]").click()
        expect(first.locator("[data-role=msg-agent]", has_text="马上为您处理")).to_be_visible(timeout=SLOW)
    finally:
        for ctx in (actx, actx2, bctx):
            if ctx is not None:
                ctx.close()


def test_console_second_tab_and_logout(browser, hub_no_rasa: Hub) -> None:
    """A second tab shares the session (cookie + CSRF token); presence changes work; logout ends it."""
    hub = hub_no_rasa
    ctx, agent = login_console(browser, hub, "agent2")
    try:
        tab = ctx.new_page()
        tab.goto(f"{hub.url}/console")
        expect(tab.locator("#app")).to_be_visible()
        tab.locator("#presence").select_option("away")
        expect(tab.locator("#presence-dot")).to_have_class(re.compile(r"\baway\b"))
        expect(tab.locator("[data-role=toast].error")).to_have_count(0)
        expect(agent.locator("#presence-dot")).to_have_class(re.compile(r"\baway\b"))  # the first tab follows
        # storage wiped (private window, cleared site data): the cookie alone brings the console back
        tab.evaluate("() => localStorage.clear()")
        tab.reload()
        expect(tab.locator("#app")).to_be_visible()
        tab.locator("#presence").select_option("online")
        expect(tab.locator("#presence-dot")).to_have_class(re.compile(r"\bonline\b"))
        expect(tab.locator("[data-role=toast].error")).to_have_count(0)
        tab.locator("#logout").click()
        expect(tab.locator("#login")).to_be_visible()
        agent.reload()
        expect(agent.locator("#login")).to_be_visible()
        agent.locator("#login-user").fill("agent2")
        agent.locator("#login-pass").fill("wrong-password")
        agent.locator("#login-submit").click()
        expect(agent.locator("#login-error")).to_have_text("账号或密码错误")
    finally:
        ctx.close()


class PageProblems:
    """Everything that would show a broken page: script errors, console errors, failed or refused
    file loads. API refusals the pages handle (401 before login, 409 on a lost claim) are not
    problems; Chromium logs those as "Failed to load resource" against an /api/ address."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.scripts: dict[str, dict[str, str]] = {}

    def watch(self, page, name: str):  # type: ignore[no-untyped-def]
        def on_console(msg) -> None:  # type: ignore[no-untyped-def]
            url = (msg.location or {}).get("url", "")
            if msg.type == "error" and not (msg.text.startswith("Failed to load resource") and "/api/" in url):
                self.found.append(f"{name}: console {msg.type}: {msg.text} ({url})")

        def on_response(res) -> None:  # type: ignore[no-untyped-def]
            if res.request.resource_type == "script":
                self.scripts[res.url] = {"status": str(res.status), **res.headers}
            if res.status >= 400 and "/api/" not in res.url:
                self.found.append(f"{name}: {res.status} {res.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda err: self.found.append(f"{name}: uncaught {err}"))
        page.on("requestfailed", lambda req: self.found.append(f"{name}: failed {req.url} {req.failure}"))
        page.on("response", on_response)
        return page


def test_module_pages_load_without_errors(browser, hub_no_rasa: Hub, shop: str) -> None:
    """Console (every view, as a supervisor), the demo shop and a third-party shop: the ES modules
    load (the widget's across origins) and nothing errs on the way."""
    hub = hub_no_rasa
    problems = PageProblems()
    sctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    cctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    dctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        sup = problems.watch(sctx.new_page(), "console")
        sup.goto(f"{hub.url}/console")
        expect(sup.locator("#login")).to_be_visible()
        sup.locator("#login-user").fill("supervisor")
        sup.locator("#login-pass").fill(PASSWORDS["supervisor"])
        sup.locator("#login-submit").click()
        expect(sup.locator("#app")).to_be_visible()
        expect(sup.locator("#conn")).to_have_class(re.compile(r"\bok\b"), timeout=SLOW)

        customer = problems.watch(cctx.new_page(), "third-party shop")
        customer.goto(shop)
        customer.locator("[data-role=launcher]").click()
        customer_send(customer, "页面能正常加载吗")
        expect(customer.locator("[data-role=queue]")).to_contain_text(re.compile(r"第 \d+ 位.*预计等待"), timeout=SLOW)
        cid = customer.evaluate("() => window.__kefuWidget.state().conversation_id")
        item = sup.locator(f"[data-role=queue-item][data-id='{cid}']")
        expect(item).to_be_visible(timeout=SLOW)
        item.click()
        expect(sup.locator("#transcript")).to_contain_text("页面能正常加载吗")
        for view, ready in (("tickets", "#tickets-table"), ("canned", "#canned-list"), ("stats", "[data-role=kpi]"),
                            ("chats", "#queue-list")):
            sup.locator(f".rail-btn[data-view={view}]").click()
            expect(sup.locator(ready).first).to_be_visible()

        demo = problems.watch(dctx.new_page(), "demo shop")
        demo.goto(f"{hub.url}/")
        demo.locator("[data-role=launcher]").click()
        expect(demo.locator("[data-role=panel]")).to_be_visible()
        expect(demo.locator("[data-role=system]").first).to_be_visible(timeout=SLOW)  # the greeting

        sup.locator(f"[data-role=queue-item][data-id='{cid}'] [data-role=claim]").click()
        expect(customer.locator("[data-role=subtitle]")).to_contain_text("为您服务", timeout=SLOW)
        sup.locator("#btn-return").click()
        expect(customer.locator("[data-role=subtitle]")).to_contain_text("智能客服", timeout=SLOW)
    finally:
        sctx.close()
        cctx.close()
        dctx.close()
    assert problems.found == []
    loaded = {url.split("/static/", 1)[-1] for url in problems.scripts if "/static/" in url}
    assert {"console/main.js", "console/live.js", "widget/main.js", "widget/conversation.js",
            "shared/http.js", "shared/socket.js", "shared/format.js", "shared/dom.js"} <= loaded
    for url, headers in problems.scripts.items():
        assert headers["status"] == "200", url
        if "/static/widget/" in url or "/static/shared/" in url:
            assert headers.get("access-control-allow-origin") == "*", url
