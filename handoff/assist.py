"""Agent assist: standard replies for the customer's last message, ranked by the bot's own NLU.

Two sources. FAQ answers: Rasa's ``/model/parse`` of the message gives the ``faq`` intent's
confidence and the response selector's ranking of FAQ keys; a key scores intent confidence ×
selector confidence, and its answer text comes from the bot's data (``utter_faq/<key>``).
Canned replies (they carry no intent): character-bigram TF-IDF similarity of title + text to the
message, or to the best FAQ answer (a canned reply saying what the bot would say), or a title
naming the parsed intent's topic (退款, 物流 …), each weighted by what it rests on.

With Rasa down the parse is skipped (and paused ten seconds after a failure, so a console full of
chats causes no storm of failing calls): canned replies are still ranked by wording, the answer
says ``nlu: unavailable`` and the console shows no error. A parse is cached per message.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from handoff import shapes
from handoff.auth import current_agent
from handoff.channels.web import hub_of
from handoff.console import _visible_conversation
from handoff.teach import RETRIEVAL_INTENT, Knowledge, normalise

bp = Blueprint("assist")

MAX_SUGGESTIONS = 5
MIN_SCORE = 0.15
# Words of a topic that a canned reply's title names when it is about that topic.
TOPIC_WORDS = {
    "order_status": ("订单", "查单"), "logistics": ("物流", "快递", "催件", "发货"),
    "cancel_order": ("取消",), "modify_order": ("修改", "改地址", "地址"), "refund": ("退款",),
    "return_exchange": ("退货", "换货", "退换"), "complaint": ("投诉", "道歉", "抱歉"),
    "invoice": ("发票",), "payment_issue": ("支付", "付款", "扣款"), "account_issue": ("账号", "账户", "密码"),
    "promotion": ("优惠", "活动", "券"), "product_inquiry": ("商品", "尺码", "库存"),
    "greet": ("问候", "您好", "欢迎"), "goodbye": ("再见", "结束"), "thank": ("感谢", "不客气"),
    "human_agent": ("人工",),
}


class ParseCache:
    """Recent parses by message id: reopening a chat does not parse its message again."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if 0.0 <= number <= 1.0 else 0.0


def faq_scores(parse: dict[str, Any]) -> dict[str, float]:
    """``faq/<key>`` → intent confidence × selector confidence, from a ``/model/parse`` result."""
    ranking = {str(r.get("name")): _float(r.get("confidence")) for r in parse.get("intent_ranking") or []
               if isinstance(r, dict)}
    top = parse.get("intent") or {}
    if top.get("name"):
        ranking.setdefault(str(top["name"]), _float(top.get("confidence")))
    weight = ranking.get(RETRIEVAL_INTENT, 0.0)
    selector = ((parse.get("response_selector") or {}).get(RETRIEVAL_INTENT)
                or (parse.get("response_selector") or {}).get("default") or {})
    scores: dict[str, float] = {}
    for row in selector.get("ranking") or []:
        if isinstance(row, dict) and row.get("intent_response_key"):
            key = str(row["intent_response_key"])
            scores[key] = max(scores.get(key, 0.0), weight * _float(row.get("confidence")))
    chosen = (selector.get("response") or {})
    if chosen.get("intent_response_key"):
        key = str(chosen["intent_response_key"])
        scores[key] = max(scores.get(key, 0.0), weight * _float(chosen.get("confidence")))
    return scores


def _similarities(query: str, docs: list[str]) -> list[float]:
    """Cosine similarity of character 1–2-gram TF-IDF vectors (normalised wording)."""
    if not docs or not query.strip():
        return [0.0] * len(docs)
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectoriser.fit_transform([query, *docs])
    return [float(x) for x in (matrix[1:] @ matrix[0].T).toarray().ravel()]


def rank(text: str, parse: dict[str, Any] | None, canned: list[dict[str, Any]], knowledge: Knowledge,
         limit: int = MAX_SUGGESTIONS) -> list[dict[str, Any]]:
    """The suggestions for one customer message, best first (pure: tested without a hub)."""
    out: list[dict[str, Any]] = []
    faq = faq_scores(parse) if parse else {}
    for key, score in faq.items():
        answer = knowledge.faq_answers.get(key)
        if answer and score >= MIN_SCORE:
            out.append(shapes.suggestion("faq", key, knowledge.name(key), answer, score))
    best_faq = max(faq.items(), key=lambda kv: kv[1], default=None)
    best_answer = knowledge.faq_answers.get(best_faq[0]) if best_faq else None
    intent = (parse or {}).get("intent") or {}
    intent_name, intent_conf = str(intent.get("name") or ""), _float(intent.get("confidence"))
    words = TOPIC_WORDS.get(intent_name, ())
    docs = [normalise(f"{c['title']} {c['text']}") for c in canned]
    by_message = _similarities(normalise(text), docs)
    by_answer = _similarities(normalise(best_answer), docs) if best_answer else [0.0] * len(docs)
    for row, sim, sim_answer in zip(canned, by_message, by_answer, strict=True):
        topic = intent_conf * 0.8 if words and any(w in row["title"] for w in words) else 0.0
        score = max(sim, sim_answer * (best_faq[1] if best_faq else 0.0), topic)
        if score >= MIN_SCORE:
            out.append(shapes.suggestion("canned", str(row["id"]), row["title"], row["text"], score))
    out.sort(key=lambda s: -s["score"])
    return out[:limit]


def last_customer_message(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    for row in reversed(rows):
        if row["author"] == "customer" and not row.get("internal"):
            return row
    return None


@bp.get("/api/agent/conversations/<conversation_id:str>/suggestions")
async def suggestions(request: Request, conversation_id: str) -> HTTPResponse:
    """Standard replies for the customer's last message; any agent who may read the chat."""
    agent = await current_agent(request)
    hub = hub_of(request)
    conv = await _visible_conversation(hub, agent, conversation_id)
    rows = await hub.store.messages.read(conv["id"], after=max(0, int(conv["last_seq"] or 0) - 100),
                                         include_internal=False, limit=200)
    message = last_customer_message(rows)
    if message is None:
        return json_response(shapes.suggestions_out(None, "none", None, []))
    text = message.get("title") or message["text"]  # a pressed button: what the customer saw
    cache: ParseCache = request.app.ctx.parse_cache
    parse = cache.get(message["id"])
    if parse is None:
        parse = await hub.rasa.parse(text, conv["id"])
        if parse is not None:
            cache.put(message["id"], parse)
    knowledge = await request.app.ctx.bot_data.current()
    canned = await hub.store.canned.find()
    items = rank(text, parse, canned, knowledge)
    intent = None
    if parse and (parse.get("intent") or {}).get("name"):
        intent = {"name": str(parse["intent"]["name"]), "confidence": _float(parse["intent"].get("confidence"))}
    return json_response(shapes.suggestions_out({**message, "text": text},
                                                "ok" if parse is not None else "unavailable", intent, items))


def install(app: Any) -> None:
    app.blueprint(bp)
    app.ctx.parse_cache = ParseCache()
