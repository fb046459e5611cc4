"""Tickets and silent agents in Chromium: an agent answers a web ticket in the console and the
customer reads the answer on their next visit to the widget; a customer left waiting alerts the
agent, then the supervisor, who takes the chat back into the queue. Screenshots for the README."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.hub.browser_support import (
    BROWSER_MARKS,
    Hub,
    closed_url,
    hours_excluding_now,
    playwright_api,
    run_hub,
    save_screenshot,
)
from tests.hub.test_browser import (  # noqa: F401 (fixtures)
    DEMO_CUSTOMER,
    SLOW,
    browser,
    customer_send,
    login_console,
    open_demo_shop,
    signed_identity,
)

pytestmark = BROWSER_MARKS

sync_api = playwright_api()
expect = sync_api.expect


# Records each browser notification the page shows (permission granted by the test).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notifications = [];
  function Recorded(title, options) {
    window.__notifications.push(title);
    try { return new Real(title, options); } catch (e) { return { close() {} }; }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Recorded;
})();
"""


@pytest.fixture(scope="module")
def hub_off_duty(tmp_path_factory: pytest.TempPathFactory, shop_db_url: str) -> Iterator[Hub]:
    with run_hub(tmp_path_factory.mktemp("hub-desk-offline"), closed_url(), shop_db_url,
                 HUB_WORKING_HOURS=hours_excluding_now()) as hub:
        yield hub


@pytest.fixture(scope="module")
def hub_quick_alerts(tmp_path_factory: pytest.TempPathFactory, shop_db_url: str) -> Iterator[Hub]:
    with run_hub(tmp_path_factory.mktemp("hub-desk-silence"), closed_url(), shop_db_url,
                 HUB_SILENCE_AGENT_AFTER="2", HUB_SILENCE_SUPERVISOR_AFTER="4",
                 HUB_SILENCE_CHECK_EVERY="0.5") as hub:
        yield hub


def test_agent_answers_web_ticket_customer_reads_it_next_visit(browser, hub_off_duty: Hub) -> None:  # noqa: F811
    hub = hub_off_duty
    cctx, customer = open_demo_shop(browser, hub, signed_identity(DEMO_CUSTOMER))
    actx, agent = login_console(browser, hub, "agent1")
    try:
        customer_send(customer, "我要找人工")
        form = customer.locator("[data-role=leave-message]")
        expect(form).to_be_visible(timeout=SLOW)
        form.locator("textarea").fill("收到的杯子碎了，想换一个新的")
        form.locator("input").fill("13900002222")
        form.locator("button.btn").click()
        expect(customer.locator("[data-role=leave-message-done]")).to_contain_text("工单号")
        customer.close()  # the customer leaves

        agent.locator(".rail-btn[data-view=tickets]").click()
        row = agent.locator("[data-role=ticket-row]", has_text="杯子碎了")
        expect(row).to_be_visible(timeout=SLOW)
        expect(row).to_contain_text("未分配")
        row.click()
        detail = agent.locator("#ticket-detail")
        expect(detail).to_contain_text("收到的杯子碎了")
        answer = "<b>抱歉</b>，已为您补发新杯子，单号稍后短信通知。"
        detail.locator("[data-role=ticket-note]").wait_for()
        detail.locator("[data-role=ticket-input]").fill("已和仓库确认有货")
        detail.locator("[data-role=ticket-note]").click()
        expect(detail.locator("[data-role=ticket-entry][data-kind=note]")).to_contain_text("已和仓库确认有货")
        detail.locator("[data-role=ticket-input]").fill(answer)
        detail.locator("[data-role=ticket-reply]").click()
        reply = detail.locator("[data-role=ticket-entry][data-kind=reply]")
        expect(reply).to_contain_text(answer)  # markup shown as text
        expect(reply.locator("[data-role=delivery]")).to_contain_text("待客户下次访问时查看")
        expect(detail).to_contain_text("已答复")
        expect(detail.locator("[data-role=ticket-entry][data-kind=status]")).to_contain_text("处理中")
        expect(row).to_contain_text("客服 小李")
        save_screenshot(agent, "console-ticket.png", "console-ticket.png")

        # The next visit, in the same browser: the answer is in the chat, as text.
        again = cctx.new_page()
        again.goto(f"{hub.url}/#identity={quote(signed_identity(DEMO_CUSTOMER))}")
        again.locator("[data-role=launcher]").click()
        shown = again.locator("[data-role=msg-agent]", has_text="已为您补发新杯子")
        expect(shown).to_be_visible(timeout=SLOW)
        expect(shown).to_contain_text("<b>抱歉</b>")
        expect(shown).to_contain_text("工单号")
        assert shown.locator("b").count() == 0
        save_screenshot(again, "widget-ticket-reply.png", "widget-ticket-reply.png")
        agent.locator("[data-role=ticket-row]", has_text="杯子碎了").click()
        expect(agent.locator("#ticket-detail [data-role=delivery]")).to_contain_text("客户已在网页客服看到")
    finally:
        cctx.close()
        actx.close()


def test_silent_agent_alerted_then_supervisor_takes_the_chat_back(browser, hub_quick_alerts: Hub) -> None:  # noqa: F811
    hub = hub_quick_alerts
    cctx, customer = open_demo_shop(browser, hub, signed_identity(DEMO_CUSTOMER))
    actx, agent = login_console(browser, hub, "agent1")
    sctx, sup = login_console(browser, hub, "supervisor")
    for ctx in (actx, sctx):
        ctx.grant_permissions(["notifications"], origin=hub.url)
        ctx.add_init_script(RECORD_NOTIFICATIONS)
    agent.reload()  # now with notifications recorded
    expect(agent.locator("#app")).to_be_visible()
    try:
        customer_send(customer, "在吗，订单有问题")  # the bot is down: the chat is queued
        item = agent.locator("[data-role=queue-item]").first
        expect(item).to_be_visible(timeout=SLOW)
        expect(item.locator(".item-wait")).to_contain_text("已等待")
        item.locator("[data-role=claim]").click()
        expect(agent.locator("#btn-close")).to_be_visible()
        mine = agent.locator("[data-role=mine-item]").first
        expect(mine.locator("[data-role=waiting]")).to_contain_text("客户等待", timeout=SLOW)
        expect(agent.locator("[data-role=silence-toast]")).to_be_visible(timeout=SLOW)
        expect(mine.locator("[data-role=waiting]")).to_have_class(re.compile(r"\blate\b"))
        titles = agent.evaluate("window.__notifications")
        assert titles[:1] == ["新客户排队"] and "客户等待回复" in titles, titles
        bar = sup.locator("[data-role=silence-alert]")
        expect(bar).to_be_visible(timeout=SLOW)
        expect(bar).to_contain_text("未获回复")
        expect(bar).to_contain_text("客服 小李")
        save_screenshot(sup, "console-silence.png", "console-silence.png")
        bar.locator("[data-role=take-back]").click()
        expect(sup.locator("[data-role=toast]", has_text="已收回到队列")).to_be_visible()
        expect(bar).to_be_hidden(timeout=SLOW)
        expect(agent.locator("[data-role=mine-item]")).to_have_count(0, timeout=SLOW)
        expect(agent.locator("[data-role=queue-item]")).to_have_count(1, timeout=SLOW)
        expect(customer.get_by_text("正在为您转接其他客服").last).to_be_visible(
            timeout=SLOW)
    finally:
        cctx.close()
        actx.close()
        sctx.close()


def test_supervisor_sets_team_limits(browser, hub_quick_alerts: Hub) -> None:  # noqa: F811
    sctx, sup = login_console(browser, hub_quick_alerts, "supervisor")
    actx, agent = login_console(browser, hub_quick_alerts, "agent1")
    try:
        expect(agent.locator(".rail-btn[data-view=stats]")).to_be_hidden()  # supervisors only
        sup.locator(".rail-btn[data-view=stats]").click()
        row = sup.locator("[data-role=team-row][data-skill=refunds]")
        expect(row).to_be_visible()
        row.locator("input[type=checkbox]").uncheck()
        row.locator("input[type=number]").nth(0).fill("45")
        row.locator("input[type=number]").nth(1).fill("200")
        row.locator("[data-role=team-save]").click()
        expect(sup.locator("[data-role=toast]", has_text="提醒设置已保存")).to_be_visible()
        row.locator("input[type=number]").nth(1).fill("10")  # below the agent's limit: refused
        row.locator("[data-role=team-save]").click()
        expect(sup.locator("[data-role=toast]", has_text="保存失败")).to_be_visible()
        sup.reload()
        sup.locator(".rail-btn[data-view=stats]").click()
        row = sup.locator("[data-role=team-row][data-skill=refunds]")
        expect(row.locator("input[type=checkbox]")).not_to_be_checked()
        expect(row.locator("input[type=number]").nth(0)).to_have_value("45")
        expect(row.locator("input[type=number]").nth(1)).to_have_value("200")
        save_screenshot(sup, "console-team-limits.png")
    finally:
        sctx.close()
        actx.close()
