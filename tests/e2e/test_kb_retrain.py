"""The knowledge base end to end, in Chromium against real processes: a supervisor edits an FAQ
answer in the console; the hub writes it into (a copy of) the bot's data, retrains with Rasa's
training cache, plays the gate's conversation tests against the new model on a throw-away Rasa
server, and loads the model into the running Rasa server, which then answers with the new text;
rolling the edit back publishes the original answer again (its model is reused, nothing to train).

Slow but bounded: one response-only retrain (the cache holds the rest; ``bench.kb_retrain``
measures it), two gates of about 13 conversations each (faq/membership's facts plus one
conversation per file) and two model loads. The durations are printed (``-s``)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime import ROOT, model_path
from bot.stack import Stack, start_stack
from tests.hub.browser_support import (
    BROWSER_MARKS,
    PASSWORDS,
    Hub,
    launch_chromium,
    playwright_api,
    run_hub,
    save_screenshot,
)

pytestmark = BROWSER_MARKS

sync_api = playwright_api()
expect = sync_api.expect

KEY = "utter_faq/membership"
QUESTION = "会员权益有哪些"  # a training example of faq/membership: the answer is what is checked
MARKER = "会员日每月8号双倍积分"
PUBLISH_TIMEOUT = 30 * 60_000  # ms; a cold machine may have to train the NLU part again


@pytest.fixture(scope="module")
def bot_copy(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bot's config and data in a folder of its own (the retrain rewrites it), as a checkout
    after `make train` has it: the model of that data in models/ (named by the folder's data
    hash; the NLU code is this checkout's) and the training cache of this checkout in
    .rasa/cache (Rasa records cache entries relative to the working directory)."""
    folder = tmp_path_factory.mktemp("kb-e2e-bot")
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "data", folder / "data")
    target = model_path(folder)
    target.parent.mkdir()
    shutil.copy(trained_model, target)
    cache = ROOT / ".rasa" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (folder / ".rasa").mkdir()
    (folder / ".rasa" / "cache").symlink_to(cache)
    return folder


@pytest.fixture(scope="module")
def stack(bot_copy: Path, shop_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Rasa server of this test's own (its model is replaced) and its action server."""
    logs = tmp_path_factory.mktemp("kb-e2e-stack")
    running = start_stack(model_path(bot_copy), env={"DATABASE_URL": shop_db_url}, log_dir=logs,
                          tracker_db=logs / "trackers.db", workers=1)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def hub(stack: Stack, bot_copy: Path, shop_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with run_hub(tmp_path_factory.mktemp("kb-e2e-hub"), stack.rasa_url, shop_db_url, HUB_KB_RETRAIN="1",
                 HUB_KB_ROOT=str(bot_copy), RASA_CACHE_DIRECTORY=None) as running:
        yield running


def ask(rasa_url: str, text: str) -> str:
    body = json.dumps({"sender": f"kb-{time.monotonic_ns()}", "message": text}).encode()
    request = urllib.request.Request(f"{rasa_url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return "\n".join(r.get("text") or "" for r in json.loads(resp.read()))


def served_model(rasa_url: str) -> str:
    with urllib.request.urlopen(f"{rasa_url}/status", timeout=30) as resp:
        return Path(json.loads(resp.read())["model_file"]).name


def wait_published(page, run: int) -> float:  # type: ignore[no-untyped-def]
    """Until run ``run`` is live; its stages show on the way. Seconds it took."""
    started = time.monotonic()
    expect(page.locator("#kb-headline")).to_contain_text(f"#{run} ", timeout=60_000)
    expect(page.locator("#kb-headline")).to_contain_text(f"#{run} 已上线", timeout=PUBLISH_TIMEOUT)
    expect(page.locator(".kb-step.done")).to_have_count(4)
    return time.monotonic() - started


def test_edit_retrain_gate_load_then_roll_back(hub: Hub, stack: Stack, bot_copy: Path) -> None:
    original_file = (ROOT / "data" / "nlu" / "faq.yml").read_bytes()
    original_model = served_model(stack.rasa_url)
    before = ask(stack.rasa_url, QUESTION)
    assert "V1–V5" in before and MARKER not in before
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page.goto(f"{hub.url}/console")
            page.locator("#login-user").fill("supervisor")
            page.locator("#login-pass").fill(PASSWORDS["supervisor"])
            page.locator("#login-submit").click()
            page.locator(".rail-btn[data-view=kb]").click()
            page.locator(f"[data-role=kb-entry][data-key='{KEY}']").click()
            original = page.locator("#kb-text").input_value()
            new_text = original + MARKER + "。"
            page.locator("#kb-text").fill(new_text)
            page.locator("#kb-save").click()

            expect(page.locator(".kb-step.active")).to_have_count(1, timeout=60_000)  # progress while it runs
            expect(page.locator("#kb-elapsed")).to_contain_text("已用时")
            took = wait_published(page, 1)
            status = hub.api("GET", "/api/kb/training", token=_token(hub))["training"]
            print(f"\n[kb e2e] edit published in {took:.0f} s: train {status['train_seconds']} s, "
                  f"gate {status['gate_seconds']} s ({status['gate']['passed']}/{status['gate']['selected']})")
            assert status["state"] == "done" and status["gate"]["failures"] == []
            assert status["keys"] == [KEY] and status["train_seconds"] > 0
            assert MARKER in ask(stack.rasa_url, QUESTION)  # the running server answers with the new text
            assert served_model(stack.rasa_url) == model_path(bot_copy).name != original_model
            entry = page.locator(f"[data-role=kb-entry][data-key='{KEY}']")
            expect(entry).to_contain_text("已上线")
            save_screenshot(page, "kb-published.png", "kb.png")

            page.locator("[data-role=kb-version]").first.locator("[data-role=kb-rollback]").click()
            took = wait_published(page, 2)
            status = hub.api("GET", "/api/kb/training", token=_token(hub))["training"]
            print(f"[kb e2e] rollback published in {took:.0f} s: train {status['train_seconds']} s (model reused), "
                  f"gate {status['gate_seconds']} s")
            assert status["train_seconds"] == 0.0  # the original data's model was still there
            after = ask(stack.rasa_url, QUESTION)
            assert MARKER not in after and "V1–V5" in after
            assert served_model(stack.rasa_url) == original_model
            assert (bot_copy / "data" / "nlu" / "faq.yml").read_bytes() == original_file
        finally:
            browser.close()


def _token(hub: Hub) -> str:
    return hub.api("POST", "/api/agent/login", {"username": "supervisor", "password": PASSWORDS["supervisor"],
                                                "bearer": True})["token"]
