"""Rule-based entity extraction (order numbers, phone tails, amounts, dates) with a
blank spaCy Chinese pipeline and an ``EntityRuler``.

The spaCy tokenizer here is a deterministic char/run splitter: every CJK character
is a token, digit runs and Latin runs are single tokens. It needs no model download
(no pkuseg) and, unlike jieba, never depends on context, so phrase patterns always
match and an entity never starts or ends inside a token.

Entities are found on the aligned normal form of the ORIGINAL text (see
``bot.nlu.normalizer``), so full-width digits and Traditional cues work while the
offsets point into the text the customer typed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import ORIGINAL_TEXT, normalize_aligned

ORDER_ID = "order_id"
PHONE_TAIL = "phone_tail"
AMOUNT = "amount"
DATE = "date"
ENTITY_TYPES = (ORDER_ID, PHONE_TAIL, AMOUNT, DATE)

ORDER_MIN_DIGITS, ORDER_MAX_DIGITS = 12, 20

_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?|[a-zA-Z]+|\s+|.", re.S)
_DIGITS = {"TEXT": {"REGEX": r"^\d+$"}}
_SEP = {"ORTH": {"IN": [":", "：", "是", "为", "#", ".", "-"]}, "OP": "*"}

_CN_NUMS = ["一", "两", "二", "三", "四", "五", "六", "七", "八", "九", "十", "半",
            "十一", "十二", "十三", "十四", "十五", "二十", "三十", "几"]
_DATE_WORDS = ["今天", "昨天", "前天", "大前天", "明天", "后天", "今早", "昨晚", "昨天晚上",
               "今天早上", "上周", "上星期", "上个星期", "上礼拜", "这周", "本周", "这个星期",
               "上个月", "上月", "这个月", "本月", "月初", "月底", "刚才", "刚刚", "前几天",
               "双十一", "双11", "618", "周一", "周二", "周三", "周四", "周五", "周六", "周日",
               "星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期天", "星期日"]
_DATE_UNITS = ["天", "日", "周", "星期", "个星期", "礼拜", "个礼拜", "个月", "月", "小时", "个小时"]
_DATE_SUFFIX = ["前", "之前", "以前"]


def _tokenize(nlp: Any, text: str) -> Any:
    """Char/run tokenizer: CJK chars single, digit and Latin runs whole."""
    from spacy.tokens import Doc

    words: list[str] = []
    spaces: list[bool] = []
    for m in _TOKEN_RE.finditer(text):
        piece = m.group(0)
        if piece == " " and words and not spaces[-1]:
            spaces[-1] = True  # a single space after a token is its trailing space
            continue
        words.append(piece)
        spaces.append(False)
    return Doc(nlp.vocab, words=words, spaces=spaces)


def _patterns() -> list[dict[str, Any]]:
    cue_order = [[{"ORTH": c} for c in cue] for cue in ("订单号", "订单", "单号", "运单号", "订单编号")]
    cue_order += [[{"LOWER": "no"}], [{"ORTH": "#"}], [{"LOWER": "order"}]]
    grouped = [_DIGITS, {"ORTH": "-", "OP": "?"}, _DIGITS, {"ORTH": "-", "OP": "?"},
               {**_DIGITS, "OP": "?"}, {"ORTH": "-", "OP": "?"}, {**_DIGITS, "OP": "?"},
               {"ORTH": "-", "OP": "?"}, {**_DIGITS, "OP": "?"}]
    pats: list[dict[str, Any]] = [
        {"label": ORDER_ID, "pattern": [{"TEXT": {"REGEX": rf"^\d{{{ORDER_MIN_DIGITS},{ORDER_MAX_DIGITS}}}$"}}]}
    ]
    pats += [{"label": ORDER_ID, "pattern": cue + [_SEP] + grouped} for cue in cue_order]
    # written in dash-separated groups without a cue ("2025-0618-00004 快递到哪儿啦"); dates and
    # phone numbers have too few digits and are dropped by the length check
    pats += [{"label": ORDER_ID, "pattern": [_DIGITS, {"ORTH": "-"}, *grouped[2:]]}]
    cue_tail = [[{"ORTH": "尾"}, {"ORTH": "号"}], [{"ORTH": "末"}, {"ORTH": "尾"}, {"ORTH": "号"}]]
    cue_tail += [[{"ORTH": {"IN": ["后", "末"]}}, {"ORTH": {"IN": ["四", "4"]}}, {"ORTH": "位"}]]
    pats += [
        {"label": PHONE_TAIL, "pattern": cue + [_SEP, {"TEXT": {"REGEX": r"^\d{4}$"}}]}
        for cue in cue_tail
    ]
    number = {"TEXT": {"REGEX": r"^\d+(\.\d{1,2})?$"}}
    pats += [
        {"label": AMOUNT, "pattern": [{"ORTH": {"IN": ["¥", "￥", "$"]}}, number]},
        {"label": AMOUNT, "pattern": [{"LOWER": {"IN": ["rmb"]}}, number]},
        {"label": AMOUNT, "pattern": [number, {"ORTH": {"IN": ["元", "块"]}}, {"ORTH": "钱", "OP": "?"}]},
        {"label": AMOUNT, "pattern": [number, {"LOWER": {"IN": ["rmb", "yuan"]}}]},
    ]
    phrases = list(_DATE_WORDS)
    nums = _CN_NUMS + [str(i) for i in range(1, 61)]
    phrases += [n + u + s for n in nums for u in _DATE_UNITS for s in _DATE_SUFFIX]
    phrases += [n + u for n in ("半个月", "一个月", "一周", "两周") for u in _DATE_SUFFIX]
    pats += [{"label": DATE, "pattern": p} for p in sorted(set(phrases))]
    return pats


@lru_cache(maxsize=1)
def build_nlp() -> Any:
    """The spaCy pipeline, built once per process."""
    import spacy

    nlp = spacy.blank("zh")
    nlp.tokenizer = lambda text: _tokenize(nlp, text)
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH"})
    ruler.add_patterns(_patterns())
    return nlp


def _digit_spans(doc: Any, start: int, end: int) -> list[tuple[int, int, str]]:
    """Char spans of the digit tokens in doc[start:end]."""
    return [(t.idx, t.idx + len(t.text), t.text) for t in doc[start:end] if t.text.isdigit()]


def _postprocess(doc: Any, ent: Any) -> list[dict[str, Any]]:
    """Trims cues off and validates; returns Rasa-style entity dicts."""
    label = ent.label_
    if label == ORDER_ID:
        parts = _digit_spans(doc, ent.start, ent.end)
        digits = "".join(p[2] for p in parts)
        if ORDER_MIN_DIGITS <= len(digits) <= ORDER_MAX_DIGITS:
            return [_entity(label, parts[0][0], parts[-1][1], digits)]
        # several numbers after one cue: keep those that are order numbers alone
        return [
            _entity(label, s, e, d)
            for s, e, d in parts
            if ORDER_MIN_DIGITS <= len(d) <= ORDER_MAX_DIGITS
        ]
    if label == PHONE_TAIL:
        s, e, d = _digit_spans(doc, ent.start, ent.end)[-1]
        return [_entity(label, s, e, d)]
    if label == AMOUNT:
        number = next(t.text for t in ent if t.text[:1].isdigit())
        return [_entity(label, ent.start_char, ent.end_char, number)]
    return [_entity(label, ent.start_char, ent.end_char, ent.text)]


def _entity(label: str, start: int, end: int, value: str) -> dict[str, Any]:
    return {"entity": label, "start": start, "end": end, "value": value}


def _neighbours_are_digits(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit())


def extract_entities(text: str) -> list[dict[str, Any]]:
    """Entities in ``text`` with offsets into ``text`` itself (raw customer text)."""
    aligned = normalize_aligned(text)
    doc = build_nlp()(aligned)
    entities: list[dict[str, Any]] = []
    for ent in doc.ents:
        entities.extend(_postprocess(doc, ent))
    stripped = aligned.strip()
    if re.fullmatch(r"\d{4}", stripped) and not entities:
        start = aligned.index(stripped)
        entities.append(_entity(PHONE_TAIL, start, start + 4, stripped))
    entities = [
        e for e in entities
        if not (e["entity"] in (ORDER_ID, PHONE_TAIL)
                and _neighbours_are_digits(aligned, e["start"], e["end"]))
    ]
    return sorted(entities, key=lambda e: e["start"])


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class SpacyRuleEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Adds ruler entities (order_id, phone_tail, amount, date) to the message."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``entities``: which entity types to emit (default: all)."""
        return {"entities": list(ENTITY_TYPES)}

    def __init__(self, config: dict[str, Any]) -> None:
        """Keeps the configured entity types."""
        self._wanted = set(config.get("entities") or ENTITY_TYPES)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyRuleEntityExtractor:
        """Creates the component and builds the spaCy pipeline eagerly."""
        build_nlp()
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: list[Message]) -> list[Message]:
        """Appends entities found on the original text (aligned offsets)."""
        for message in messages:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT) or ""
            found = [e for e in extract_entities(text) if e["entity"] in self._wanted]
            found = self.add_extractor_name(found)
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
