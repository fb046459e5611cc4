"""The knowledge base page (知识库) in Chromium: a supervisor edits an FAQ answer, watches the
retrain's stages and log, sees why publishing failed (the old model stays), and rolls the edit
back; an agent has no such page. The retrain here fails fast on purpose (the bot copy has no
config.yml, so ``rasa train`` refuses at once); the passing retrain, gate and model load run in
tests/e2e/test_kb_retrain.py."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.kbdata import load_entries
from tests.hub.browser_support import (
    BROWSER_MARKS,
    PASSWORDS,
    ROOT,
    Hub,
    closed_url,
    launch_chromium,
    playwright_api,
    run_hub,
    save_screenshot,
)

pytestmark = BROWSER_MARKS

sync_api = playwright_api()
expect = sync_api.expect
SLOW = 60_000
HOSTILE = '<img src=x onerror="window.__xss=1">包邮: 满99元 # 不是注释\n{{第二行}}'


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*.yml")))).hexdigest()


@pytest.fixture(scope="module")
def bot_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kb-bot")
    shutil.copy(ROOT / "domain.yml", folder / "domain.yml")
    shutil.copytree(ROOT / "data", folder / "data")
    return folder  # no config.yml: training fails right away


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, bot_copy: Path) -> Iterator[Hub]:
    with run_hub(tmp_path_factory.mktemp("kb-hub"), closed_url(), HUB_KB_RETRAIN="1",
                 HUB_KB_ROOT=str(bot_copy)) as hub:
        yield hub


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


def _login(browser, hub: Hub, username: str):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{hub.url}/console")
    page.locator("#login-user").fill(username)
    page.locator("#login-pass").fill(PASSWORDS[username])
    page.locator("#login-submit").click()
    expect(page.locator("#app")).to_be_visible()
    return ctx, page, errors


def test_edit_progress_failure_and_rollback(browser, hub: Hub, bot_copy: Path) -> None:
    files = _digest(bot_copy)
    ctx, sup, errors = _login(browser, hub, "supervisor")
    try:
        sup.locator(".rail-btn[data-view=kb]").click()
        expect(sup.locator("#view-title")).to_have_text("知识库")
        entries = load_entries(bot_copy)
        expect(sup.locator("[data-role=kb-entry]")).to_have_count(len(entries))
        sup.locator("#kb-kind").select_option("faq")
        expect(sup.locator("[data-role=kb-entry]")).to_have_count(sum(e.kind == "faq" for e in entries.values()))
        sup.locator("#kb-search").fill("包邮")
        entry = sup.locator("[data-role=kb-entry][data-key='utter_faq/shipping_fee']")
        expect(entry).to_contain_text("已上线")
        entry.click()
        original = sup.locator("#kb-text").input_value()
        assert "99" in original
        expect(sup.locator("#kb-history-empty")).to_be_visible()

        sup.locator("#kb-text").fill(HOSTILE)
        sup.locator("#kb-save").click()
        # the run shows its stages and, failing, why and that the old model still serves
        expect(sup.locator("#kb-train-error")).to_contain_text("训练失败", timeout=SLOW)
        expect(sup.locator("#kb-train-error")).to_contain_text("线上仍是原模型")
        expect(sup.locator(".kb-step.done")).to_have_text(["写入数据"])
        expect(sup.locator(".kb-step.failed")).to_have_text(["重新训练"])
        expect(sup.locator("#kb-log")).to_contain_text("config", ignore_case=True)
        expect(sup.locator("#kb-headline")).to_contain_text("未上线")
        expect(sup.locator("#kb-retry")).to_be_visible()
        expect(entry).to_contain_text("待上线")
        row = sup.locator("[data-role=kb-version]").first
        expect(row.locator(".kb-after")).to_have_text(HOSTILE)  # markup shown as text
        expect(row.locator(".kb-before")).to_have_text(original)
        expect(row).to_contain_text("主管 王敏")
        assert sup.evaluate("() => window.__xss") is None
        assert sup.locator("#view-kb img").count() == 0
        save_screenshot(sup, "kb-failed.png")
        assert _digest(bot_copy) == files  # the data files were put back

        # roll the edit back: the original text is the newest version again
        row.locator("[data-role=kb-rollback]").click()
        expect(sup.locator("[data-role=kb-version]")).to_have_count(2)
        expect(sup.locator("[data-role=kb-version]").first).to_contain_text("回滚 #")
        expect(sup.locator("#kb-text")).to_have_value(original)
        expect(sup.locator("#kb-train-error")).to_be_visible(timeout=SLOW)  # the retry failed the same way
        assert _digest(bot_copy) == files
        assert errors == []
    finally:
        ctx.close()


def test_agents_have_no_knowledge_base_page(browser, hub: Hub) -> None:
    ctx, agent, errors = _login(browser, hub, "agent1")
    try:
        expect(agent.locator(".rail-btn[data-view=kb]")).to_be_hidden()
        agent.evaluate("() => document.querySelector('.rail-btn[data-view=kb]').click()")
        expect(agent.locator("#view-kb")).to_be_hidden()
        expect(agent.locator("#view-chats")).to_be_visible()
        assert errors == []
    finally:
        ctx.close()
