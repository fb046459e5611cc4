"""The quality figures and the recent-complaint flag in real Chromium against a real hub: a
supervisor picks a date range in the 看板, the charts draw, a missed target is marked, the CSV
downloads; an agent sees 近期投诉 on a complaining customer's chat in the queue and the sidebar.
The screenshot of the figures is the README's (UPDATE_DOC_IMAGES=1 refreshes docs/img)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from tests.hub.browser_support import (
    BROWSER_MARKS,
    DEMO_CUSTOMER,
    IDENTITY_SECRET,
    PASSWORDS,
    closed_url,
    launch_chromium,
    playwright_api,
    run_hub,
    save_screenshot,
    third_party_shop,
)
from tests.hub.quality_day import build_complaint, build_known_day, known_day

pytestmark = BROWSER_MARKS

sync_api = playwright_api()
expect = sync_api.expect

SLOW = 20_000
CANVAS_INK = """(id) => {
  const c = document.getElementById(id);
  if (!c || !c.width || !c.height) return 0;
  const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) ink++;
  return ink;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


def login(browser, hub, username: str, height: int = 900):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1440, "height": height}, locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{hub.url}/console")
    page.locator("#login-user").fill(username)
    page.locator("#login-pass").fill(PASSWORDS[username])
    page.locator("#login-submit").click()
    expect(page.locator("#app")).to_be_visible()
    errors.clear()  # the 401 of /api/agent/me before logging in is how the console learns it must
    if page.locator("#presence").input_value() != "online":
        page.locator("#presence").select_option("online")
    return ctx, page, errors


def test_figures_view_charts_csv_and_missed_targets(browser, tmp_path: Path, shop_db_url: str) -> None:
    with run_hub(tmp_path, closed_url(), shop_db_url) as hub:
        day = known_day()
        build_known_day(f"sqlite:///{tmp_path / 'hub.db'}", day)
        ctx, page, errors = login(browser, hub, "supervisor", height=1500)
        try:
            page.locator(".rail-btn[data-view=stats]").click()
            expect(page.locator("[data-role=kpi]").first).to_be_visible()  # today's live numbers still there
            expect(page.locator("[data-role=figure]").first).to_be_visible(timeout=SLOW)  # the last 7 days
            first, last = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()
            page.locator("#fig-from").fill(first)
            page.locator("#fig-to").fill(last)
            page.locator("#fig-load").click()
            expect(page.locator("#fig-status")).to_contain_text(f"{first} 至 {last}")

            csat = page.locator("[data-role=figure][data-key=csat_avg]")
            expect(csat).to_have_attribute("data-met", "false")
            expect(csat).to_have_class(re.compile(r"\bmissed\b"))
            expect(csat.locator(".v")).to_have_text("4.25")
            expect(csat.locator("[data-role=verdict]")).to_have_text("未达标")
            nps = page.locator("[data-role=figure][data-key=nps]")
            expect(nps).to_have_attribute("data-met", "true")
            expect(nps.locator(".v")).to_have_text("33.3")
            expect(page.locator("[data-role=figure][data-key=self_service_rate]")).to_contain_text("未设目标")
            expect(page.locator("#fig-days tbody tr")).to_have_count(3)
            expect(page.locator("#fig-days tbody tr").nth(1).locator("td.miss").first).to_be_visible()
            expect(page.locator("#fig-agents tbody tr")).to_have_count(2)
            for chart in ("fig-chart-days", "fig-chart-agents"):
                page.wait_for_function(f"({CANVAS_INK})('{chart}') > 500", timeout=SLOW)

            with page.expect_download() as dl:
                page.locator("#fig-csv-day").click()
            download = dl.value
            assert download.suggested_filename == f"figures-day-{first}_{last}.csv"
            raw = Path(download.path()).read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf")
            text = raw.decode("utf-8-sig")
            assert text.splitlines()[0].startswith("日期,会话数,转人工数,平均首次响应（秒）")
            assert f"{day.isoformat()},8,6," in text
            with page.expect_download() as dl:
                page.locator("#fig-csv-agent").click()
            assert "客服 小陈" in Path(dl.value.path()).read_bytes().decode("utf-8-sig")

            page.locator(".figures-head").scroll_into_view_if_needed()
            save_screenshot(page, "console-figures.png", "console-figures.png")

            # a supervisor lowers the CSAT target: the tile is no longer marked
            page.locator("#fig-targets-box summary").click()
            page.locator("#fig-targets-list [data-key=csat_avg]").fill("4.2")
            page.locator("#fig-targets-save").click()
            expect(csat).to_have_attribute("data-met", "true")
            page.locator("#fig-targets-list [data-key=csat_avg]").fill("4.5")
            page.locator("#fig-targets-save").click()
            expect(csat).to_have_attribute("data-met", "false")
            page.wait_for_function(f"({CANVAS_INK})('fig-chart-days') > 500")  # redrawn
            assert errors == []
        finally:
            ctx.close()


def test_recent_complaint_is_flagged_for_agents(browser, tmp_path: Path, shop_db_url: str) -> None:
    from handoff.identity import sign_identity

    with run_hub(tmp_path, closed_url(), shop_db_url) as hub:
        build_complaint(f"sqlite:///{tmp_path / 'hub.db'}", DEMO_CUSTOMER["customer_id"], time.time() - 86400)
        actx, agent, errors = login(browser, hub, "agent1")
        identity = sign_identity(DEMO_CUSTOMER["customer_id"], IDENTITY_SECRET, name=DEMO_CUSTOMER["name"])
        with third_party_shop(hub.url) as shop:
            cctx = browser.new_context(locale="zh-CN")
            try:
                customer = cctx.new_page()
                customer.goto(f"{shop}?identity={quote(identity)}")
                customer.locator("[data-role=launcher]").click()
                box = customer.locator("[data-role=input]")
                box.fill("我的退款还没到")
                box.press("Enter")
                expect(customer.locator("[data-role=queue]")).to_be_visible(timeout=SLOW)

                item = agent.locator("[data-role=queue-item]").first
                expect(item).to_contain_text("近期投诉", timeout=SLOW)
                expect(agent.locator(".rail-btn[data-view=stats]")).to_be_hidden()  # not for agents
                item.locator("[data-role=claim]").click()
                expect(agent.locator("#chat-tags")).to_contain_text("近期投诉")
                expect(agent.locator("[data-role=recent-complaint]")).to_contain_text("曾投诉")

                # the customer rates with stars and the optional 推荐意愿 (NPS) question
                agent.locator("#composer-input").fill("您好，我来为您处理退款")
                agent.locator("#composer-input").press("Enter")
                agent.locator("#btn-close").click()
                csat = customer.locator("[data-role=csat]")
                expect(csat).to_be_visible(timeout=SLOW)
                csat.locator("[data-score='4']").click()
                csat.locator("[data-nps='9']").click()
                expect(csat.locator("[data-nps='9']")).to_have_class("on")
                save_screenshot(customer, "widget-nps.png")
                csat.locator("button.btn").click()
                expect(customer.locator("[data-role=csat-done]")).to_contain_text("4 星")
                assert errors == []
            finally:
                cctx.close()
                actx.close()
        sup = hub.api("POST", "/api/agent/login", {"username": "supervisor", "password": PASSWORDS["supervisor"],
                                                    "bearer": True})["token"]
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        q = f"?from={(today - timedelta(days=2)).isoformat()}&to={today.isoformat()}"
        figures = hub.api("GET", "/api/supervisor/figures" + q, token=sup)["totals"]["figures"]
        assert figures["nps"] == {"value": 100.0, "count": 1, "target": 30.0, "met": True}
        assert figures["csat_avg"]["value"] == 4.0 and figures["csat_avg"]["count"] == 1
        assert figures["repeat_complaint_rate"]["count"] == 1  # yesterday's complaint; today's chat was no complaint

