"""Agent assist and the review page (学习) against real hub processes: SQLite with one hub,
PostgreSQL + Redis with two. A Rasa stand-in answers the REST channel and ``/model/parse`` by
rule, so what the bot "did not understand" is known to the test; the bot's data is a copy of the
project's in a temporary folder (``HUB_BOT_DIR``), where ``data/nlu/reviewed.yml`` is written."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.stack import free_port
from handoff.teach import MASKED_PHONE, normalise
from tests.services import REDIS_URL, fresh_pg_database, require_services

from .conftest import ROOT, HubProcess, hub_processes, login, open_customer

OUT_OF_SCOPE = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))[
    "responses"]["utter_out_of_scope"][0]["text"]
SELECTOR = {"faq": {"response": {"intent_response_key": "faq/shipping_fee", "confidence": 0.9},
                    "ranking": [{"intent_response_key": "faq/shipping_fee", "confidence": 0.9},
                                {"intent_response_key": "faq/delivery_time", "confidence": 0.06}]}}


def parse_of(text: str) -> dict[str, Any]:
    """What the stand-in's NLU says: the words of the text pick the result (read Simplified, as
    the bot's normaliser does)."""
    words = normalise(text)
    if "数字人民币" in words:
        intent = {"name": "nlu_fallback", "confidence": 0.31}
    elif "天气" in words:
        intent = {"name": "out_of_scope", "confidence": 0.92}
    elif "随便问问" in text:
        intent = {"name": "greet", "confidence": 0.34}
    elif "运费" in text or "邮费" in text:
        return {"text": text, "intent": {"name": "faq", "confidence": 0.95},
                "intent_ranking": [{"name": "faq", "confidence": 0.95}], "response_selector": SELECTOR}
    else:
        intent = {"name": "order_status", "confidence": 0.97}
    return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": []}


class NluStandIn:
    """Rasa's REST channel and ``/model/parse``; "听不懂" hands off as ``not_understood``."""

    def __init__(self) -> None:
        self.parses: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.startswith("/model/parse"):
                    stand_in.parses.append(body["text"])
                    payload: Any = parse_of(body["text"])
                else:
                    text, sender = body.get("message", ""), body["sender"]
                    payload = [{"recipient_id": sender, "text": f"收到：{text}"}]
                    if "天气" in normalise(text):  # the bot's own out-of-scope answer
                        payload = [{"recipient_id": sender, "text": OUT_OF_SCOPE}]
                    if "听不懂" in text or "人工" in text:
                        reason = "not_understood" if "听不懂" in text else "requested"
                        payload = [{"recipient_id": sender, "text": "正在为您转接人工客服。"},
                                   {"recipient_id": sender, "custom": {"handoff": {
                                       "reason": reason, "priority": "normal", "skill": "general",
                                       "summary": "机器人无法理解" if reason == "not_understood" else "客户要求人工"}}}]
                raw = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def copy_bot_dir(target: Path) -> Path:
    """The bot's data as a deployment has it; tests write reviewed.yml here, never in the repo."""
    (target / "data").mkdir(parents=True)
    shutil.copytree(ROOT / "data" / "nlu", target / "data" / "nlu")
    shutil.copytree(ROOT / "data" / "rules", target / "data" / "rules")
    shutil.copytree(ROOT / "data" / "stories", target / "data" / "stories")
    (target / "data" / "nlu" / "reviewed.yml").unlink(missing_ok=True)
    shutil.copytree(ROOT / "tests" / "data", target / "tests" / "data")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, target / name)
    return target


@pytest.fixture(scope="module")
def nlu() -> Iterator[NluStandIn]:
    stand_in = NluStandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hubs(request: pytest.FixtureRequest, nlu: NluStandIn,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[HubProcess], Path, str]]:
    tmp = tmp_path_factory.mktemp(f"review-{request.param}")
    bot_dir = copy_bot_dir(tmp / "bot")
    env = {"RASA_URL": nlu.url, "HUB_BOT_DIR": str(bot_dir), "HUB_RATE_LIMIT": "200", "HUB_RASA_TIMEOUT": "3"}
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'hub.db'}"
        with hub_processes({**env, "HUB_DATABASE_URL": url}, tmp, count=1) as procs:
            yield procs, bot_dir, url
        return
    require_services()
    with fresh_pg_database("hub_review") as url, hub_processes(
            {**env, "HUB_DATABASE_URL": url, "REDIS_URL": REDIS_URL}, tmp, count=2) as procs:
        yield procs, bot_dir, url


async def _say(session: aiohttp.ClientSession, base: str, *texts: str) -> Any:
    customer = await open_customer(session, base)
    for text in texts:
        code, body = await customer.send(text)
        assert code == 200, body
    return customer


async def _groups(sup: Any, want: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The review page once it holds ``want`` messages (capture runs after the reply)."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = await sup.call("GET", "/api/supervisor/review")
        assert code == 200, body
        if body["total"] >= want or time.monotonic() > deadline:
            return body["groups"]
        await asyncio.sleep(0.2)


def _group_with(groups: list[dict[str, Any]], word: str) -> dict[str, Any]:
    found = [g for g in groups if any(word in e for e in g["examples"])]
    assert len(found) == 1, groups
    return found[0]


def test_misunderstood_messages_are_grouped_and_labels_become_training_data(hubs, nlu) -> None:  # type: ignore[no-untyped-def]
    procs, bot_dir, db_url = hubs
    first, last = procs[0], procs[-1]

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            sup_first = await login(session, first.url, "supervisor")
            sup_last = await login(session, last.url, "supervisor")
            agent = await login(session, first.url, "agent1")
            # spread over the hubs: each records its own turns into the shared database
            await _say(session, first.url, "你们支持数字人民币吗", "我的快递到哪了")  # 2nd: understood
            await _say(session, last.url, "數字人民幣能付款嗎😊", "今天天气怎么样")
            await _say(session, first.url, "可以用数字人民币支付吗 手机13912345678", "随便问问")
            await _say(session, last.url, "这个听不懂的问题")  # a not_understood handoff
            groups = await _groups(sup_first, 6)
            assert sum(g["count"] for g in groups) == 6, groups  # "我的快递到哪了" was understood
            rmb = _group_with(groups, "数字人民币")
            assert rmb["count"] == 3, groups  # Traditional, emoji and a phone number do not split it
            assert rmb["kinds"] == {"fallback": 3}
            assert _group_with(groups, "天气")["kinds"] == {"out_of_scope": 1}
            assert "今天天气怎么样" not in nlu.parses  # the bot's reply said it: no parse needed
            assert _group_with(groups, "随便问问")["kinds"] == {"low_confidence": 1}
            assert _group_with(groups, "听不懂")["kinds"] == {"not_understood": 1}

            # agents neither see the page nor label
            for method, path, body in (("GET", "/api/supervisor/review", None),
                                       ("GET", "/api/supervisor/review/labels", None),
                                       ("POST", "/api/supervisor/review/label",
                                        {"item_ids": rmb["item_ids"], "label": "greet"})):
                code, answer = await agent.call(method, path, body)
                assert code == 403 and answer["error"]["code"] == "forbidden", (path, answer)
            async with session.get(f"{first.url}/api/supervisor/review") as r:
                assert r.status == 401

            code, labels = await sup_first.call("GET", "/api/supervisor/review/labels")
            names = {x["label"] for x in labels["labels"]}
            assert {"order_status", "faq/shipping_fee", "out_of_scope"} <= names
            assert "nlu_fallback" not in names and "faq" not in names

            # a new FAQ on one hub, an existing intent on the other: the file holds both
            code, done = await sup_last.call("POST", "/api/supervisor/review/label", {
                "item_ids": rmb["item_ids"],
                "new_faq": {"key": "digital_rmb", "answer": "亲,暂不支持数字人民币,<b>支付宝</b>和微信支付都可以哦。"}})
            assert code == 200, done
            assert done["labelled"] == 3 and done["label"] == "faq/digital_rmb" and done["examples"] == 3
            weather = _group_with(groups, "天气")
            code, done = await sup_first.call("POST", "/api/supervisor/review/label",
                                              {"item_ids": weather["item_ids"], "label": "out_of_scope"})
            # "今天天气怎么样" is a line of the held-out sets: labelled, but never written as training data
            assert code == 200 and done["examples"] == 3 and done["held_out"] == 1, done
            unclear = _group_with(groups, "听不懂")
            code, done = await sup_first.call("POST", "/api/supervisor/review/label",
                                              {"item_ids": unclear["item_ids"], "label": "complaint"})
            assert code == 200 and done["examples"] == 4, done
            # labelled once: the second click (or the other supervisor) is told so
            code, again = await sup_first.call("POST", "/api/supervisor/review/label",
                                               {"item_ids": weather["item_ids"], "label": "greet"})
            assert code == 409 and again["error"]["code"] == "already_labelled"
            # a proposed key is a key: proposing it again is refused, labelling with it works
            code, dup = await sup_first.call("POST", "/api/supervisor/review/label", {
                "item_ids": _group_with(groups, "随便问问")["item_ids"],
                "new_faq": {"key": "digital_rmb", "answer": "另一个答案"}})
            assert code == 409 and dup["error"]["code"] == "faq_exists"
            code, labels = await sup_first.call("GET", "/api/supervisor/review/labels")
            assert "faq/digital_rmb" in {x["label"] for x in labels["labels"]}
            ignored = _group_with(groups, "随便问问")
            code, done = await sup_first.call("POST", "/api/supervisor/review/label",
                                              {"item_ids": ignored["item_ids"], "label": "ignore"})
            assert code == 200 and done["file"] is None

            code, page = await sup_last.call("GET", "/api/supervisor/review")
            assert page == {"groups": [], "total": 0}  # nothing left open

        written = (bot_dir / "data" / "nlu" / "reviewed.yml").read_text(encoding="utf-8")
        # another machine rebuilds the same file from the database alone
        elsewhere = copy_bot_dir(bot_dir.parent / "elsewhere")
        subprocess.run([sys.executable, "-m", "handoff.review", "--export", "--database-url", db_url,
                        "--bot-dir", str(elsewhere)], cwd=ROOT, check=True, capture_output=True, timeout=120)
        assert (elsewhere / "data" / "nlu" / "reviewed.yml").read_text(encoding="utf-8") == written
        doc = yaml.safe_load(written)
        examples = {b["intent"]: [line[2:] for line in b["examples"].splitlines()] for b in doc["nlu"]}
        assert sorted(examples) == ["complaint", "faq/digital_rmb"]
        assert examples["complaint"] == ["这个听不懂的问题"]
        assert "可以用数字人民币支付吗 手机" + MASKED_PHONE in examples["faq/digital_rmb"]
        assert not any("13912345678" in e for e in examples["faq/digital_rmb"])
        assert doc["responses"] == {"utter_faq/digital_rmb": [
            {"text": "亲,暂不支持数字人民币,<b>支付宝</b>和微信支付都可以哦。"}]}

    asyncio.run(run())


def test_two_supervisors_labelling_one_group_at_once_one_wins(hubs) -> None:  # type: ignore[no-untyped-def]
    procs, bot_dir, _url = hubs
    first, last = procs[0], procs[-1]

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            one = await login(session, first.url, "supervisor")
            two = await login(session, last.url, "supervisor")
            await _say(session, first.url, "数字人民币红包能抵扣吗")
            groups = await _groups(one, 1)
            group = _group_with(groups, "红包")
            answers = await asyncio.gather(*(
                sup.call("POST", "/api/supervisor/review/label", {"item_ids": group["item_ids"], "label": label})
                for sup, label in ((one, "promotion"), (two, "payment_issue"))))
            codes = sorted(code for code, _ in answers)
            assert codes == [200, 409], answers
            winner = next(body["label"] for code, body in answers if code == 200)
        doc = yaml.safe_load((bot_dir / "data" / "nlu" / "reviewed.yml").read_text(encoding="utf-8"))
        holders = [b["intent"] for b in doc["nlu"] if "数字人民币红包能抵扣吗" in b["examples"]]
        assert holders == [winner]

    asyncio.run(run())


def test_hostile_label_requests_are_refused(hubs) -> None:  # type: ignore[no-untyped-def]
    procs, bot_dir, db_url = hubs
    hub = procs[0]

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            sup = await login(session, hub.url, "supervisor")
            cases = [
                {"item_ids": [2**70], "label": "greet"},
                {"item_ids": [0], "label": "greet"},
                {"item_ids": ["1"], "label": "greet"},
                {"item_ids": [True], "label": "greet"},
                {"item_ids": [], "label": "greet"},
                {"item_ids": list(range(1, 2003)), "label": "greet"},
                {"item_ids": [1]},
                {"item_ids": [1], "label": "greet", "new_faq": {"key": "x_y", "answer": "a"}},
                {"item_ids": [1], "label": "greet", "extra": 1},
                {"item_ids": [1], "new_faq": {"key": "../../etc/passwd", "answer": "a"}},
                {"item_ids": [1], "new_faq": {"key": "UPPER", "answer": "a"}},
                {"item_ids": [1], "new_faq": {"key": "fine_key", "answer": "x" * 1001}},
                {"item_ids": [1], "new_faq": {"key": "fine_key", "answer": "\u200b \u200b"}},
                {"item_ids": [1], "label": "not_an_intent"},
                {"item_ids": [1], "label": "faq"},
                {"item_ids": [1], "label": "nlu_fallback"},
            ]
            for body in cases:
                code, answer = await sup.call("POST", "/api/supervisor/review/label", body)
                assert code == 400, (body, answer)
            for raw in ('{"item_ids": [1], "new_faq": {"key": "k_nul", "answer": "a\\u0000b"}}',
                        '{"item_ids": [1], "new_faq": {"key": "k_sur", "answer": "a\\ud800b"}}',
                        '{"item_ids": [1], "label": "greet\\u0000"}', "[1, 2]", "{"):
                async with session.post(f"{hub.url}/api/supervisor/review/label", data=raw,
                                        headers={**sup.headers, "Content-Type": "application/json"}) as r:
                    assert r.status == 400, raw
            # ids nobody has: nothing to label
            code, answer = await sup.call("POST", "/api/supervisor/review/label",
                                          {"item_ids": [987654321], "label": "greet"})
            assert code == 409

    asyncio.run(run())


def test_suggestions_rank_faq_answers_and_canned_replies_for_the_last_message(hubs, nlu) -> None:  # type: ignore[no-untyped-def]
    procs, _bot_dir, _url = hubs
    first, last = procs[0], procs[-1]

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            sup = await login(session, first.url, "supervisor")
            code, canned = await sup.call("POST", "/api/agent/canned", {
                "title": "运费说明", "text": "亲，订单满99元包邮，不满99元运费8元。"})
            assert code == 201, canned
            await sup.call("POST", "/api/agent/canned", {"title": "发票说明", "text": "电子发票在确认收货后开具。"})
            agent = await login(session, last.url, "agent1")
            await agent.presence("online")
            customer = await _say(session, first.url, "转人工")
            code, claimed = await agent.call("POST", f"/api/agent/conversations/{customer.id}/claim")
            assert code == 200, claimed
            path = f"/api/agent/conversations/{customer.id}/suggestions"
            code, body = await agent.call("GET", path)
            assert code == 200 and body["nlu"] == "ok" and body["text"] == "转人工", body
            assert not any(s["key"] == "faq/shipping_fee" for s in body["suggestions"])

            await customer.send("请问邮费怎么算")
            code, body = await agent.call("GET", path)
            assert code == 200 and body["text"] == "请问邮费怎么算", body
            keys = [s["key"] for s in body["suggestions"]]
            assert keys[0] == "faq/shipping_fee", body  # 0.95 × 0.9 from the NLU
            assert str(canned["id"]) in keys  # it says what the FAQ answer says
            faq = body["suggestions"][0]
            data = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(encoding="utf-8"))
            assert faq["text"] == data["responses"]["utter_faq/shipping_fee"][0]["text"]
            assert "faq/delivery_time" not in keys  # 0.95 × 0.06: below the bar
            assert all(s["title"] != "发票说明" for s in body["suggestions"])

            seen = len(nlu.parses)
            code, again = await agent.call("GET", path)  # reopening the chat: the parse is cached
            assert again["suggestions"] == body["suggestions"]
            assert len(nlu.parses) == seen

            # the other agent may read it only within the rules of the console (skill groups,
            # supervisors); a customer's token and no token are refused
            other = await login(session, first.url, "agent2")
            code, _ = await other.call("GET", path)
            code_view, _ = await other.call("GET", f"/api/agent/conversations/{customer.id}")
            assert code == code_view
            async with session.get(first.url + path, headers=customer.headers) as r:
                assert r.status == 401
            code, _ = await agent.call("GET", "/api/agent/conversations/" + "f" * 32 + "/suggestions")
            assert code == 404

    asyncio.run(run())


def test_with_rasa_down_suggestions_degrade_quietly(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    bot_dir = copy_bot_dir(tmp_path / "bot")
    with hub_processes({"RASA_URL": dead, "HUB_BOT_DIR": str(bot_dir),
                        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}, tmp_path, count=1) as (hub,):
        async def run() -> None:
            async with aiohttp.ClientSession() as session:
                sup = await login(session, hub.url, "supervisor")
                await sup.call("POST", "/api/agent/canned", {"title": "物流催件", "text": "已为您联系快递催件。"})
                await sup.presence("online")
                customer = await _say(session, hub.url, "快递催件一下")  # the bot is down: queued
                code, _ = await sup.call("POST", f"/api/agent/conversations/{customer.id}/claim")
                assert code == 200
                started = time.monotonic()
                answers = await asyncio.gather(*(sup.call(
                    "GET", f"/api/agent/conversations/{customer.id}/suggestions") for _ in range(20)))
                assert time.monotonic() - started < 10
                for code, body in answers:
                    assert code == 200 and body["nlu"] == "unavailable", body
                    # wording still ranks the canned replies (the demo's own 物流催促 among them); no FAQ
                assert body["suggestions"][0]["title"] == "物流催件", body
                assert {s["kind"] for s in body["suggestions"]} == {"canned"}
                code, page = await sup.call("GET", "/api/supervisor/review")
                assert code == 200 and page["total"] == 0  # a bot that was down understood nothing wrong

        asyncio.run(run())
        log = (tmp_path / "hub1.log").read_text(encoding="utf-8")
        assert log.count("/model/parse failed") <= 2, log  # paused after a failure: no storm


def test_reviewed_yml_passes_rasa_data_validate(hubs) -> None:  # type: ignore[no-untyped-def]
    """After the labels above (new FAQ with its response, an existing intent), Rasa's own
    validator accepts the bot's data as it accepts the project's."""
    _procs, bot_dir, _url = hubs
    if not (bot_dir / "data" / "nlu" / "reviewed.yml").exists():
        pytest.fail("the labelling test must run first in this module")
    result = subprocess.run([str(Path(sys.executable).parent / "rasa"), "data", "validate", "--fail-on-warnings",
                             "--data", "data", "--domain", "domain.yml", "--config", "config.yml"],
                            cwd=bot_dir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(bot_dir / "data" / "nlu" / "reviewed.yml"))
    assert {e.get("intent_response_key") or e.get("intent") for e in data.intent_examples} >= {"faq/digital_rmb"}
    assert "utter_faq/digital_rmb" in data.responses



def test_capture_reads_the_reply_first_and_parses_only_while_rasa_has_room(tmp_path: Path) -> None:
    """The capture's decisions without a hub process: what it records and whether it asks Rasa."""
    from types import SimpleNamespace

    from handoff.review import BotData, Capture, ReviewSettings
    from handoff.router import Handoff

    class Review:
        def __init__(self) -> None:
            self.added: list[tuple[str, str]] = []

        async def add(self, message_id: str, _conv: str, text: str, kind: str, *_: Any) -> bool:
            self.added.append((text, kind))
            return True

    class Rasa:
        concurrency, waiting = 16, 0

        def __init__(self) -> None:
            self.in_flight, self.asked = 0, []

        async def parse(self, text: str, _sender: str, wait: bool = True) -> dict[str, Any]:
            self.asked.append(text)
            return parse_of(text)

    hub = SimpleNamespace(store=SimpleNamespace(review=Review()), rasa=Rasa())
    capture = Capture(hub, ReviewSettings(bot_dir=ROOT), BotData(ROOT))
    conv = {"id": "c" * 32}

    async def turn(text: str, handoff: Handoff | None = None, replies: tuple[str, ...] = ("好的",)) -> None:
        capture(conv, {"id": text, "author": "customer", "text": text}, handoff, list(replies))
        await asyncio.gather(*capture.tasks)

    async def run() -> None:
        await turn("今天天气怎么样", replies=(OUT_OF_SCOPE,))
        await turn("有人吗", Handoff("requested", "normal", "general", ""))
        await turn("这个听不懂", Handoff("not_understood", "normal", "general", ""))
        await turn("随便问问")
        await turn("我的快递到哪了")
        hub.rasa.in_flight = 8  # half the turn slots busy: no parse, the turn matters more
        await turn("随便问问看")

    asyncio.run(run())
    assert hub.store.review.added == [("今天天气怎么样", "out_of_scope"), ("这个听不懂", "not_understood"),
                                      ("随便问问", "low_confidence")]
    assert hub.rasa.asked == ["随便问问", "我的快递到哪了"]


def test_the_shapes_are_what_the_description_documents() -> None:
    from handoff import shapes
    from handoff.assist import rank
    from handoff.review import group_items
    from handoff.teach import Knowledge, render_reviewed

    from .test_shapes import conforms

    knowledge = Knowledge.load(ROOT)
    canned = [{"id": 1, "title": "运费说明", "text": "满99包邮"}]
    items = rank("邮费怎么算", parse_of("邮费怎么算"), canned, knowledge)
    assert {s["kind"] for s in items} == {"faq", "canned"}
    message = {"id": "m" * 32, "text": "邮费怎么算"}
    conforms(shapes.suggestions_out(message, "ok", {"name": "faq", "confidence": 0.95}, items),
             {"$ref": "#/components/schemas/Suggestions"})
    conforms(shapes.suggestions_out(None, "none", None, []), {"$ref": "#/components/schemas/Suggestions"})
    groups = group_items([{"id": 1, "text": "数字人民币", "kind": "fallback", "intent": "faq", "confidence": 0.2,
                           "created_at": 1.0}])
    conforms(shapes.review_page(groups, knowledge), {"$ref": "#/components/schemas/ReviewPage"})
    conforms(shapes.review_labels(knowledge, {"digital_rmb": "x"}), {"$ref": "#/components/schemas/ReviewLabels"})
    rendered = render_reviewed([{"label": "greet", "text": "噗噜你好"}], {}, knowledge)
    for result in (shapes.review_label_result(1, "greet", rendered, "reviewed.yml"),
                   shapes.review_label_result(2, "ignore", None, "reviewed.yml")):
        conforms(result, {"$ref": "#/components/schemas/ReviewLabelResult"})
