"""Agent assist and the review capture against the real bot (the session's Rasa stack with the
trained model). Assertions hold by rule for any freshly trained model: the suggestions are what
the model's own parse of the message gives, and messages the bot's rules treat as not understood
(pure hesitation) are recorded with the kind the bot's replies show."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pytest
import yaml

from handoff.assist import MIN_SCORE, faq_scores

from .conftest import ROOT, HubProcess, hub_processes, login, open_customer
from .test_review import copy_bot_dir

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def real_hub(rasa_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("review-rasa")
    env = {"RASA_URL": rasa_url, "HUB_BOT_DIR": str(copy_bot_dir(tmp / "bot")),
           "HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}", "HUB_RASA_TIMEOUT": "20"}
    with hub_processes(env, tmp, count=1) as (hub,):
        yield hub


def test_suggestions_are_the_models_own_reading_of_the_message(real_hub: HubProcess, rasa_url: str) -> None:
    answers: dict[str, str] = {}
    for path in (ROOT / "data" / "nlu").glob("faq*.yml"):
        for name, variants in (yaml.safe_load(path.read_text(encoding="utf-8")).get("responses") or {}).items():
            answers[name[len("utter_"):]] = variants[0]["text"]

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await login(session, real_hub.url, "supervisor")
            await agent.presence("online")
            customer = await open_customer(session, real_hub.url)
            code, body = await customer.send("转人工")  # a person on request: the bot's rule
            assert code == 200, body
            code, claimed = await agent.call("POST", f"/api/agent/conversations/{customer.id}/claim")
            assert code == 200, claimed
            for text in ("退款多久到账", "满多少包邮", "你们几点下班"):
                await customer.send(text)
                code, got = await agent.call("GET", f"/api/agent/conversations/{customer.id}/suggestions")
                assert code == 200 and got["nlu"] == "ok" and got["text"] == text, got
                async with session.post(f"{rasa_url}/model/parse", json={"text": text}) as r:
                    parse = await r.json()
                assert got["intent"]["name"] == parse["intent"]["name"]
                expected = {k: round(v, 3) for k, v in faq_scores(parse).items() if v >= MIN_SCORE and k in answers}
                offered = {s["key"]: s for s in got["suggestions"] if s["kind"] == "faq"}
                best = sorted(expected, key=lambda k: -expected[k])[:3]
                assert set(best) <= set(offered), (text, expected, offered)
                for key in offered:
                    assert offered[key]["score"] == expected[key] and offered[key]["text"] == answers[key]

    asyncio.run(run())


def test_hesitation_the_bot_does_not_understand_is_recorded(real_hub: HubProcess) -> None:
    """Pure hesitation is not understood by rule: asked to rephrase, offered a person, then handed
    off as not_understood. Each of the three is on the review page with that kind."""
    texts = ("呃那个嗯", "就是那个啥来着", "嗯那个呃呃")

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            sup = await login(session, real_hub.url, "supervisor")
            customer = await open_customer(session, real_hub.url)
            for text in texts:
                code, body = await customer.send(text)
                assert code == 200, body
            state = await customer.state()
            deadline = time.monotonic() + 15
            while True:
                code, page = await sup.call("GET", "/api/supervisor/review")
                found = {e: g["kinds"] for g in page["groups"] for e in g["examples"]}
                if all(t in found for t in texts) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
            assert all(t in found for t in texts), page
            kinds = {kind for g in page["groups"] if set(g["examples"]) & set(texts) for kind in g["kinds"]}
            assert state["mode"] == "queued"  # the third misunderstanding in a row hands off
            assert kinds == {"fallback", "not_understood"}, page

    asyncio.run(run())



def test_a_chat_an_agent_hands_back_is_the_bots_again(real_hub: HubProcess) -> None:
    """Straight to Rasa, a message right after the bot's handoff keeps waiting for the person;
    through the hub (which routes handed-off chats to people itself) the bot answers it once an
    agent handed the chat back, though the bot's own last act in its tracker was the handoff."""
    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            agent = await login(session, real_hub.url, "supervisor")
            await agent.presence("online")
            customer = await open_customer(session, real_hub.url)
            code, body = await customer.send("转人工")
            assert code == 200, body
            code, claimed = await agent.call("POST", f"/api/agent/conversations/{customer.id}/claim")
            assert code == 200, claimed
            code, back = await agent.call("POST", f"/api/agent/conversations/{customer.id}/return_to_bot")
            assert code == 200, back
            code, body = await customer.send("满多少包邮呀")
            assert code == 200, body
            bot = [r["text"] for r in body["replies"] if r["author"] == "bot"]
            assert any("99元" in t for t in bot), body["replies"]
            assert (await customer.state())["mode"] == "bot"

    asyncio.run(run())
