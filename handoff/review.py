"""Teaching the bot: what it did not understand, grouped for a supervisor to label.

Capture. After each bot turn the hub knows, for free, a handoff for ``not_understood`` and a
reply that is the bot's own "not understood" (``utter_ask_rephrase``, ``utter_offer_human``,
``utter_default``: fallback) or "out of scope" (``utter_out_of_scope``) text. Only for a weak
parse the bot answered anyway it must ask Rasa's ``/model/parse``: in a task of its own after
the customer has the reply, and only while Rasa has room (fewer than half the hub's turn slots in
use and a parse slot free; never while parses are paused after a failure), so under load the
hub skips it rather than slow the customers' turns. ``HUB_REVIEW_CAPTURE``: ``parse`` (default),
``replies`` (no extra call), ``off``.

Review. Open items are grouped by wording (``handoff.teach.normalise``, character n-gram TF-IDF,
average-linkage clustering on cosine distance); a supervisor labels a group with an intent or FAQ
key, or a new FAQ key with its answer, or ignores it. Labels live in the database and
``data/nlu/reviewed.yml`` is rendered from all of them after each label, so every hub process
writes the same file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel, ConstrainedInt, ConstrainedStr, ValidationError, conlist
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from handoff import shapes
from handoff.auth import current_agent, require_supervisor
from handoff.channels.web import body_of, hub_of
from handoff.errors import ApiError
from handoff.records.review import IGNORE
from handoff.router import Handoff
from handoff.settings import ROOT
from handoff.teach import (
    FAQ_KEY,
    RETRIEVAL_INTENT,
    REVIEWED_FILE,
    Knowledge,
    folder_lock,
    render_reviewed,
    write_atomically,
)
from handoff.validation import DB_INT_MAX, clean_text, is_blank

log = logging.getLogger("handoff.review")

bp = Blueprint("review")

KINDS = ("fallback", "out_of_scope", "low_confidence", "not_understood")
MAX_GROUPED = 2000  # the newest open items a review page groups
GROUP_DISTANCE = 0.7  # average cosine distance below which wordings join one group


@dataclass(frozen=True)
class ReviewSettings:
    """``HUB_REVIEW_CAPTURE`` parse|replies|off, ``HUB_REVIEW_CONFIDENCE`` (below it a parse is
    weak), ``HUB_BOT_DIR`` (the bot project whose ``data/nlu/reviewed.yml`` is written)."""

    capture: str = "parse"
    confidence: float = 0.6
    bot_dir: Path = ROOT

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ReviewSettings:
        env = dict(os.environ if env is None else env)
        capture = env.get("HUB_REVIEW_CAPTURE") or "parse"
        if capture not in ("parse", "replies", "off"):
            raise ValueError(f"HUB_REVIEW_CAPTURE must be parse, replies or off, got {capture!r}")
        try:
            confidence = float(env.get("HUB_REVIEW_CONFIDENCE") or 0.6)
        except ValueError as exc:
            raise ValueError("HUB_REVIEW_CONFIDENCE must be a number") from exc
        if not 0 <= confidence <= 1:
            raise ValueError("HUB_REVIEW_CONFIDENCE must be between 0 and 1")
        return cls(capture, confidence, Path(env.get("HUB_BOT_DIR") or ROOT))


class BotData:
    """The bot's data as of its files now: re-read when one of them changed (a stat per call)."""

    def __init__(self, bot_dir: Path) -> None:
        self.bot_dir = bot_dir
        self._knowledge: Knowledge | None = None

    def get(self) -> Knowledge:
        if self._knowledge is None or self._knowledge.stamp != Knowledge.stamp_of(self.bot_dir):
            self._knowledge = Knowledge.load(self.bot_dir)
            if not self._knowledge.held_out_keys:  # e.g. a container image built without tests/
                log.warning("no test sets under %s/tests: reviewed.yml cannot leave tested lines out; "
                            "make review-report checks it in the repository", self.bot_dir)
        return self._knowledge

    async def current(self) -> Knowledge:
        return await asyncio.to_thread(self.get)

    @property
    def reviewed_path(self) -> Path:
        return self.bot_dir / "data" / "nlu" / REVIEWED_FILE


def classify(parse: dict[str, Any], threshold: float) -> tuple[str | None, str | None, float | None]:
    """(kind or None, intent, confidence) of a ``/model/parse`` result."""
    intent = parse.get("intent") or {}
    name = intent.get("name")
    try:
        confidence = float(intent.get("confidence") or 0.0)
    except (TypeError, ValueError):
        confidence = 0.0
    name = str(name)[:64] if name else None
    if name is None or name == "nlu_fallback":
        return "fallback", name, confidence
    if name == "out_of_scope":
        return "out_of_scope", name, confidence
    if confidence < threshold:
        return "low_confidence", name, confidence
    return None, name, confidence


class Capture:
    """The hub's turn watcher: records what the bot did not understand, off the customer's path."""

    def __init__(self, hub: Any, settings: ReviewSettings, bot_data: BotData) -> None:
        self.hub, self.settings, self.bot_data = hub, settings, bot_data
        self.tasks: set[asyncio.Task[None]] = set()

    def __call__(self, conv: dict[str, Any], msg: dict[str, Any], handoff: Handoff | None,
                 replies: list[str]) -> None:
        if self.settings.capture == "off" or msg.get("author") != "customer":
            return
        if handoff is not None and handoff.reason != "not_understood":
            return  # understood well enough to hand off (asked for a person, angry, urgent …)
        task = asyncio.get_running_loop().create_task(self._record(conv, msg, handoff, replies))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _rasa_has_room(self) -> bool:
        rasa = self.hub.rasa
        return rasa.in_flight < max(1, rasa.concurrency // 2) and rasa.waiting == 0

    async def _record(self, conv: dict[str, Any], msg: dict[str, Any], handoff: Handoff | None,
                      replies: list[str]) -> None:
        review = self.hub.store.review
        try:
            if handoff is not None:
                await review.add(msg["id"], conv["id"], msg["text"], "not_understood")
                return
            failures = (await self.bot_data.current()).failure_replies
            said = next((failures[r] for r in replies if r in failures), None)
            if said is not None:
                await review.add(msg["id"], conv["id"], msg["text"], said)
                return
            if self.settings.capture != "parse" or not self._rasa_has_room():
                return
            parse = await self.hub.rasa.parse(msg["text"], conv["id"], wait=False)
            if parse is None:
                return
            kind, intent, confidence = classify(parse, self.settings.confidence)
            if kind is not None:
                await review.add(msg["id"], conv["id"], msg["text"], kind, intent, confidence)
        except Exception as exc:  # a lost record must never disturb the chat
            log.warning("review capture failed: %s", type(exc).__name__)


# -- grouping ---------------------------------------------------------------------------------


def group_items(items: list[dict[str, Any]], distance: float = GROUP_DISTANCE) -> list[dict[str, Any]]:
    """Groups of similar wording, largest first: identical normalised texts are one point, then
    character 1–2-gram TF-IDF vectors are clustered (average linkage, cosine distance)."""
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    from handoff.teach import normalise

    by_text: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_text.setdefault(normalise(item["text"]) or item["text"], []).append(item)
    wordings = list(by_text)
    if len(wordings) == 1:
        labels = [0]
    elif wordings:
        vectors = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True).fit_transform(wordings)
        dist = np.clip(1.0 - (vectors @ vectors.T).toarray(), 0.0, 2.0)
        labels = AgglomerativeClustering(n_clusters=None, affinity="precomputed", linkage="average",
                                         distance_threshold=distance).fit_predict(dist).tolist()
    else:
        labels = []
    clusters: dict[int, list[str]] = {}
    for wording, label in zip(wordings, labels, strict=True):
        clusters.setdefault(int(label), []).append(wording)
    groups = []
    for members in clusters.values():
        rows = [item for w in members for item in by_text[w]]
        texts = Counter(item["text"] for item in rows)
        guesses = Counter(item["intent"] for item in rows if item.get("intent") and item["intent"] != "nlu_fallback")
        ids = sorted(int(item["id"]) for item in rows)
        groups.append({
            "key": hashlib.blake2b(",".join(map(str, ids)).encode(), digest_size=8).hexdigest(),
            "count": len(rows),
            "item_ids": ids,
            "examples": [t for t, _ in texts.most_common(5)],
            "kinds": dict(Counter(item["kind"] for item in rows)),
            "guess": guesses.most_common(1)[0][0] if guesses else None,
            "last_at": max(float(item["created_at"]) for item in rows),
        })
    groups.sort(key=lambda g: (-g["count"], -g["last_at"]))
    return groups


# -- the API ----------------------------------------------------------------------------------


class _ItemId(ConstrainedInt):
    ge, le, strict = 1, DB_INT_MAX, True


class _Label(ConstrainedStr):
    min_length, max_length, strict = 1, 80, True


class _Key(ConstrainedStr):
    regex, strict = FAQ_KEY, True


class _Answer(ConstrainedStr):
    min_length, max_length, strict = 1, 1000, True


class NewFaq(BaseModel):
    key: _Key
    answer: _Answer

    class Config:
        extra = "forbid"


class LabelBody(BaseModel):
    """A group's items and exactly one of: an existing label (intent, ``faq/<key>``, ``ignore``)
    or a new FAQ key with its answer."""

    item_ids: conlist(_ItemId, min_items=1, max_items=MAX_GROUPED)  # type: ignore[valid-type]
    label: _Label | None = None
    new_faq: NewFaq | None = None

    class Config:
        extra = "forbid"


def _parse_body(request: Request) -> LabelBody:
    try:
        body = LabelBody.parse_obj(body_of(request))
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ApiError(400, "invalid_body", f"{where}: {exc.errors()[0]['msg']}. 请求内容无效。") from None
    if (body.label is None) == (body.new_faq is None):
        raise ApiError(400, "invalid_body", "Give either label or new_faq. 请选择一个意图，或新建问答。")
    return body


def _review_state(request: Request) -> tuple[Any, ReviewSettings, BotData]:
    ctx = request.app.ctx
    return hub_of(request), ctx.review_settings, ctx.bot_data


async def _supervisor(request: Request) -> dict[str, Any]:
    agent = await current_agent(request)
    require_supervisor(agent)
    return agent


@bp.get("/api/supervisor/review")
async def review_groups(request: Request) -> HTTPResponse:
    await _supervisor(request)
    hub, _settings, bot_data = _review_state(request)
    items = await hub.store.review.open_items(MAX_GROUPED)
    groups = await asyncio.to_thread(group_items, items)
    knowledge = await bot_data.current()
    return json_response(shapes.review_page(groups, knowledge))


@bp.get("/api/supervisor/review/labels")
async def review_labels(request: Request) -> HTTPResponse:
    await _supervisor(request)
    hub, _settings, bot_data = _review_state(request)
    knowledge = await bot_data.current()
    proposed = await hub.store.review.answers()
    return json_response(shapes.review_labels(knowledge, proposed))


def _write_reviewed(store: Any, bot_data: BotData) -> Any:
    """Read every label and write the file inside one folder lock: a hub that read the labels
    earlier cannot overwrite a newer file with an older rendering."""
    with folder_lock(bot_data.reviewed_path.parent):
        review = store.review
        rendered = render_reviewed(review.labelled.sync(review), review.answers.sync(review), bot_data.get())
        write_atomically(bot_data.reviewed_path, rendered.text)
    return rendered


async def write_reviewed(hub: Any, bot_data: BotData) -> Any:
    """Render ``reviewed.yml`` from every label in the database and replace the file."""
    return await asyncio.to_thread(_write_reviewed, hub.store, bot_data)


@bp.post("/api/supervisor/review/label")
async def review_label(request: Request) -> HTTPResponse:
    agent = await _supervisor(request)
    hub, _settings, bot_data = _review_state(request)
    body = _parse_body(request)
    knowledge = await bot_data.current()
    proposed = await hub.store.review.answers()
    answer = None
    if body.new_faq is not None:
        key = f"{RETRIEVAL_INTENT}/{body.new_faq.key}"
        answer = clean_text(body.new_faq.answer).strip()
        if is_blank(answer):
            raise ApiError(400, "invalid_body", "new_faq.answer is empty. 答案不能为空。")
        if key in knowledge.faq_answers or body.new_faq.key in proposed:
            raise ApiError(409, "faq_exists", f"{key} exists; label with it instead. 该问答已存在，请直接选择。")
        label = key
    else:
        label = str(body.label)
        allowed = set(knowledge.labels) | {f"{RETRIEVAL_INTENT}/{k}" for k in proposed} | {IGNORE}
        if label not in allowed:
            raise ApiError(400, "unknown_label", "Not an intent or FAQ key of the bot. 不是机器人已有的意图或问答。")
    count = await hub.store.review.label(sorted(set(body.item_ids)), label, agent["id"], answer)
    if count == 0:
        raise ApiError(409, "already_labelled", "These messages were labelled already. 这些消息已被标注。")
    try:
        rendered = await write_reviewed(hub, bot_data) if label != IGNORE else None
    except OSError as exc:  # the labels are stored: the next label, or --export, writes the file
        log.error("review: %s not written: %s", bot_data.reviewed_path, exc)
        raise ApiError(500, "write_failed", "Labels saved, but data/nlu/reviewed.yml could not be written "
                       "(see the hub's log). 标注已保存，但训练文件写入失败，请检查目录权限。") from None
    log.info("review: %d messages labelled %s by %s", count, label, agent["username"])
    return json_response(shapes.review_label_result(count, label, rendered, REVIEWED_FILE))


def install(app: Any) -> None:
    """Register the blueprint and start capturing with the hub."""
    app.blueprint(bp)
    settings = ReviewSettings.from_env()

    @app.before_server_start
    async def _start_review(app: Any, _loop: Any) -> None:
        app.ctx.review_settings = settings
        app.ctx.bot_data = BotData(settings.bot_dir)
        app.ctx.review_capture = Capture(app.ctx.hub, settings, app.ctx.bot_data)
        app.ctx.hub.turn_watchers.append(app.ctx.review_capture)


def export(database_url: str, bot_dir: Path) -> Any:
    """Write ``reviewed.yml`` from a hub database, e.g. on the machine that trains when the hubs
    run elsewhere (``python -m handoff.review --export``)."""
    from handoff.store import Store

    async def run() -> Any:
        store = Store.from_url(database_url)
        try:
            return await write_reviewed(SimpleNamespace(store=store), BotData(bot_dir))
        finally:
            await store.close()

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    import argparse

    from handoff.settings import default_database_url

    ap = argparse.ArgumentParser(description="Write data/nlu/reviewed.yml from the hub's review labels.")
    ap.add_argument("--export", action="store_true", required=True)
    ap.add_argument("--database-url", default=default_database_url(dict(os.environ)))
    ap.add_argument("--bot-dir", default=str(ReviewSettings.from_env().bot_dir))
    args = ap.parse_args(argv)
    rendered = export(args.database_url, Path(args.bot_dir))
    print(f"{Path(args.bot_dir) / 'data' / 'nlu' / REVIEWED_FILE}: {rendered.examples} examples "
          f"({len(rendered.held_out)} tested lines and {rendered.duplicates} training duplicates left out)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
