"""Supervisors' quality figures: by day and by agent for a date range, as JSON and as CSV, and
their targets (the seeds' defaults, changed by supervisors). The counting is ``handoff.quality``."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, StrictFloat, StrictInt, ValidationError, validator
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw
from sanic.response import json as json_response

from handoff import quality, shapes
from handoff.auth import current_agent, require_supervisor
from handoff.channels.web import body_of, hub_of
from handoff.errors import ApiError
from handoff.validation import check_query

bp = Blueprint("figures")


class TargetsBody(BaseModel):
    """``PUT /api/supervisor/targets``: some targets, each a number or null (no target)."""

    targets: dict[str, StrictInt | StrictFloat | None]

    class Config:
        extra = "forbid"

    @validator("targets")
    def _known_and_in_range(cls, value: dict[str, Any]) -> dict[str, float | None]:  # noqa: N805
        if not value:
            raise ValueError("give at least one target")
        return {key: quality.check_target(key, v) for key, v in value.items()}


async def _supervisor(request: Request) -> dict[str, Any]:
    agent = await current_agent(request)
    require_supervisor(agent)
    return agent


async def _report(request: Request) -> dict[str, Any]:
    hub = hub_of(request)
    settings = hub.settings
    tz = settings.timezone
    try:
        first, last = quality.parse_range(check_query(request.args.get("from")), check_query(request.args.get("to")),
                                          quality.local_day(time.time(), tz))
    except quality.RangeError as exc:
        raise ApiError(400, "invalid_range", f"{exc}. 日期范围无效（YYYY-MM-DD，最多 {quality.MAX_DAYS} 天）。") from None
    start = quality.day_start(first, tz)
    end = quality.day_start(last + timedelta(days=1), tz)
    facts = await hub.store.quality.facts(start, end, quality.COMPLAINT_WINDOW)
    targets = quality.targets_with(await hub.store.quality.targets())
    agents = await hub.store.agents.loads()
    return quality.report(facts, first, last, tz, settings.working_hours, targets, agents, time.time())


@bp.get("/api/supervisor/figures")
async def figures(request: Request) -> HTTPResponse:
    await _supervisor(request)
    return json_response(shapes.figures(await _report(request)))


@bp.get("/api/supervisor/figures.csv")
async def figures_csv(request: Request) -> HTTPResponse:
    await _supervisor(request)
    by = check_query(request.args.get("by", "day"))
    if by not in ("day", "agent"):
        raise ApiError(400, "invalid_by", "by must be day or agent. 导出方式须为 day 或 agent。")
    rep = await _report(request)
    name = f"figures-{by}-{rep['from']}_{rep['to']}.csv"
    return raw(quality.to_csv(quality.csv_rows(rep, by)), content_type="text/csv; charset=utf-8",
               headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/api/supervisor/targets")
async def get_targets(request: Request) -> HTTPResponse:
    await _supervisor(request)
    targets = quality.targets_with(await hub_of(request).store.quality.targets())
    return json_response(shapes.targets(quality.targets_out(targets)))


@bp.put("/api/supervisor/targets")
async def put_targets(request: Request) -> HTTPResponse:
    agent = await _supervisor(request)
    try:
        body = TargetsBody.parse_obj(body_of(request))
    except ValidationError as exc:
        detail = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ApiError(400, "invalid_targets", f"{detail}. 目标值无效。") from None
    store = hub_of(request).store
    await store.quality.set_targets(body.targets, agent["id"])
    targets = quality.targets_with(await store.quality.targets())
    return json_response(shapes.targets(quality.targets_out(targets)))
