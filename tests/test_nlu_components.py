"""Table-driven tests of the Chinese NLU building blocks (bot/nlu), on the real
functions and real jieba/spaCy/OpenCC/scikit-learn - no model training here."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.anger import (
    ANGRY,
    NEUTRAL,
    AngerDetector,
    angry_label,
    decide,
    dedupe_entities,
    lexicon_hits,
    parse_lexicon,
    score_anger,
)
from bot.nlu.dense import USE_DIM, USESentenceFeaturizer, encode
from bot.nlu.entities import extract_entities
from bot.nlu.normalizer import (
    ORIGINAL_TEXT,
    ChineseNormalizer,
    normalize,
    normalize_aligned,
    text_signals,
)
from bot.nlu.tokenizer import DEFAULT_USERDICT, ChineseTokenizer, load_userdict, segment

# ------------------------------------------------------------------ normaliser

NORMALIZE_CASES = [
    ("ＡＢＣ１２３", "abc123"),  # full-width -> half-width, Latin lower-cased
    ("我的訂單還沒發貨", "我的订单还没发货"),  # Traditional -> Simplified
    ("退宽什么时候到", "退款什么时候到"),  # typo map
    ("申请推款", "申请退款"),  # a pinyin-keyboard slip
    ("要加运废吗", "要加运费吗"),
    ("定单号多少", "订单号多少"),
    ("物流信心一直不更新", "物流信息一直不更新"),
    ("快第到了吗,什么时候发祸", "快递到了吗,什么时候发货"),
    ("为什么还不发货!!!!!", "为什么还不发货!"),  # punctuation run collapsed
    ("到底在哪？？？", "到底在哪?"),  # full-width run
    ("人呢?!?!", "人呢?"),
    ("你好   世界\t\n", "你好 世界"),  # whitespace
    ("好的😡😡", "好的"),  # emoji removed
    ("👌", "👌"),  # ... unless there is nothing else
    ("HELLO World", "hello world"),
    ("88", "拜拜"),  # a bare number would otherwise be featurised like any order number
    ("886！", "拜拜了!"),
    ("88号楼", "88号楼"),  # only a whole message is a goodbye
    ("1234", "1234"),
    ("2025061800088", "2025061800088"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZE_CASES)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", [case[0] for case in NORMALIZE_CASES] + ["㈠⑴ ｶﾞ 頭髮乾燥 🇨🇳👨‍👩‍👧"])
def test_aligned_normal_form_keeps_length(raw: str) -> None:
    """Entity offsets found on the normal form must be valid in the original."""
    assert len(normalize_aligned(raw)) == len(raw)


def test_normalize_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        normalize(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "key", "expected"),
    [
        ("气死了😡🤬", "angry_emoji", ["😡", "🤬"]),
        ("谢谢👍", "angry_emoji", []),
        ("人呢!!!", "max_punct_run", 3),
        ("人呢！！？？", "max_punct_run", 4),
        ("在吗???", "questions", 3),
        ("好的", "exclamations", 0),
    ],
)
def test_text_signals(raw: str, key: str, expected: object) -> None:
    assert text_signals(raw)[key] == expected


def test_normalizer_component_keeps_original_text() -> None:
    message = Message(data={TEXT: "訂單號：２０２４０９０９１１２２３！！！😡"})
    ChineseNormalizer().process([message])
    assert message.get(ORIGINAL_TEXT) == "訂單號：２０２４０９０９１１２２３！！！😡"
    assert message.get(TEXT).strip() == "订单号:2024090911223!"
    assert message.get("text_signals")["angry_emoji"] == ["😡"]


# ------------------------------------------------------------------ tokenizer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要 refund 退款", ["我要", "refund", "退款"]),  # no whitespace tokens (rasa#7910)
        ("订单2024090911223现在", ["订单", "2024090911223", "现在"]),
        ("abc2024090911223xyz", ["abc", "2024090911223", "xyz"]),
        ("七天无理由退货", ["七天无理由", "退货"]),
        ("运费险怎么算", ["运费险", "怎么", "算"]),
        ("发票抬头和税号", ["发票抬头", "和", "税号"]),
        ("顺丰揽收了吗", ["顺丰", "揽收", "了", "吗"]),
        ("   ", []),
    ],
)
def test_segment(text: str, expected: list[str]) -> None:
    load_userdict(DEFAULT_USERDICT)
    assert [word for word, _ in segment(text)] == expected


def test_segment_offsets_point_into_text() -> None:
    text = "我的 订单 No.2024090911223 到哪了"
    for word, start in segment(text):
        assert text[start : start + len(word)] == word


def test_tokenizer_component_drops_whitespace(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = ChineseTokenizer.create(
        {**ChineseTokenizer.get_default_config()}, storage, Resource("tok"), context
    )
    message = Message(data={TEXT: "hi 你好  world 订单2024090911223"})
    tokenizer.process([message])
    tokens = [t.text for t in message.get("text_tokens")]
    assert tokens == ["hi", "你好", "world", "订单", "2024090911223"]


# ------------------------------------------------------------------ entity rules


def _ents(text: str) -> list[tuple[str, str]]:
    return [(e["entity"], e["value"]) for e in extract_entities(text)]


ENTITY_CASES = [
    ("订单2024090911223现在是什么情况", [("order_id", "2024090911223")]),
    ("訂單號：２０２４０９０９１１２２３", [("order_id", "2024090911223")]),  # full-width
    ("abc2024090911223xyz", [("order_id", "2024090911223")]),  # letters around
    ("No.2024090911223", [("order_id", "2024090911223")]),
    ("#20240909112233", [("order_id", "20240909112233")]),
    ("订单号 2024 0909 1122 3", [("order_id", "2024090911223")]),  # spaces inside
    ("单号2024090911223和2024090911224", [("order_id", "2024090911223"), ("order_id", "2024090911224")]),
    ("1 OR 1=1", []),  # SQL-ish
    ("订单号 1 OR 1=1; DROP TABLE orders", []),
    ("' OR '1'='1", []),
    ("<script>alert(1)</script>订单2024090911223", [("order_id", "2024090911223")]),  # HTML
    ("<b>2024090911223</b>", [("order_id", "2024090911223")]),
    ("123456789012345678901234", []),  # too long: not a prefix of it either
    ("13812345678", []),  # a phone number is not an order number
    ("手机尾号是1234", [("phone_tail", "1234")]),
    ("后四位5678", [("phone_tail", "5678")]),
    ("后4位 5678", [("phone_tail", "5678")]),
    (" 4321 ", [("phone_tail", "4321")]),  # a message that is just 4 digits
    ("12345", []),
    ("付了¥99.5", [("amount", "99.5")]),
    ("退我100块钱", [("amount", "100")]),
    ("一共200元", [("amount", "200")]),
    ("三天前买的", [("date", "三天前")]),
    ("昨天下的单", [("date", "昨天")]),
    ("上周买的衣服", [("date", "上周")]),
    ("订单2024090911223昨天付了¥88", [("order_id", "2024090911223"), ("date", "昨天"), ("amount", "88")]),
]


@pytest.mark.parametrize(("text", "expected"), ENTITY_CASES)
def test_entity_rules(text: str, expected: list[tuple[str, str]]) -> None:
    assert _ents(text) == expected


@pytest.mark.parametrize("text", [case[0] for case in ENTITY_CASES])
def test_entity_offsets_are_on_the_original_text(text: str) -> None:
    for entity in extract_entities(text):
        span = normalize_aligned(text)[entity["start"] : entity["end"]]
        assert entity["value"] in span.replace(" ", "").replace("-", "") or entity["entity"] == "amount"
        assert 0 <= entity["start"] < entity["end"] <= len(text)


def test_order_id_span_matches_raw_digits() -> None:
    text = "订单２０２４０９０９１１２２３"
    (entity,) = extract_entities(text)
    assert text[entity["start"] : entity["end"]] == "２０２４０９０９１１２２３"


# ------------------------------------------------------------------ anger lexicon

ANGER_CASES = [
    ("我想反馈一个问题", NEUTRAL),
    ("我对你们的售后很不满意,要投诉", NEUTRAL),  # calm complaint
    ("商品破损了怎么办", NEUTRAL),  # 破损 is not 破X
    ("usb接口坏了", NEUTRAL),  # "sb" only as a word
    ("订单2024123150123到了吗", NEUTRAL),  # "12315" inside an order number
    ("谢谢你们", NEUTRAL),
    ("你们是不是有病,退款拖了半个月!!", ANGRY),
    ("什么破平台 订单下了半天还在审核？？？", ANGRY),
    ("再不发货我就去12315", ANGRY),
    ("受够了,马上给我退款", ANGRY),
    ("垃圾客服", ANGRY),
    ("好的😡", ANGRY),  # angry emoji survive normalisation as a signal
]


@pytest.mark.parametrize(("text", "expected"), ANGER_CASES)
def test_score_anger_lexicon(text: str, expected: str) -> None:
    name, confidence = score_anger(text)
    assert name == expected
    assert 0.5 <= confidence <= 1.0


@pytest.mark.parametrize(
    ("p", "threshold", "expected"),
    [
        (0.5, 0.5, (ANGRY, 0.5)),
        (1.0, 0.3, (ANGRY, 1.0)),
        (0.65, 0.3, (ANGRY, 0.75)),
        (0.0, 0.3, (NEUTRAL, 1.0)),
        (0.15, 0.3, (NEUTRAL, 0.75)),
        (1.7, 0.5, (ANGRY, 1.0)),  # clipped
    ],
)
def test_decide_confidence_is_that_of_the_name(p: float, threshold: float, expected: tuple) -> None:
    assert decide(p, threshold) == expected


def test_decide_rejects_bad_threshold() -> None:
    with pytest.raises(ValueError):
        decide(0.5, 1.0)


def test_more_evidence_means_more_anger() -> None:
    assert score_anger("垃圾")[1] < score_anger("垃圾!!!😡")[1]


def test_lexicon_longest_term_counts_once() -> None:
    assert [h.term for h in lexicon_hits("去消费者协会")] == ["消费者协会"]


def test_bad_lexicon_line_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_lexicon("垃圾\tinsult\t1.0\n有病 insult 1.0\n")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"intent": {"angry": True}}, True), ({"example": {"angry": False}}, False), (None, None)],
)
def test_angry_label_from_metadata(metadata: dict | None, expected: bool | None) -> None:
    assert angry_label(Message(data={TEXT: "x", "metadata": metadata})) is expected


def test_dedupe_keeps_one_order_id_per_number() -> None:
    rule = {"entity": "order_id", "start": 2, "end": 15, "value": "2024090911223", "extractor": "SpacyRuleEntityExtractor"}
    diet = {"entity": "order_id", "start": 2, "end": 15, "value": "2024090911223", "extractor": "DIETClassifier"}
    other = {"entity": "order_id", "start": 20, "end": 33, "value": "2024090911224", "extractor": "DIETClassifier"}
    assert dedupe_entities([rule, diet, other]) == [rule, other]


# ------------------------------------------------------------------ anger detector component

CALM = ["我想查一下订单", "请问什么时候发货", "退款多久到账", "发票怎么开", "我要投诉快递员态度",
        "能便宜点吗", "谢谢", "这个有货吗", "怎么修改地址", "我想退货"]
ANGRY_TEXTS = ["你们是骗子吧", "垃圾平台 退钱", "气死了 还不发货", "再拖我就报警", "什么破东西",
               "受够了你们", "马上给我退款!!!", "一个礼拜了还不到 你们干什么吃的", "差评!!!", "太过分了😡"]


def _training_data() -> TrainingData:
    examples = [Message(data={TEXT: t, "intent": "x", "metadata": {"intent": {"angry": False}}}) for t in CALM]
    examples += [Message(data={TEXT: t, "intent": "y", "metadata": {"intent": {"angry": True}}}) for t in ANGRY_TEXTS]
    return TrainingData(examples)


def _detector(tmp_path, config: dict | None = None) -> tuple[AngerDetector, LocalModelStorage, Resource]:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("anger")
    context = ExecutionContext(GraphSchema({}), "test")
    return AngerDetector.create(config or {}, storage, resource, context), storage, resource


def test_anger_detector_trains_persists_and_loads(tmp_path) -> None:
    detector, storage, resource = _detector(tmp_path)
    detector.train(_training_data())
    loaded = AngerDetector.load({}, storage, resource, ExecutionContext(GraphSchema({}), "test"))
    assert loaded._model is not None
    messages = [Message(data={TEXT: "你们这群骗子 气死我了!!!"}), Message(data={TEXT: "请问怎么开发票"})]
    loaded.process(messages)
    assert messages[0].get("emotion")["name"] == ANGRY
    assert messages[1].get("emotion")["name"] == NEUTRAL
    assert "emotion" in messages[0].as_dict(only_output_properties=True)


def test_anger_detector_without_labels_falls_back_to_lexicon(tmp_path) -> None:
    detector, storage, resource = _detector(tmp_path)
    unlabelled = TrainingData([Message(data={TEXT: t, "intent": "x"}) for t in CALM + ANGRY_TEXTS])
    detector.train(unlabelled)
    assert detector._model is None
    loaded = AngerDetector.load({}, storage, resource, ExecutionContext(GraphSchema({}), "test"))
    message = Message(data={TEXT: "你们是不是有病"})
    loaded.process([message])
    assert message.get("emotion") == {"name": ANGRY, "confidence": score_anger("你们是不是有病")[1]}


def test_anger_detector_restores_original_text_and_dedupes(tmp_path) -> None:
    detector, _, _ = _detector(tmp_path)
    message = Message(data={TEXT: "訂單２０２４０９０９１１２２３"})
    ChineseNormalizer().process([message])
    dup = {"entity": "order_id", "start": 2, "end": 15, "value": "2024090911223"}
    message.set(ENTITIES, [dict(dup, extractor="A"), dict(dup, extractor="B")])
    detector.process([message])
    assert message.get(TEXT) == "訂單２０２４０９０９１１２２３"
    assert [e["extractor"] for e in message.get(ENTITIES)] == ["A"]


# ------------------------------------------------------------------ dense sentence features


def test_use_featurizer_adds_one_sentence_feature() -> None:
    featurizer = USESentenceFeaturizer.create(
        {}, None, Resource("use"), ExecutionContext(GraphSchema({}), "test")  # type: ignore[arg-type]
    )
    messages = [Message(data={TEXT: "退款多久到账"}), Message(data={TEXT: "钱什么时候退回来"}),
                Message(data={TEXT: "你们几点下班"})]
    ChineseNormalizer().process(messages)
    featurizer.process(messages)
    seq, sentence = messages[0].get_dense_features(TEXT, [])
    assert seq is None
    assert sentence.features.shape == (1, USE_DIM)
    vectors = encode(["退款多久到账", "钱什么时候退回来", "你们几点下班"])
    sim = vectors @ vectors.T
    assert sim[0, 1] > sim[0, 2]  # paraphrases are closer than unrelated questions


# ------------------------------------------------------------------ training-cache fingerprints


def test_fingerprint_follows_resource_content(tmp_path) -> None:
    """Editing the user dictionary must invalidate Rasa's cached tokenizer output."""
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("运费险 2000 n\n", encoding="utf-8")
    before = ChineseTokenizer.fingerprint_addon({"userdict": str(userdict)})
    assert before == ChineseTokenizer.fingerprint_addon({"userdict": str(userdict)})
    userdict.write_text("运费险 2000 n\n价保 1500 n\n", encoding="utf-8")
    assert ChineseTokenizer.fingerprint_addon({"userdict": str(userdict)}) != before
    assert AngerDetector.fingerprint_addon({}) and ChineseNormalizer.fingerprint_addon({})


def test_a_dashed_order_number_without_a_cue_is_read_and_dates_and_phones_are_not():
    from bot.nlu.entities import extract_entities

    def values(text: str) -> list[str]:
        return [e["value"] for e in extract_entities(text) if e["entity"] == "order_id"]

    assert values("2025-0618-00004 快递到哪儿啦") == ["2025061800004"]
    assert values("2025-06-18发的货") == [] and values("电话138-0000-1111") == []


def test_an_order_number_with_marks_is_never_angry():
    from bot.nlu.anger import only_a_number

    assert only_a_number("📦📦 2025061800004 ？？") and only_a_number("2025061800004??")
    assert not only_a_number("2025061800004 到底到哪了？？") and not only_a_number("？？？")
