"""Agent assist and the review page (学习) in real Chromium against a real hub process; the bot is
the rule-answering stand-in of test_review (REST channel and ``/model/parse``), so what it
understands is fixed by the test."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.hub.browser_support import BROWSER_MARKS, Hub, playwright_api, run_hub, save_screenshot
from tests.hub.test_browser import (  # noqa: F401
    SLOW,
    browser,
    claim_first,
    customer_send,
    login_console,
    open_widget,
)
from tests.hub.test_review import NluStandIn, copy_bot_dir

pytestmark = BROWSER_MARKS

sync_api = playwright_api()
expect = sync_api.expect


@pytest.fixture(scope="module")
def nlu() -> Iterator[NluStandIn]:
    stand_in = NluStandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def teaching_hub(tmp_path_factory: pytest.TempPathFactory, nlu: NluStandIn,
                 shop_db_url: str) -> Iterator[tuple[Hub, Path]]:
    tmp = tmp_path_factory.mktemp("hub-teaching")
    bot_dir = copy_bot_dir(tmp / "bot")
    with run_hub(tmp, nlu.url, shop_db_url, HUB_BOT_DIR=str(bot_dir)) as hub:
        yield hub, bot_dir


def _customer_says(hub: Hub, *texts: str) -> None:
    """A customer who is not what the test is about, through the widget's API."""
    conv = hub.api("POST", "/api/conversations", {"channel": "web"})
    for text in texts:
        req = urllib.request.Request(f"{hub.url}/api/conversations/{conv['conversation_id']}/messages",
                                     data=json.dumps({"text": text}).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {conv['token']}"})
        with urllib.request.urlopen(req, timeout=15) as res:
            assert res.status == 200


def test_a_chat_suggests_standard_replies_and_a_click_inserts_one(browser, teaching_hub) -> None:  # noqa: F811
    hub, _bot_dir = teaching_hub
    actx, agent = login_console(browser, hub, "agent1")
    cctx = browser.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN")
    try:
        customer = open_widget(cctx, hub.url + "/")
        customer_send(customer, "转人工")
        claim_first(agent)
        customer_send(customer, "请问邮费怎么算？")
        chip = agent.locator("[data-role=suggestion][data-kind=faq]").first
        expect(chip).to_be_visible(timeout=SLOW)
        expect(chip).to_contain_text("运费")
        expect(agent.locator("#assist-note")).to_contain_text("客户最后一条消息")
        agent.locator("#composer-input").fill("您好")
        chip.click()
        answer = yaml.safe_load((Path(__file__).resolve().parents[2] / "data" / "nlu" / "faq.yml")
                                .read_text(encoding="utf-8"))["responses"]["utter_faq/shipping_fee"][0]["text"]
        expect(agent.locator("#composer-input")).to_have_value("您好\n" + answer)
        save_screenshot(agent, "console-assist.png", "assist.png")
        # inserted for editing, not sent: the customer sees no agent message
        agent.wait_for_timeout(500)
        expect(customer.locator("[data-role=msg-agent]")).to_have_count(0)
        agent.locator("#composer-input").press("Enter")
        expect(customer.locator("[data-role=msg-agent]", has_text="满99元包邮")).to_be_visible(timeout=SLOW)
    finally:
        actx.close()
        cctx.close()


def test_a_supervisor_labels_a_group_and_reviewed_yml_gains_it(browser, teaching_hub) -> None:  # noqa: F811
    hub, bot_dir = teaching_hub
    hostile = "数字人民币<img src=x onerror=alert(1)><b>能用吗</b>"
    _customer_says(hub, "你们支持数字人民币吗")
    _customer_says(hub, "數字人民幣能付款嗎", hostile)
    _customer_says(hub, "今天天气怎么样")
    actx, agent = login_console(browser, hub, "agent1")
    sctx, sup = login_console(browser, hub, "supervisor")
    try:
        expect(agent.locator(".rail-btn[data-view=review]")).to_be_hidden()  # agents have no 学习
        sup.locator(".rail-btn[data-view=review]").click()
        group = sup.locator("[data-role=review-group]", has_text="数字人民币吗")
        expect(group).to_be_visible(timeout=SLOW)
        expect(group.locator(".review-count")).to_have_text("2 条")  # Traditional or not, one wording
        odd = sup.locator("[data-role=review-group]", has_text="onerror")
        expect(odd.locator("[data-role=review-example]")).to_have_text(hostile)
        assert sup.locator("img[src=x]").count() == 0 and sup.locator(".review-examples b").count() == 0
        group.locator("[data-role=review-choice]").select_option("__new_faq__")
        group.locator("[data-role=review-key]").fill("digital_rmb")
        group.locator("[data-role=review-answer]").fill("亲，目前暂不支持数字人民币，可以使用支付宝、微信支付或银联卡。")
        save_screenshot(sup, "console-review.png", "review.png")
        group.locator("[data-role=review-submit]").click()
        expect(sup.locator(".toast", has_text="reviewed.yml")).to_be_visible(timeout=SLOW)
        expect(sup.locator("[data-role=review-group]", has_text="数字人民币吗")).to_have_count(0)
        # the key just proposed is in the list now: the odd one joins it
        odd.locator("[data-role=review-choice]").select_option("faq/digital_rmb")
        odd.locator("[data-role=review-submit]").click()
        expect(sup.locator("[data-role=review-group]", has_text="onerror")).to_have_count(0, timeout=SLOW)
        weather = sup.locator("[data-role=review-group]", has_text="天气")
        expect(weather).to_be_visible()
        weather.locator("[data-role=review-choice]").select_option("out_of_scope")
        weather.locator("[data-role=review-submit]").click()
        expect(sup.locator("#review-empty")).to_be_visible(timeout=SLOW)

        doc = yaml.safe_load((bot_dir / "data" / "nlu" / "reviewed.yml").read_text(encoding="utf-8"))
        blocks = {b["intent"]: b["examples"] for b in doc["nlu"]}
        assert set(blocks) == {"faq/digital_rmb"}  # 今天天气怎么样 is a held-out line: never written
        assert blocks["faq/digital_rmb"].count("\n- ") + blocks["faq/digital_rmb"].startswith("- ") == 3
        assert "- 数字人民币<img src=x onerror=alert(1)><b>能用吗</b>\n" in blocks["faq/digital_rmb"]
        assert "utter_faq/digital_rmb" in doc["responses"]
    finally:
        actx.close()
        sctx.close()
