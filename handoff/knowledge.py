"""Knowledge base (知识库): supervisors edit the bot's FAQ answers and fixed phrases.

Every save is a version (who, when, before, after) in ``hub_kb_versions``; a rollback is a new
version that puts back the text an edit replaced. Saving only records; publishing is the
retrainer's (``handoff.retrain``): it writes the texts into the bot's data, retrains, gates on
the conversation tests and loads the model into the running Rasa servers. Supervisors only:
agents neither read nor change the bot's answers here (the assist panel suggests them).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, Extra, StrictInt, StrictStr, ValidationError, validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from handoff import kbdata, shapes
from handoff.auth import current_agent, require_supervisor
from handoff.channels.web import body_of
from handoff.errors import ApiError
from handoff.records.knowledge import Stale
from handoff.retrain import LEASE_SECONDS
from handoff.validation import DB_INT_MAX, check_query, clean_text, db_int, is_blank

bp = Blueprint("knowledge")

MAX_TEXT = 2000  # an answer longer than a screenful is not read by customers either
_CONTROL = {chr(c) for c in range(32)} - {"\n", "\t"} | {"\x7f"}


class EditBody(BaseModel):
    """``PUT /api/kb/entries``: the new text of one response, made on the version the editor saw."""

    key: StrictStr
    text: StrictStr
    base_version: StrictInt

    class Config:
        extra = Extra.forbid

    @validator("text")
    def _text(cls, value: str) -> str:  # noqa: N805
        value = clean_text(value).replace("\r\n", "\n").replace("\r", "\n")
        if any(ch in _CONTROL for ch in value):
            raise ValueError("control characters are not allowed. 文本含控制字符。")
        if is_blank(value) or len(value) > MAX_TEXT:
            raise ValueError(f"1–{MAX_TEXT} characters. 内容须为 1–{MAX_TEXT} 字。")
        return value

    @validator("base_version")
    def _base(cls, value: int) -> int:  # noqa: N805
        if not 0 <= value <= DB_INT_MAX:
            raise ValueError("out of range")
        return value


class TrainBody(BaseModel):
    class Config:
        extra = Extra.forbid


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.parse_obj(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(400, f"invalid_{field}".replace(".", "_")[:40], f"{field}: {first['msg']}") from None


async def _supervisor(request: Request) -> dict[str, Any]:
    agent = await current_agent(request)
    require_supervisor(agent)
    return agent


def _entries(request: Request) -> dict[str, kbdata.Entry]:
    return request.app.ctx.kb_entries()


async def _status(request: Request) -> dict[str, Any]:
    kb = request.app.ctx.store.knowledge
    retrainer = request.app.ctx.retrainer
    rows, newest, live = await asyncio.gather(kb.trainings(5), kb.newest_id(), kb.live_up_to())
    now = time.time()
    rows = [_unstale(r, now) for r in rows]
    recent = [shapes.kb_training(r, now) for r in rows]
    pending = len([1 for v in (await kb.newest_per_key()).values() if v["id"] > live]) if newest > live else 0
    return shapes.kb_status(retrainer.enabled, bool(rows) and rows[0]["state"] == "running",
                            recent[0] if recent else None, recent, pending)


def _unstale(row: dict[str, Any], now: float) -> dict[str, Any]:
    """A run whose hub stopped beating is over, whatever its row still says."""
    if row["state"] == "running" and row["updated_at"] < now - LEASE_SECONDS:
        return {**row, "state": "failed", "finished_at": row["updated_at"],
                "error": "中断：负责训练的服务进程已停止 (the hub running it stopped)"}
    return row


@bp.get("/api/kb/entries")
async def list_entries(request: Request) -> HTTPResponse:
    await _supervisor(request)
    kb = request.app.ctx.store.knowledge
    entries = await asyncio.to_thread(_entries, request)
    newest, live, history = await asyncio.gather(kb.newest_per_key(), kb.live_up_to(), kb.history(limit=1000))
    names = {row["id"]: row.get("agent_name") for row in history}
    items = [shapes.kb_entry(e, {**newest[k], "agent_name": names.get(newest[k]["id"])} if k in newest else None, live)
             for k, e in entries.items()]
    return json_response({"items": items, "status": await _status(request)})


@bp.get("/api/kb/versions")
async def list_versions(request: Request) -> HTTPResponse:
    await _supervisor(request)
    key = check_query(request.args.get("key"))
    if key is not None and len(key) > 128:
        raise ApiError(400, "invalid_key", "key: at most 128 characters.")
    kb = request.app.ctx.store.knowledge
    rows, live = await asyncio.gather(kb.history(key), kb.live_up_to())
    return json_response({"items": [shapes.kb_version(r, live) for r in rows]})


@bp.put("/api/kb/entries")
async def edit_entry(request: Request) -> HTTPResponse:
    """Save a new text; 409 when someone saved this response since ``base_version``."""
    agent = await _supervisor(request)
    body = _parse(EditBody, body_of(request))
    entries = await asyncio.to_thread(_entries, request)
    entry = entries.get(body.key)
    if entry is None:
        raise ApiError(404, "not_found", "No such editable response. 没有这条可编辑的回复。")
    kb = request.app.ctx.store.knowledge
    newest = (await kb.newest_per_key()).get(body.key)
    before = newest["after_text"] if newest else entry.text
    if body.base_version == (newest["id"] if newest else 0) and body.text == before:
        raise ApiError(400, "unchanged", "The text is unchanged. 内容没有变化。")
    version = await _add(request, entry, body.base_version, before, body.text, "edit", agent["id"])
    return json_response({"version": version, "status": await _status(request)}, status=201)


@bp.post("/api/kb/versions/<version_id:int>/rollback")
async def rollback(request: Request, version_id: int) -> HTTPResponse:
    """Undo one edit: a new version whose text is what that edit replaced."""
    agent = await _supervisor(request)
    version_id = db_int(version_id, "version_id")
    kb = request.app.ctx.store.knowledge
    row = await kb.version(version_id)
    entry = (await asyncio.to_thread(_entries, request)).get(row["key"]) if row else None
    if row is None or entry is None:
        raise ApiError(404, "not_found", "No such version. 版本不存在。")
    newest = (await kb.newest_per_key())[row["key"]]
    if newest["after_text"] == row["before_text"]:
        raise ApiError(409, "nothing_to_undo", "The text is already what this edit replaced. 当前内容已是修改前的内容。")
    version = await _add(request, entry, newest["id"], newest["after_text"], row["before_text"], "rollback",
                         agent["id"], rollback_of=row["id"])
    return json_response({"version": version, "status": await _status(request)}, status=201)


async def _add(request: Request, entry: kbdata.Entry, parent: int, before: str, after: str, action: str,
               agent_id: int, rollback_of: int | None = None) -> dict[str, Any]:
    kb = request.app.ctx.store.knowledge
    try:
        row = await kb.add_version(entry.key, entry.kind, parent, before, after, action, agent_id, rollback_of)
    except Stale:
        raise ApiError(409, "stale_version",
                       "Someone saved this answer meanwhile; reload it. 这条回复已被他人修改，请刷新后再改。") from None
    request.app.ctx.retrainer.kick(agent_id)
    return shapes.kb_version(row, await kb.live_up_to())


@bp.get("/api/kb/training")
async def training_status(request: Request) -> HTTPResponse:
    await _supervisor(request)
    return json_response(await _status(request))


@bp.post("/api/kb/training")
async def start_training(request: Request) -> HTTPResponse:
    """Run the publishing again (e.g. after fixing what failed the gate, or after a restart)."""
    agent = await _supervisor(request)
    _parse(TrainBody, body_of(request))
    retrainer = request.app.ctx.retrainer
    if not retrainer.enabled:
        raise ApiError(409, "retrain_disabled",
                       "Retraining is off on this hub (HUB_KB_RETRAIN). 本服务未开启自动训练。")
    status = await _status(request)
    if status["running"]:
        raise ApiError(409, "retrain_running", "A retrain is already running. 已有训练在进行中。")
    retrainer.kick(agent["id"], force=True)
    return json_response(status, status=202)
