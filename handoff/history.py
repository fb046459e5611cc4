"""History and quality inspection (质检): search past conversations, read their transcripts,
the customer's earlier conversations beside a live chat, and supervisors' rubric scores.

Who may see what:
- Supervisors search every conversation, open any transcript and score closed ones.
- An agent searches only conversations they handled (claimed, were assigned, wrote in, or were
  named by a join notice), opens those transcripts, and, while serving a customer, that
  customer's earlier conversations and tickets (the sidebar). Of the 质检 scores an agent sees
  only the ones given to them.
- Customers never reach this API: it takes an agent session, and a conversation token is not one.

A search is bounded: a date range of at most ``MAX_RANGE_DAYS`` (``MAX_TEXT_RANGE_DAYS`` when it
looks into message text), at most ``MAX_PAGE`` rows a page (keyset paging, no deep offsets),
LIKE wildcards in the text taken literally, a time budget the database enforces, and a few
searches at a time per hub process. Full mobile numbers are masked in everything returned, and a
search cannot be made by one (``phone_tail`` takes the last 4 digits).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError, conint, constr, validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from handoff import scope, shapes
from handoff.auth import current_agent, is_conversation_id, require_supervisor
from handoff.channels.web import body_of, hub_of
from handoff.errors import ApiError
from handoff.records.history import MOBILE_RE, Filters, SearchTimeout, closed_for_qa, mask_phones
from handoff.records.qa import NotScorable
from handoff.router import HANDOFF_REASONS, HUB_REASONS
from handoff.validation import DB_INT_MAX, check_query, clean_text, is_blank

bp = Blueprint("history")

MAX_RANGE_DAYS = 366
MAX_TEXT_RANGE_DAYS = 92
DEFAULT_DAYS = 30
MAX_PAGE = 50
SEARCH_SECONDS = float(os.environ.get("HUB_HISTORY_SEARCH_SECONDS", "5"))
SEARCHES_AT_ONCE = 4
REASONS = HANDOFF_REASONS + HUB_REASONS
_CURSOR = re.compile(r"^(\d{1,12}(?:\.\d{1,20})?)_([0-9a-f]{32})$")

FIELD_NAMES = {"customer": "顾客", "order": "订单号", "phone_tail": "手机尾号", "agent_id": "客服", "reason": "转人工原因",
               "rating": "评分", "q": "关键词", "from": "开始日期", "to": "结束日期", "cursor": "分页位置",
               "limit": "每页条数", "comment": "评语", **dict(zip(shapes.QA_RUBRIC, ("问候与规范用语", "回答正确",
                                                                            "问题解决", "服务态度"), strict=True))}


def _nfkc(value: Any) -> Any:
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


class SearchQuery(BaseModel):
    """The query string of ``GET /api/agent/history`` (every field optional)."""

    customer: constr(strip_whitespace=True, min_length=1, max_length=128) | None = None
    order: constr(regex=r"^\d{13}$") | None = None
    phone_tail: constr(regex=r"^\d{4}$") | None = None
    agent_id: conint(ge=1, le=DB_INT_MAX) | None = None
    reason: str | None = None
    rating: conint(ge=1, le=5) | None = None
    q: constr(strip_whitespace=True, min_length=1, max_length=100) | None = None
    date_from: date | None = Field(None, alias="from")
    date_to: date | None = Field(None, alias="to")
    cursor: constr(max_length=80) | None = None
    limit: conint(ge=1, le=MAX_PAGE) = 20

    class Config:
        extra = "forbid"
        anystr_strip_whitespace = True

    _normalise = validator("order", "phone_tail", pre=True, allow_reuse=True)(_nfkc)

    @validator("date_from", "date_to", pre=True)
    def _iso_day(cls, value: Any) -> Any:  # noqa: N805
        """Only ``YYYY-MM-DD`` (pydantic would also take a UNIX time)."""
        if value is not None and not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
            raise ValueError("a date as YYYY-MM-DD")
        return value

    @validator("reason")
    def _known_reason(cls, value: str | None) -> str | None:  # noqa: N805
        if value is not None and value not in REASONS:
            raise ValueError(f"one of {', '.join(REASONS)}")
        return value

    @validator("q")
    def _no_full_phone(cls, value: str | None) -> str | None:  # noqa: N805
        if value is not None and MOBILE_RE.search(unicodedata.normalize("NFKC", value)):
            raise ValueError("no full phone numbers: search by phone_tail (last 4 digits)")
        return value


class QaBody(BaseModel):
    """``PUT /api/supervisor/qa/scores/{id}``: four rubric items 1–5 and an optional comment.
    Strict types: ``true`` or ``"5"`` is not a score."""

    greeting: conint(strict=True, ge=1, le=5)
    correct: conint(strict=True, ge=1, le=5)
    resolved: conint(strict=True, ge=1, le=5)
    attitude: conint(strict=True, ge=1, le=5)
    comment: constr(strict=True, max_length=1000) | None = None

    class Config:
        extra = "forbid"


def _invalid(exc: ValidationError) -> ApiError:
    """The first problem as ``invalid_<field>`` with the field named in Chinese."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err.get("loc") else "query"
    field = {"date_from": "from", "date_to": "to"}.get(field, field)
    if err.get("type") == "value_error.extra":
        return ApiError(400, "unknown_parameter", f"Unknown parameter {field!r}. 不支持的参数：{field}。")
    code = "use_phone_tail" if "phone_tail" in err.get("msg", "") and field == "q" else f"invalid_{field}"
    return ApiError(400, code, f"{field}: {err.get('msg')}. {FIELD_NAMES.get(field, field)}无效。")


def _search_query(request: Request) -> SearchQuery:
    raw: dict[str, Any] = {}
    for key, values in request.args.items():
        check_query(key)
        if len(values) != 1:
            raise ApiError(400, "repeated_parameter", f"{key} given more than once. 参数重复：{key}。")
        raw[key] = clean_text(check_query(values[0]) or "")
    try:
        return SearchQuery(**raw)
    except ValidationError as exc:
        raise _invalid(exc) from None


def day_range(tz: str, date_from: date | None, date_to: date | None, max_days: int) -> tuple[float, float, date, date]:
    """[start of ``date_from``, end of ``date_to``) in the shop's time zone as epoch seconds;
    by default the last ``DEFAULT_DAYS`` days up to today; longer than ``max_days``: 400."""
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    end = date_to or (today if date_from is None else min(today, date_from + timedelta(days=DEFAULT_DAYS - 1)))
    start = date_from or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(400, "invalid_range", "from is after to. 开始日期晚于结束日期。")
    if (end - start).days + 1 > max_days:
        raise ApiError(400, "range_too_long", f"At most {max_days} days per search. 日期范围最多 {max_days} 天，请缩小范围。")
    try:
        since = datetime(start.year, start.month, start.day, tzinfo=zone).timestamp()
        until_day = end + timedelta(days=1)
        until = datetime(until_day.year, until_day.month, until_day.day, tzinfo=zone).timestamp()
    except OverflowError:  # 9999-12-31 has no next day
        raise ApiError(400, "invalid_to", "to: out of range. 结束日期无效。") from None
    return since, until, start, end


def _cursor(raw: str | None) -> tuple[float, str] | None:
    if raw is None:
        return None
    found = _CURSOR.match(raw)
    at = float(found.group(1)) if found else math.inf
    if not math.isfinite(at):
        raise ApiError(400, "invalid_cursor", "cursor: as next_cursor gave it. 分页位置无效。")
    assert found is not None
    return at, found.group(2)


def _cursor_text(cursor: tuple[float, str] | None) -> str | None:
    return None if cursor is None else f"{cursor[0]!r}_{cursor[1]}"


async def _names(request: Request) -> dict[int, str]:
    return {int(a["id"]): a["display_name"] for a in await hub_of(request).store.agents.loads()}


def _own_scores(row: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    """An agent sees the 质检 scores given to them, not colleagues'; supervisors see all."""
    if scope.is_supervisor(agent):
        return row
    return {**row, "qa": [s for s in row.get("qa", []) if s["agent_id"] == agent["id"]]}


def _scorable(row: dict[str, Any]) -> bool:
    return closed_for_qa(row) and any(h.get("closed_at") is not None for h in row.get("handoffs", []))


async def _conversation(request: Request, conversation_id: str) -> dict[str, Any]:
    conv = (await hub_of(request).store.conversations.get(conversation_id)
            if is_conversation_id(conversation_id) else None)
    if conv is None:
        raise ApiError(404, "not_found", "Conversation not found. 会话不存在。")
    return conv


def _gate(request: Request) -> asyncio.Semaphore:
    gate = getattr(request.app.ctx, "history_gate", None)
    if gate is None:
        gate = request.app.ctx.history_gate = asyncio.Semaphore(SEARCHES_AT_ONCE)
    return gate


@bp.get("/api/agent/history")
async def search(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    query = _search_query(request)
    supervisor = scope.is_supervisor(agent)
    if not supervisor and query.agent_id is not None and query.agent_id != agent["id"]:
        raise ApiError(403, "supervisor_only", "Agents search their own conversations only. 客服只能查询自己接待过的会话。")
    hub = hub_of(request)
    since, until, first, last = day_range(hub.settings.timezone, query.date_from, query.date_to,
                                          MAX_TEXT_RANGE_DAYS if query.q else MAX_RANGE_DAYS)
    filters = Filters(since=since, until=until, customer=query.customer, order=query.order,
                      phone_tail=query.phone_tail, agent_id=query.agent_id, reason=query.reason,
                      rating=query.rating, text=query.q, viewer=None if supervisor else agent["id"],
                      before=_cursor(query.cursor), limit=query.limit)
    gate = _gate(request)
    try:
        await asyncio.wait_for(gate.acquire(), SEARCH_SECONDS)
    except asyncio.TimeoutError:
        raise ApiError(429, "busy", "Too many searches at once; retry. 查询繁忙，请稍后重试。",
                       headers={"Retry-After": "2"}) from None
    try:
        rows, cursor = await hub.store.history.search(filters, SEARCH_SECONDS)
    except SearchTimeout:
        raise ApiError(503, "search_timeout", "The search took too long; narrow the dates or add a filter. "
                                              "查询耗时过长，请缩小日期范围或增加条件。") from None
    finally:
        gate.release()
    names = await _names(request)
    rows = [_own_scores(r, agent) for r in rows]
    return json_response(shapes.history_page([shapes.history_item(r, names, _scorable(r)) for r in rows],
                                             _cursor_text(cursor), first.isoformat(), last.isoformat()))


async def _may_read(request: Request, agent: dict[str, Any], conv: dict[str, Any]) -> bool:
    if scope.can_view(agent, conv):
        return True
    history = hub_of(request).store.history
    return (await history.handled_by(conv["id"], agent["id"])
            or await history.serving_same_customer(conv, agent["id"]))


@bp.get("/api/agent/history/<conversation_id:str>")
async def transcript(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    conv = await _conversation(request, conversation_id)
    if not await _may_read(request, agent, conv):
        raise ApiError(403, "not_in_scope", "Not a conversation you handled or a customer you serve. "
                                            "您未接待过该会话，也未在接待该客户。")
    data = await hub_of(request).store.history.transcript(conv["id"])
    names = await _names(request)
    messages = []
    for row in data["messages"]:
        out = shapes.message_out(row)
        out["text"] = mask_phones(out["text"])
        if out["title"]:
            out["title"] = mask_phones(out["title"])
        messages.append(out)
    qa = [shapes.qa_score_out(s, names) for s in data["qa"]
          if scope.is_supervisor(agent) or s["agent_id"] == agent["id"]]
    scorable = _scorable({**conv, "handoffs": data["handoffs"]})
    return json_response(shapes.transcript(conv, data, messages, names, qa, scorable))


@bp.get("/api/agent/conversations/<conversation_id:str>/customer_history")
async def customer_history(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    conv = await _conversation(request, conversation_id)
    serving = conv.get("mode") == "agent" and conv.get("assigned_agent_id") == agent["id"]
    if not (scope.is_supervisor(agent) or serving):
        raise ApiError(403, "not_in_scope", "Only the agent serving this customer sees their history. "
                                            "仅当前接待的客服可查看该客户的历史。")
    data = await hub_of(request).store.history.customer_history(conv)
    names = await _names(request)
    items = [shapes.history_item(_own_scores(r, agent), names, _scorable(r)) for r in data["conversations"]]
    return json_response(shapes.customer_history(data["link"], items, data["tickets"]))


@bp.put("/api/supervisor/qa/scores/<conversation_id:str>")
async def put_score(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    conv = await _conversation(request, conversation_id)
    try:
        body = QaBody(**body_of(request))
    except ValidationError as exc:
        raise _invalid(exc) from None
    except TypeError:
        raise ApiError(400, "invalid_json", "Body must be a JSON object. 请求须为 JSON 对象。") from None
    if not closed_for_qa(conv):
        raise ApiError(409, "not_closed", "Score a conversation once its human part is closed. 会话结束后才能质检。")
    comment = clean_text(body.comment) if body.comment and not is_blank(body.comment) else None
    try:
        row = await hub_of(request).store.qa.put(conv["id"], agent["id"],
                                                 {k: getattr(body, k) for k in shapes.QA_RUBRIC}, comment)
    except NotScorable:
        raise ApiError(409, "no_agent_part", "No closed part with an agent to score. 该会话没有已结束的人工接待，无法质检。") from None
    return json_response(shapes.qa_score_out(row, await _names(request)))


@bp.get("/api/supervisor/qa/agents")
async def qa_agents(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    query = _search_query(request)
    if set(request.args) - {"from", "to"}:
        raise ApiError(400, "unknown_parameter", "Only from and to. 仅支持 from、to 参数。")
    since, until, start, end = day_range(hub_of(request).settings.timezone, query.date_from, query.date_to,
                                         MAX_RANGE_DAYS)
    rows = await hub_of(request).store.qa.averages(since, until)
    return json_response(shapes.qa_agents(rows, start.isoformat(), end.isoformat()))
