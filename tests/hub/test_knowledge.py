"""Knowledge base API (知识库) against real hub processes: SQLite with one hub, PostgreSQL with
two. Retraining is off here (its pipeline runs in tests/e2e/test_kb_retrain.py), so a save must
record a version and leave the bot's data files alone."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from handoff import shapes
from handoff.store import Store
from tests.services import fresh_pg_database, require_services

from .conftest import ROOT, HubProcess, RasaStandIn, hub_processes, login, open_customer
from .test_shapes import conforms

FAQ = "utter_faq/shipping_fee"
PHRASE = "utter_goodbye"


def _bot_copy(folder: Path) -> Path:
    """The bot's editable files, copied: the tests never touch the checkout's data."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "domain.yml", folder / "domain.yml")
    shutil.copytree(ROOT / "data", folder / "data")
    return folder


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted([folder / "domain.yml", *(folder / "data").rglob("*.yml")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def kb_hub(rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("kb")
    bot = _bot_copy(tmp / "bot")
    proc = HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}", "RASA_URL": rasa.url,
                       "HUB_KB_ROOT": str(bot)}, tmp / "hub.log")
    proc.bot = bot  # type: ignore[attr-defined]
    yield proc
    proc.stop()


async def _entry(agent, key: str) -> dict:  # type: ignore[no-untyped-def]
    code, body = await agent.call("GET", "/api/kb/entries")
    assert code == 200, body
    return next(e for e in body["items"] if e["key"] == key)


async def test_entries_list_faq_answers_and_fixed_phrases_not_templates(kb_hub: HubProcess, session) -> None:
    sup = await login(session, kb_hub.url, "supervisor")
    code, body = await sup.call("GET", "/api/kb/entries")
    assert code == 200
    conforms(body["status"], {"$ref": "#/components/schemas/KbStatus"})
    keys = {e["key"]: e for e in body["items"]}
    for e in body["items"]:
        conforms(e, {"$ref": "#/components/schemas/KbEntry"})
    faq = [k for k in keys if k.startswith("utter_faq/")]
    assert len(faq) >= 17 and keys[FAQ]["kind"] == "faq" and keys[FAQ]["file"] == "data/nlu/faq.yml"
    assert "99" in keys[FAQ]["text"] and keys[FAQ]["version"] == 0 and keys[FAQ]["live"] is True
    assert keys[FAQ]["example"]  # the question it answers, from the training data
    assert keys[PHRASE]["kind"] == "phrase" and keys[PHRASE]["file"] == "domain.yml"
    # a template an action fills from order data ({order_id} …) is a developer's, not listed
    assert "utter_order_status_shipped" not in keys and "utter_choose_order" not in keys
    assert body["status"]["retrain_enabled"] is False and body["status"]["training"] is None


async def test_agents_can_neither_read_nor_change_the_knowledge_base(kb_hub: HubProcess, session) -> None:
    agent = await login(session, kb_hub.url, "agent1")
    calls = [("GET", "/api/kb/entries", None), ("GET", "/api/kb/versions", None),
             ("PUT", "/api/kb/entries", {"key": FAQ, "text": "agent text", "base_version": 0}),
             ("POST", "/api/kb/versions/1/rollback", {}), ("GET", "/api/kb/training", None),
             ("POST", "/api/kb/training", {})]
    for method, path, body in calls:
        code, data = await agent.call(method, path, body)
        assert (code, data["error"]["code"]) == (403, "forbidden"), (method, path, data)
    customer = await open_customer(session, kb_hub.url)
    for method, path, body in calls:  # nobody logged in, or a customer's conversation token
        async with session.request(method, kb_hub.url + path, json=body) as r:
            assert r.status == 401, (method, path)
        async with session.request(method, kb_hub.url + path, json=body, headers=customer.headers) as r:
            assert r.status == 401, (method, path)
    sup = await login(session, kb_hub.url, "supervisor")
    assert (await _entry(sup, FAQ))["version"] in (0, *range(1, 1000))
    code, history = await sup.call("GET", f"/api/kb/versions?key={FAQ}")
    assert all(v["after"] != "agent text" for v in history["items"])


async def test_a_cookie_session_needs_the_csrf_header_to_edit(kb_hub: HubProcess) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(f"{kb_hub.url}/api/agent/login",
                                json={"username": "supervisor", "password": "sup-pass-1"}) as r:
            assert r.status == 200
        async with browser.put(f"{kb_hub.url}/api/kb/entries",
                               json={"key": PHRASE, "text": "csrf", "base_version": 0}) as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"


async def test_edit_history_stale_save_and_rollback(kb_hub: HubProcess, session) -> None:
    sup = await login(session, kb_hub.url, "supervisor")
    before_files = _digest(kb_hub.bot)  # type: ignore[attr-defined]
    entry = await _entry(sup, PHRASE)
    original = entry["text"]
    code, body = await sup.call("PUT", "/api/kb/entries", {"key": PHRASE, "text": "感谢咨询，再见！", "base_version": entry["version"]})
    assert code == 201, body
    first = body["version"]
    conforms(first, {"$ref": "#/components/schemas/KbVersion"})
    assert (first["before"], first["after"], first["action"], first["live"]) == (original, "感谢咨询，再见！", "edit", False)
    assert first["agent_id"] == sup.id and first["parent_id"] == entry["version"]
    assert body["status"]["pending"] >= 1
    now = await _entry(sup, PHRASE)
    assert (now["text"], now["version"], now["live"], now["updated_by"]) == ("感谢咨询，再见！", first["id"], False, "主管 王敏")
    # a second supervisor's save on the version they saw before the first one: refused, not lost
    code, stale = await sup.call("PUT", "/api/kb/entries", {"key": PHRASE, "text": "别的", "base_version": entry["version"]})
    assert (code, stale["error"]["code"]) == (409, "stale_version")
    code, same = await sup.call("PUT", "/api/kb/entries", {"key": PHRASE, "text": "感谢咨询，再见！", "base_version": first["id"]})
    assert (code, same["error"]["code"]) == (400, "unchanged")
    code, body = await sup.call("PUT", "/api/kb/entries", {"key": PHRASE, "text": "第二版", "base_version": first["id"]})
    second = body["version"]
    # roll back the first edit: the text it replaced comes back, as a new version on top
    code, body = await sup.call("POST", f"/api/kb/versions/{first['id']}/rollback", {})
    assert code == 201, body
    undo = body["version"]
    assert (undo["action"], undo["rollback_of"], undo["before"], undo["after"]) == ("rollback", first["id"], "第二版", original)
    assert undo["parent_id"] == second["id"]
    assert (await _entry(sup, PHRASE))["text"] == original
    code, again = await sup.call("POST", f"/api/kb/versions/{first['id']}/rollback", {})
    assert (code, again["error"]["code"]) == (409, "nothing_to_undo")
    code, history = await sup.call("GET", f"/api/kb/versions?key={PHRASE}")
    assert [v["id"] for v in history["items"]] == [undo["id"], second["id"], first["id"]]
    assert history["items"][0]["agent_name"] == "主管 王敏"
    # retraining is off on this hub: versions only, the bot's files are as they were
    assert _digest(kb_hub.bot) == before_files  # type: ignore[attr-defined]
    code, err = await sup.call("POST", "/api/kb/training", {})
    assert (code, err["error"]["code"]) == (409, "retrain_disabled")


HOSTILE = [
    '<img src=x onerror="alert(1)"><script>alert(2)</script>',
    "运费: 8元 # 满99包邮\n- text: 注入\nresponses: {}",
    "{{order_id}} {order_id} { 单个括号 } }}",
    "'单引号' \"双引号\" \\反斜杠 \t制表 & ---\n...\n%YAML 1.2",
    "emoji 🙂👍 全角：＃ ： " + "长" * 1900,
]


@pytest.mark.parametrize("text", HOSTILE, ids=["html", "yaml", "braces", "quotes", "long"])
async def test_hostile_answers_are_stored_and_returned_verbatim(kb_hub: HubProcess, session, text: str) -> None:
    sup = await login(session, kb_hub.url, "supervisor")
    entry = await _entry(sup, FAQ)
    code, body = await sup.call("PUT", "/api/kb/entries", {"key": FAQ, "text": text, "base_version": entry["version"]})
    assert code == 201, body
    assert body["version"]["after"] == text and (await _entry(sup, FAQ))["text"] == text


async def test_hostile_requests_get_a_clear_400(kb_hub: HubProcess, session) -> None:
    sup = await login(session, kb_hub.url, "supervisor")
    base = (await _entry(sup, PHRASE))["version"]
    bad = [
        ({"key": PHRASE, "text": "x" * 2001, "base_version": base}, "invalid_text"),
        ({"key": PHRASE, "text": " \u200b\n", "base_version": base}, "invalid_text"),
        ({"key": PHRASE, "text": "a\x00b", "base_version": base}, "invalid_unicode"),
        ({"key": PHRASE, "text": "响铃\x07", "base_version": base}, "invalid_text"),
        ({"key": PHRASE, "text": "ok", "base_version": 2**70}, "invalid_base_version"),
        ({"key": PHRASE, "text": "ok", "base_version": -1}, "invalid_base_version"),
        ({"key": PHRASE, "text": "ok", "base_version": "1"}, "invalid_base_version"),
        ({"key": PHRASE, "text": 5, "base_version": base}, "invalid_text"),
        ({"key": PHRASE, "text": "ok", "base_version": base, "extra": 1}, "invalid_extra"),
        ({"text": "ok", "base_version": base}, "invalid_key"),
    ]
    for payload, code_word in bad:
        code, body = await sup.call("PUT", "/api/kb/entries", payload)
        assert (code, body["error"]["code"]) == (400, code_word), payload
    code, body = await sup.call("PUT", "/api/kb/entries", {"key": "utter_order_status_shipped", "text": "x", "base_version": 0})
    assert code == 404  # a template is not editable here
    code, body = await sup.call("PUT", "/api/kb/entries", {"key": "../../etc/passwd", "text": "x", "base_version": 0})
    assert code == 404
    raw = b'{"key": "utter_goodbye", "text": "\\ud800", "base_version": 0}'  # a lone surrogate
    async with session.put(f"{kb_hub.url}/api/kb/entries", data=raw, headers={**sup.headers, "Content-Type": "application/json"}) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_unicode"
    async with session.put(f"{kb_hub.url}/api/kb/entries", data=b"x" * 70000, headers=sup.headers) as r:
        assert r.status == 413
    for path in ("/api/kb/versions/99999999999999999999999/rollback", "/api/kb/versions/123456789/rollback"):
        code, body = await sup.call("POST", path, {})
        assert code in (400, 404), (path, body)
    code, body = await sup.call("GET", "/api/kb/versions?key=" + "k" * 200)
    assert code == 400
    code, body = await sup.call("GET", "/api/kb/versions?key=%00")
    assert code == 400
    code, body = await sup.call("POST", "/api/kb/training", {"unexpected": True})
    assert code == 400


def test_shapes_of_a_training_run_conform() -> None:
    row = {"id": 3, "state": "failed", "stage": "gating", "up_to_version": 7, "keys": '["utter_faq/coupon"]',
           "started_at": 100.0, "finished_at": 160.5, "train_seconds": 40.0, "gate_seconds": None, "model": "kefu-x.tar.gz",
           "error": "对话测试未通过", "gate": '{"selected": 3, "passed": 2, "failures": []}', "log_tail": "line"}
    out = shapes.kb_training(row, 999.0)
    conforms(out, {"$ref": "#/components/schemas/KbTraining"})
    assert out["elapsed_seconds"] == 60.5 and out["keys"] == ["utter_faq/coupon"] and out["gate"]["passed"] == 2
    assert shapes.kb_training({**row, "state": "running", "finished_at": None}, 130.0)["elapsed_seconds"] == 30.0


# -- PostgreSQL, two hub processes ---------------------------------------------------------

@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    require_services()
    with fresh_pg_database("hub_kb") as url:
        yield url


@pytest.fixture(scope="module")
def pg_hubs(pg_url: str, rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HubProcess]]:
    tmp = tmp_path_factory.mktemp("kb-pg")
    bot = _bot_copy(tmp / "bot")
    with hub_processes({"HUB_DATABASE_URL": pg_url, "RASA_URL": rasa.url, "HUB_KB_ROOT": str(bot)}, tmp) as hubs:
        yield hubs


@pytest.mark.postgres
async def test_two_hubs_on_postgresql_share_versions_and_one_concurrent_save_wins(pg_hubs: list[HubProcess], session) -> None:
    one, two = [await login(session, h.url, "supervisor") for h in pg_hubs]
    entry = await _entry(one, FAQ)
    for round_ in range(5):  # both hubs save on the same version at the same moment, five times
        results = await asyncio.gather(*(
            sup.call("PUT", "/api/kb/entries", {"key": FAQ, "text": f"第{round_}轮 来自{i}", "base_version": entry["version"]})
            for i, sup in enumerate((one, two))))
        codes = sorted(code for code, _ in results)
        assert codes == [201, 409], results
        winner = next(body["version"] for code, body in results if code == 201)
        seen = await _entry(two, FAQ)
        assert (seen["text"], seen["version"]) == (winner["after"], winner["id"])
        entry = seen
    code, history = await two.call("GET", f"/api/kb/versions?key={FAQ}")
    assert len(history["items"]) == 5
    assert [v["parent_id"] for v in reversed(history["items"])][1:] == [v["id"] for v in reversed(history["items"])][:-1]
    code, body = await two.call("POST", f"/api/kb/versions/{history['items'][-1]['id']}/rollback", {})
    assert code == 201 and (await _entry(one, FAQ))["text"] == history["items"][-1]["before"]


@pytest.mark.postgres
def test_only_one_process_holds_the_retrain_lease(pg_url: str, tmp_path: Path) -> None:
    """Eight stores (as eight hub processes would) race for the lease on PostgreSQL and on SQLite:
    exactly one gets it; after release or expiry the next one does."""
    for url in (pg_url, f"sqlite:///{tmp_path / 'lease.db'}"):
        stores = [Store.from_url(url) for _ in range(8)]
        try:
            asyncio.run(stores[0].create_schema())
            kb = [s.knowledge for s in stores]
            barrier = threading.Barrier(8)
            won: list[int] = []

            def race(i: int, kb: list = kb, barrier: threading.Barrier = barrier, won: list = won) -> None:
                barrier.wait()
                if kb[i].acquire.sync(kb[i], f"hub-{i}", 60.0):
                    won.append(i)

            threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(won) == 1, (url, won)
            holder = won[0]
            other = (holder + 1) % 8
            assert not kb[other].acquire.sync(kb[other], f"hub-{other}", 60.0)
            assert kb[holder].renew.sync(kb[holder], f"hub-{holder}", 60.0)
            assert not kb[other].renew.sync(kb[other], f"hub-{other}", 60.0)
            kb[holder].release.sync(kb[holder], f"hub-{holder}")
            assert kb[other].acquire.sync(kb[other], f"hub-{other}", -1.0)  # taken, already expired
            assert kb[holder].acquire.sync(kb[holder], f"hub-{holder}", 60.0)  # so the next one may take it
        finally:
            for s in stores:
                s.engine.dispose()


@pytest.fixture(scope="module")
def pg_retrain_hubs(rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[HubProcess], Path]]:
    """Two hubs on PostgreSQL with publishing on, over a bot copy without config.yml: every
    retrain fails within seconds at ``rasa train``, which is enough to see who runs when."""
    require_services()
    tmp = tmp_path_factory.mktemp("kb-pg-retrain")
    bot = _bot_copy(tmp / "bot")
    with fresh_pg_database("hub_kb_retrain") as url, hub_processes(
            {"HUB_DATABASE_URL": url, "RASA_URL": rasa.url, "HUB_KB_ROOT": str(bot), "HUB_KB_RETRAIN": "1"}, tmp) as hubs:
        yield hubs, bot


@pytest.mark.postgres
async def test_one_retrain_at_a_time_across_two_hubs(pg_retrain_hubs, session) -> None:  # type: ignore[no-untyped-def]
    hubs, bot = pg_retrain_hubs
    files = _digest(bot)
    one, two = [await login(session, h.url, "supervisor") for h in hubs]
    keys = ["utter_goodbye", "utter_thank", "utter_affirm", "utter_deny"]
    saved = []
    for i, key in enumerate(keys):  # saves on both hubs, while runs are going on
        sup = (one, two)[i % 2]
        code, body = await sup.call("PUT", "/api/kb/entries", {"key": key, "text": f"新话术{i}", "base_version": 0})
        assert code == 201, body
        saved.append(body["version"]["id"])
        await asyncio.sleep(1.5)
    status: dict = {}
    for _ in range(240):
        code, status = await two.call("GET", "/api/kb/training")
        if not status["running"] and status["training"] and status["training"]["up_to_version"] == max(saved):
            break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError(status)
    runs = sorted(status["recent"], key=lambda r: r["id"])
    assert all(r["state"] == "failed" and "rasa train" in r["error"] for r in runs), runs
    for earlier, later in zip(runs, runs[1:], strict=False):  # never two at once, whichever hub ran them
        assert earlier["finished_at"] <= later["started_at"], runs
    assert runs[-1]["up_to_version"] == max(saved) and set(runs[-1]["keys"]) == set(keys)
    assert status["pending"] == 4 and _digest(bot) == files  # failed: files back, edits still pending
    # "publish again" pressed on both hubs at once: one run, whichever hub answered first
    answers = await asyncio.gather(one.call("POST", "/api/kb/training", {}), two.call("POST", "/api/kb/training", {}))
    assert sorted(code for code, _ in answers) in ([202, 202], [202, 409]), answers
    await asyncio.sleep(1)
    for _ in range(240):
        code, status = await one.call("GET", "/api/kb/training")
        if not status["running"]:
            break
        await asyncio.sleep(0.5)
    assert [r["id"] for r in status["recent"]][:2] == [runs[-1]["id"] + 1, runs[-1]["id"]], status["recent"]


async def test_a_hub_stopped_mid_training_leaves_the_data_as_served(rasa: RasaStandIn, tmp_path: Path, session) -> None:
    """Stopping the hub while ``rasa train`` runs kills the training and puts the data files back:
    a restart of ``make run`` must not train and serve a text no gate has passed."""
    import subprocess

    bot = _bot_copy(tmp_path / "bot")
    shutil.copy(ROOT / "config.yml", bot / "config.yml")
    files = _digest(bot)
    proc = HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "RASA_URL": rasa.url,
                       "HUB_KB_ROOT": str(bot), "HUB_KB_RETRAIN": "1"}, tmp_path / "hub.log")
    try:
        sup = await login(session, proc.url, "supervisor")
        code, body = await sup.call("PUT", "/api/kb/entries", {"key": FAQ, "text": "未经测试的答案", "base_version": 0})
        assert code == 201
        for _ in range(120):
            code, status = await sup.call("GET", "/api/kb/training")
            if status["training"] and status["training"]["stage"] == "training":
                break
            await asyncio.sleep(0.5)
        assert status["training"]["stage"] == "training", status
        assert _digest(bot) != files  # the edit is in the files while training
        await asyncio.sleep(3)
    finally:
        proc.stop()
    assert _digest(bot) == files
    left = subprocess.run(["pgrep", "-f", f"rasa train.*{bot}"], capture_output=True, text=True).stdout.split()
    assert left == [], left
    store = Store.from_url(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        [run] = await store.knowledge.trainings()
        assert run["state"] == "failed" and "中断" in run["error"]
    finally:
        await store.close()
