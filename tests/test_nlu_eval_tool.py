"""The NLU evaluation tooling (bench/) and the held-out sets it scores (tests/data/).

Scoring is checked table-driven on hand-made parse results; the fallback re-decision is
checked against Rasa's own FallbackClassifier; eval_nlu.py is run end-to-end against a real
HTTP server speaking the `/model/parse` protocol; one slow test trains a tiny model through
nlu_compare.py.
"""

from __future__ import annotations

import json
import random
import re
import socket
import sys
import threading
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import eval_nlu  # noqa: E402
import nlu_compare  # noqa: E402
from nlu_common import (  # noqa: E402
    CONTRACT_LABELS,
    FALLBACK,
    EvalFileError,
    Example,
    Prediction,
    ahead_beyond_spread,
    best_thresholds,
    coverage,
    frange,
    label_with_fallback,
    load_examples,
    parse_line,
    parse_lines,
    predicted_label,
    prediction_from_parse,
    score,
    seed_summary,
    seed_table_markdown,
    spread,
    sweep_thresholds,
)

DEV = REPO / "tests/data/nlu_dev.tsv"
TEST = REPO / "tests/data/nlu_test.tsv"
# the second pair, written later from the seeds' scenarios, covers the whole contract
HELDOUT_DEV = REPO / "tests/data/heldout_dev.tsv"
HELDOUT_TEST = REPO / "tests/data/heldout_test.tsv"
HELD_OUT = (DEV, TEST, HELDOUT_DEV, HELDOUT_TEST)
NEWER_FAQ_KEYS = {
    "faq/return_shipping", "faq/special_invoice", "faq/invoice_reissue", "faq/coupon",
    "faq/price_protection", "faq/missing_item", "faq/change_size", "faq/contact_merchant",
    "faq/remote_delivery",
}


def parse_result(intent: str | None, conf: float = 0.9, ranking: list[tuple[str, float]] | None = None,
                 faq_key: str | None = None, emotion: Any = None,
                 entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A `/model/parse` result shaped like Rasa 3.6's."""
    out: dict[str, Any] = {
        "text": "x",
        "intent": {"name": intent, "confidence": conf},
        "entities": entities or [],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in (ranking or [])],
    }
    if faq_key:
        out["response_selector"] = {
            "all_retrieval_intents": ["faq"],
            "faq": {"response": {"intent_response_key": faq_key, "confidence": 0.8},
                    "ranking": []},
            "default": {"response": {"intent_response_key": None}, "ranking": []},
        }
    if emotion is not None:
        out["emotion"] = emotion
    return out


# --------------------------------------------------------------------------- parse results


@pytest.mark.parametrize(("parse", "label"), [
    (parse_result("refund"), "refund"),
    (parse_result("faq", faq_key="faq/refund_time"), "faq/refund_time"),
    (parse_result(FALLBACK, 0.5, faq_key="faq/refund_time"), FALLBACK),
    ({"intent": {"name": "faq", "full_retrieval_intent_name": "faq/warranty"}}, "faq/warranty"),
    ({"intent": {"name": "faq"}}, "faq"),
    ({"intent": {"name": None}}, FALLBACK),
    ({}, FALLBACK),
])
def test_predicted_label(parse: dict[str, Any], label: str) -> None:
    assert predicted_label(parse) == label


@pytest.mark.parametrize(("emotion", "angry"), [
    ({"name": "angry", "confidence": 0.9}, True),
    ({"name": "neutral", "confidence": 0.7}, False),
    (None, False),
    ("angry", False),
    ({"confidence": 0.9}, False),
])
def test_anger_comes_from_top_level_emotion(emotion: Any, angry: bool) -> None:
    assert prediction_from_parse(parse_result("complaint", emotion=emotion)).angry is angry


def test_only_order_id_entities_count_and_width_is_normalised() -> None:
    parse = parse_result("order_status", entities=[
        {"entity": "order_id", "value": "２０２４０９１８７７７６５"},
        {"entity": "phone_tail", "value": "8823"},
        {"entity": "order_id", "value": " "},
    ])
    assert prediction_from_parse(parse).order_ids == frozenset({"2024091877765"})


# --------------------------------------------------------------------------- file format


@pytest.mark.parametrize(("line", "expected"), [
    ("你好\tgreet\t0\t", Example("你好", ("greet",), False, (), 1)),
    ("你好\tgreet\t0", Example("你好", ("greet",), False, (), 1)),
    ("破快递\tlogistics|complaint\t1\t", Example("破快递", ("logistics", "complaint"), True, (), 1)),
    ("查2024090911223\torder_status\t0\torder_id=2024090911223",
     Example("查2024090911223", ("order_status",), False, (("order_id", "2024090911223"),), 1)),
    ("# comment\tgreet\t0\t", None),
    ("   ", None),
])
def test_parse_line_accepts(line: str, expected: Example | None) -> None:
    assert parse_line(line, 1) == expected


@pytest.mark.parametrize(("line", "message"), [
    ("你好\tgreet", "4 tab-separated columns"),
    ("你好\tgreet\t0\t\textra", "4 tab-separated columns"),
    ("\tgreet\t0\t", "empty text"),
    ("你好\tgreeting\t0\t", "not in the NLU contract"),
    ("你好\tgreet|\t0\t", "empty intent"),
    ("你好\tgreet\tyes\t", "angry must be 0 or 1"),
    ("你好\tgreet\t0\torder_id", "name=value"),
])
def test_parse_line_rejects_with_location(line: str, message: str) -> None:
    with pytest.raises(EvalFileError, match=message) as err:
        parse_line(line, 7, "f.tsv")
    assert "f.tsv:7" in str(err.value)


def test_parse_lines_reports_every_bad_line_at_once() -> None:
    with pytest.raises(EvalFileError) as err:
        parse_lines(["好\tgreet\t0\t", "坏\tnope\t0\t", "也坏\tgreet\t2\t"], "x.tsv")
    assert "x.tsv:2" in str(err.value) and "x.tsv:3" in str(err.value)


# --------------------------------------------------------------------------- scoring


def ex(intents: str, angry: int = 0, order_id: str = "") -> Example:
    ents = (("order_id", order_id),) if order_id else ()
    return Example("t", tuple(intents.split("|")), bool(angry), ents)


def pr(intent: str, angry: bool = False, *ids: str) -> Prediction:
    return Prediction(intent, angry, frozenset(ids))


# Each case: gold rows, predictions, expected figures (checked with approx).
SCORE_CASES = [
    pytest.param([ex("greet"), ex("refund")], [pr("greet"), pr("refund")],
                 {"intent_accuracy": 1.0, "macro_f1": 1.0}, id="all-right"),
    pytest.param([ex("logistics|complaint")], [pr("complaint")],
                 {"intent_accuracy": 1.0}, id="either-of-a|b"),
    pytest.param([ex("logistics|complaint"), ex("complaint")], [pr("refund"), pr("complaint")],
                 # row 1 counts against logistics (first listed): logistics F1 0, complaint F1 1
                 {"intent_accuracy": 0.5, "macro_f1": 0.5}, id="a|b-neither-counts-first"),
    pytest.param([ex("greet"), ex("greet"), ex("thank"), ex("thank")],
                 [pr("greet"), pr("thank"), pr("thank"), pr("thank")],
                 # greet P=1 R=.5 F=2/3; thank P=2/3 R=1 F=.8
                 {"intent_accuracy": 0.75, "macro_f1": (2 / 3 + 0.8) / 2}, id="macro-f1"),
    pytest.param([ex("out_of_scope"), ex("out_of_scope"), ex("out_of_scope"), ex("greet")],
                 [pr(FALLBACK), pr("out_of_scope"), pr("greet"), pr(FALLBACK)],
                 {"intent_accuracy": 0.25, "oos_recall": 2 / 3, "in_scope_rejected_rate": 1.0,
                  "fallback_rate": 0.5}, id="fallback-is-own-prediction-but-oos-hit"),
]


@pytest.mark.parametrize(("gold", "preds", "expected"), SCORE_CASES)
def test_score_intents(gold: list[Example], preds: list[Prediction],
                       expected: dict[str, float]) -> None:
    report = score(gold, preds)
    for key, value in expected.items():
        assert report[key] == pytest.approx(value), key


def test_fallback_on_in_scope_row_costs_recall_not_a_class() -> None:
    report = score([ex("refund"), ex("refund")], [pr("refund"), pr(FALLBACK)])
    assert set(report["per_intent"]) == {"refund"}
    assert report["per_intent"]["refund"]["recall"] == pytest.approx(0.5)
    assert report["per_intent"]["refund"]["precision"] == pytest.approx(1.0)
    assert report["confusions"] == [
        {"gold": "refund", "predicted": FALLBACK, "count": 1, "examples": ["t"]}]


@pytest.mark.parametrize(("angry_gold", "angry_pred", "p", "r"), [
    ([1, 1, 0, 0], [1, 0, 1, 0], 0.5, 0.5),
    ([1, 1, 1, 0], [1, 1, 1, 1], 0.75, 1.0),
    ([1, 0], [0, 0], 0.0, 0.0),
])
def test_anger_precision_recall(angry_gold: list[int], angry_pred: list[int],
                                p: float, r: float) -> None:
    report = score([ex("complaint", a) for a in angry_gold],
                   [pr("complaint", bool(a)) for a in angry_pred])
    assert report["anger"]["precision"] == pytest.approx(p)
    assert report["anger"]["recall"] == pytest.approx(r)


def test_order_id_precision_recall() -> None:
    gold = [ex("order_status", 0, "2024090911223"), ex("refund", 0, "2024100100001"),
            ex("greet")]
    preds = [pr("order_status", False, "2024090911223"),
             pr("refund", False, "202410010000"),  # truncated: one FP and one FN
             pr("greet", False, "8823")]  # spurious: FP
    report = score(gold, preds)
    assert report["order_id"]["precision"] == pytest.approx(1 / 3)
    assert report["order_id"]["recall"] == pytest.approx(1 / 2)


def test_score_rejects_misaligned_input() -> None:
    with pytest.raises(ValueError, match="1 examples but 2 predictions"):
        score([ex("greet")], [pr("greet"), pr("greet")])


# --------------------------------------------------------------------------- fallback sweep


@pytest.mark.parametrize(("ranking", "thr", "amb", "label"), [
    ([("refund", 0.9), ("logistics", 0.05)], 0.5, 0.1, "refund"),
    ([("refund", 0.45), ("logistics", 0.3)], 0.5, 0.0, FALLBACK),
    ([("refund", 0.45), ("logistics", 0.3)], 0.4, 0.0, "refund"),
    ([("refund", 0.55), ("logistics", 0.5)], 0.5, 0.1, FALLBACK),
    ([("refund", 0.55), ("logistics", 0.5)], 0.5, 0.04, "refund"),
    # the model already fell back at 0.7: undo it and re-decide at 0.5
    ([(FALLBACK, 0.7), ("refund", 0.6), ("logistics", 0.2)], 0.5, 0.1, "refund"),
    ([("refund", 0.9)], 0.5, 0.2, "refund"),
    ([], 0.3, 0.0, FALLBACK),
])
def test_label_with_fallback(ranking: list[tuple[str, float]], thr: float, amb: float,
                             label: str) -> None:
    top = ranking[0] if ranking else (None, 0.0)
    assert label_with_fallback(parse_result(top[0], top[1], ranking), thr, amb) == label


def test_retrieval_intent_keeps_its_key_after_refallback() -> None:
    parse = parse_result(FALLBACK, 0.8, [(FALLBACK, 0.8), ("faq", 0.7), ("refund", 0.1)],
                         faq_key="faq/refund_time")
    assert label_with_fallback(parse, 0.6, 0.1) == "faq/refund_time"


def test_label_with_fallback_agrees_with_rasa_fallback_classifier() -> None:
    """Rasa's own component is the oracle for the threshold re-decision."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.shared.nlu.training_data.message import Message

    rng = random.Random(7)
    names = ["refund", "logistics", "greet", "complaint"]
    checked = Counter()
    for _ in range(300):
        confs = sorted((rng.random() for _ in names), reverse=True)
        total = sum(confs)
        ranking = [(n, c / total) for n, c in zip(names, confs, strict=True)]
        thr, amb = rng.choice(frange(0.3, 0.8, 0.05)), rng.choice(frange(0.0, 0.2, 0.02))
        msg = Message(data={"text": "x", "intent": {"name": ranking[0][0],
                                                     "confidence": ranking[0][1]},
                            "intent_ranking": [{"name": n, "confidence": c}
                                               for n, c in ranking]})
        FallbackClassifier({"threshold": thr, "ambiguity_threshold": amb}).process([msg])
        rasa_label = msg.data["intent"]["name"]
        ours = label_with_fallback(parse_result(ranking[0][0], ranking[0][1], ranking), thr, amb,
                                   groups=())
        assert ours == rasa_label, (ranking, thr, amb)
        checked[rasa_label == FALLBACK] += 1
    assert checked[True] > 20 and checked[False] > 20  # both outcomes exercised


def test_sweep_and_best_pair() -> None:
    gold = [ex("refund"), ex("out_of_scope"), ex("greet")]
    parses = [
        parse_result("refund", 0.62, [("refund", 0.62), ("greet", 0.3)]),
        parse_result("greet", 0.45, [("greet", 0.45), ("refund", 0.4)]),
        parse_result("greet", 0.9, [("greet", 0.9), ("refund", 0.05)]),
    ]
    rows = sweep_thresholds(gold, parses, frange(0.3, 0.8, 0.05), frange(0.0, 0.2, 0.02))
    assert len(rows) == 11 * 11
    best = best_thresholds(rows)
    # the OOS row needs fallback (thr > .45 or amb > .05) while refund (.62) must survive
    assert best["oos_recall"] == 1.0 and best["intent_accuracy"] == pytest.approx(2 / 3)
    assert (best["threshold"], best["ambiguity_threshold"]) == (0.3, 0.06)


def test_best_thresholds_tie_break_on_oos_recall() -> None:
    rows = [{"threshold": 0.3, "ambiguity_threshold": 0.0, "macro_f1": 0.8, "oos_recall": 0.5},
            {"threshold": 0.6, "ambiguity_threshold": 0.1, "macro_f1": 0.8, "oos_recall": 0.9},
            {"threshold": 0.7, "ambiguity_threshold": 0.1, "macro_f1": 0.7, "oos_recall": 1.0}]
    assert best_thresholds(rows)["threshold"] == 0.6


# --------------------------------------------------------------------------- config alignment


def test_stock_config_gets_project_epochs_and_thresholds() -> None:
    project = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    stock = yaml.safe_load((REPO / "bench/configs/stock.yml").read_text(encoding="utf-8"))
    settings = nlu_compare.training_settings(project)
    aligned = nlu_compare.align_stock(stock, settings)
    by_name = {c["name"]: c for c in aligned["pipeline"]}
    assert set(by_name) >= {"JiebaTokenizer", "CountVectorsFeaturizer", "DIETClassifier",
                            "ResponseSelector", "FallbackClassifier"}
    if "classifier_epochs" in settings:
        assert by_name["DIETClassifier"]["epochs"] == settings["classifier_epochs"]
    if "threshold" in settings:
        assert by_name["FallbackClassifier"]["threshold"] == settings["threshold"]
    char = [c for c in aligned["pipeline"] if c.get("analyzer") == "char_wb"]
    assert char and (char[0]["min_ngram"], char[0]["max_ngram"]) == (1, 4)


def test_training_settings_reads_custom_classifier_names() -> None:
    cfg = {"pipeline": [{"name": "bot.nlu.x.MyDIETClassifier", "epochs": 33},
                        {"name": "ResponseSelector", "epochs": 22},
                        {"name": "FallbackClassifier", "threshold": 0.55,
                         "ambiguity_threshold": 0.04}]}
    assert nlu_compare.training_settings(cfg) == {
        "classifier_epochs": 33, "selector_epochs": 22, "threshold": 0.55,
        "ambiguity_threshold": 0.04}


# --------------------------------------------------------------------------- the held-out sets


@pytest.mark.parametrize(("path", "min_rows", "per_label", "min_oos"), [
    (TEST, 420, 12, 40), (DEV, 270, 8, 20), (HELDOUT_TEST, 550, 12, 70), (HELDOUT_DEV, 350, 8, 45)])
def test_held_out_set_covers_the_contract(path: Path, min_rows: int, per_label: int,
                                          min_oos: int) -> None:
    examples = load_examples(path)
    cov = coverage(examples)
    assert len(examples) >= min_rows
    # the first pair predates the nine newer FAQ keys
    assert set(cov) == (CONTRACT_LABELS if path.name.startswith("heldout") else CONTRACT_LABELS - NEWER_FAQ_KEYS)
    thin = {k: v for k, v in cov.items() if v < per_label}
    assert not thin
    assert cov["out_of_scope"] >= min_oos


@pytest.mark.parametrize("path", [TEST, DEV])
def test_held_out_set_has_the_promised_mix(path: Path) -> None:
    import opencc

    examples = load_examples(path)
    n = len(examples)
    angry = [e for e in examples if e.angry]
    assert 0.18 <= len(angry) / n <= 0.27
    assert len({e.intents[0] for e in angry}) >= 15  # anger is spread, not one intent
    t2s = opencc.OpenCC("t2s")
    traditional = sum(t2s.convert(e.text) != e.text for e in examples)
    assert 0.10 <= traditional / n <= 0.22
    assert sum(any(ord(ch) > 0x1F000 for ch in e.text) for e in examples) >= 5  # emoji
    assert sum(any(0xFF01 <= ord(ch) <= 0xFF5E and ch not in "，？！：（）～"
                   for ch in e.text) for e in examples) >= 2  # full-width ASCII
    assert sum(bool(re.search(r"[A-Za-z]{2,}", e.text)) for e in examples) >= 15
    assert sum(len(e.text) >= 40 for e in examples) >= 1 or path == DEV
    assert len({e.text for e in examples}) == n


@pytest.mark.parametrize("path", [TEST, DEV])
def test_order_ids_are_well_formed_and_in_the_text(path: Path) -> None:
    import unicodedata

    with_ids = [e for e in load_examples(path) if e.entities]
    assert len(with_ids) >= 10
    for e in with_ids:
        for name, value in e.entities:
            assert name == "order_id"
            assert re.fullmatch(r"\d{13}", value), value
            datetime.strptime(value[:8], "%Y%m%d")
            assert value in unicodedata.normalize("NFKC", e.text)


def test_dev_and_test_do_not_overlap() -> None:
    dev = {e.text for e in load_examples(DEV)}
    test = {e.text for e in load_examples(TEST)}
    assert not dev & test


def test_held_out_rows_are_never_trained_on() -> None:
    """The figures in README are only honest if no held-out text is in data/nlu."""
    from rasa.shared.nlu.training_data.loading import load_data

    trained = {m.get("text") for m in load_data(str(Path(__file__).parent.parent / "data" / "nlu")).training_examples}
    held_out = {e.text for path in HELD_OUT for e in load_examples(path)}
    assert sorted(trained & held_out) == []


# --------------------------------------------------------------------------- eval_nlu.py over HTTP


class _ParseHandler(BaseHTTPRequestHandler):
    """Answers like a Rasa server with a keyword model: enough to drive eval_nlu end to end."""

    in_flight = 0
    max_in_flight = 0
    lock = threading.Lock()

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._send({"version": "3.6.21"})

    def do_POST(self) -> None:  # noqa: N802
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.max_in_flight = max(cls.max_in_flight, cls.in_flight)
        try:
            text = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["text"]
            if text == "需要令牌" and "token=" not in (self.path or ""):
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            ids = re.findall(r"\d{13}", text)
            if "退款" in text and "多久" in text:
                body = parse_result("faq", 0.9, [("faq", 0.9)], faq_key="faq/refund_time")
            elif "退款" in text:
                body = parse_result("refund", 0.9, [("refund", 0.9)])
            elif "订单" in text:
                body = parse_result("order_status", 0.8, [("order_status", 0.8)])
            else:
                body = parse_result(FALLBACK, 0.5, [(FALLBACK, 0.5)])
            body["text"] = text
            body["entities"] = [{"entity": "order_id", "value": i} for i in ids]
            if "!" in text:
                body["emotion"] = {"name": "angry", "confidence": 0.9}
            self._send(body)
        finally:
            with cls.lock:
                cls.in_flight -= 1


@pytest.fixture()
def parse_server() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ParseHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _ParseHandler.max_in_flight = 0
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


EVAL_ROWS = """# tiny file
退款怎么还没到!\trefund\t1\t
退款多久到账\tfaq/refund_time\t0\t
订单2024090911223怎么样了\torder_status\t0\torder_id=2024090911223
订单好慢!\tlogistics|order_status\t1\t
你会下棋吗\tout_of_scope\t0\t
谢谢\tthank\t0\t
"""


def test_eval_nlu_end_to_end(parse_server: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "set.tsv"
    data.write_text(EVAL_ROWS, encoding="utf-8")
    out = tmp_path / "out" / "fig.json"
    rc = eval_nlu.main([str(data), "--url", parse_server, "--json", str(out),
                        "--concurrency", "3"])
    assert rc == 0
    fig = json.loads(out.read_text(encoding="utf-8"))
    assert fig["n"] == 6
    assert fig["intent_accuracy"] == pytest.approx(4 / 6)  # oos and thank fell back
    assert fig["oos_recall"] == 1.0
    assert fig["anger"]["precision"] == 1.0 and fig["anger"]["recall"] == 1.0
    assert fig["order_id"]["precision"] == 1.0 and fig["order_id"]["recall"] == 1.0
    assert fig["per_intent"]["faq/refund_time"]["f1"] == 1.0
    printed = capsys.readouterr().out
    assert "macro-F1" in printed and "thank -> nlu_fallback" in printed


def test_eval_nlu_keeps_order_and_bounds_requests(parse_server: str) -> None:
    texts = [f"订单{20240101_00000 + i}" for i in range(40)]
    parses = eval_nlu.parse_all(texts, lambda t: eval_nlu.parse_text(parse_server, t), 4)
    assert [p["text"] for p in parses] == texts
    assert _ParseHandler.max_in_flight <= 4


def test_eval_nlu_refused_request_is_a_clear_error_and_token_is_sent(
        parse_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "set.tsv"
    data.write_text("需要令牌\tgreet\t0\t\n", encoding="utf-8")
    monkeypatch.delenv("RASA_TOKEN", raising=False)
    assert eval_nlu.main([str(data), "--url", parse_server]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "--token-env" in err
    monkeypatch.setenv("RASA_TOKEN", "s3cret-token")
    assert eval_nlu.main([str(data), "--url", parse_server]) == 0
    assert "s3cret-token" not in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_eval_nlu_clear_error_when_server_down(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "set.tsv"
    data.write_text(EVAL_ROWS, encoding="utf-8")
    out = tmp_path / "fig.json"
    url = f"http://127.0.0.1:{_free_port()}"
    assert eval_nlu.main([str(data), "--url", url, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not reachable" in err and "rasa run --enable-api" in err
    assert not out.exists()


def test_eval_nlu_bad_file_is_reported_before_any_request(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text("你好\tgreet\t0\t\n坏行\tgreet\n", encoding="utf-8")
    assert eval_nlu.main([str(data), "--url", f"http://127.0.0.1:{_free_port()}"]) == 2
    assert "bad.tsv:2" in capsys.readouterr().err


# --------------------------------------------------------------------------- nlu_compare.py


TOY_NLU = {
    "greet": ["你好", "在吗", "您好", "哈喽", "有人吗"],
    "refund": ["退款还没到", "我的退款呢", "钱什么时候退给我", "退款进度", "退款没收到"],
    "logistics": ["快递到哪了", "还没发货", "物流不动了", "包裹在哪", "怎么还没到货"],
    "faq/refund_time": ["退款一般几天到账", "退款要多久", "退款多久到", "退款几个工作日"],
    "faq/shipping_fee": ["包邮吗", "运费多少", "满多少包邮", "邮费怎么算"],
}


@pytest.mark.slow
def test_nlu_compare_trains_scores_and_sweeps(tmp_path: Path) -> None:
    """Tiny model, 2 epochs: checks the wiring and that the sweep re-creates the model's own
    fallback decision (same file for test and tune, config thresholds in the grid)."""
    lines = ['version: "3.1"', "nlu:"]
    for label, texts in TOY_NLU.items():
        lines.append(f"- intent: {label}\n  examples: |")
        lines += [f"    - {t}" for t in texts]
    lines.append("responses:")
    lines += [f"  utter_{k}:\n  - text: 答案" for k in TOY_NLU if k.startswith("faq/")]
    nlu = tmp_path / "nlu.yml"
    nlu.write_text("\n".join(lines) + "\n", encoding="utf-8")
    domain = tmp_path / "domain.yml"
    domain.write_text(yaml.safe_dump({"version": "3.1", "intents": ["greet", "refund",
                                                                    "logistics", "faq"]}))
    stock = yaml.safe_load((REPO / "bench/configs/stock.yml").read_text(encoding="utf-8"))
    project = nlu_compare.align_stock(stock, {"classifier_epochs": 2, "selector_epochs": 2,
                                              "threshold": 0.3, "ambiguity_threshold": 0.0})
    cfg = tmp_path / "config.yml"
    cfg.write_text(yaml.safe_dump(project, allow_unicode=True), encoding="utf-8")
    evalset = tmp_path / "eval.tsv"
    evalset.write_text("退款怎么还没到\trefund\t0\t\n快递到哪里了\tlogistics\t0\t\n"
                       "退款一般要几天\tfaq/refund_time\t0\t\n你好啊\tgreet\t0\t\n"
                       "今天天气如何\tout_of_scope\t0\t\n运费多少钱\tfaq/shipping_fee\t0\t\n",
                       encoding="utf-8")
    out = tmp_path / "nlu.json"
    rc = nlu_compare.main(["--config", str(cfg), "--nlu", str(nlu), "--domain", str(domain),
                           "--test", str(evalset), "--tune", str(evalset), "--out", str(out),
                           "--only", "project", "--seeds", "1",
                           "--seeds-out", str(tmp_path / "seeds.json")])
    assert rc == 0
    res = json.loads(out.read_text(encoding="utf-8"))
    model = res["models"]["project"]
    assert model["ok"] and model["model_bytes"] > 0 and model["train_seconds"] > 0
    assert model["test"]["n"] == 6
    grid = {(r["threshold"], r["ambiguity_threshold"]): r for r in res["tuning"]["grid"]}
    assert len(grid) == 121
    own = grid[(0.3, 0.0)]
    assert own["macro_f1"] == pytest.approx(model["test"]["macro_f1"])
    assert own["intent_accuracy"] == pytest.approx(model["test"]["intent_accuracy"])
    assert res["tuning"]["best"] in res["tuning"]["grid"]


def test_nlu_compare_reports_missing_inputs(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rc = nlu_compare.main(["--nlu", str(tmp_path / "nope"), "--out", str(tmp_path / "o.json")])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


# --------------------------------------------------------------------------- several seeds


def _report(acc: float, rejected: float, angry_p: float, has_emotion: bool = True) -> dict:
    return {"intent_accuracy": acc, "macro_f1": acc, "oos_recall": acc,
            "in_scope_rejected_rate": rejected, "has_emotion": has_emotion,
            "anger": {"precision": angry_p, "recall": angry_p, "false_alarm_rate": rejected},
            "human_request": {"recall": acc, "false_alarm_rate": rejected},
            "order_id": {"precision": 1.0, "recall": acc}}


def test_spread_mean_min_max() -> None:
    agg = spread([0.80, 0.86, 0.83])
    assert agg is not None
    assert agg["mean"] == pytest.approx(0.83)
    assert (agg["min"], agg["max"]) == (0.80, 0.86)
    assert agg["values"] == [0.80, 0.86, 0.83]
    assert spread([0.5, None]) is None
    assert spread([]) is None


@pytest.mark.parametrize(("project", "stock", "higher", "ahead"), [
    ([0.84, 0.85, 0.86], [0.80, 0.82, 0.83], True, True),     # project min 0.84 > stock max 0.83
    ([0.82, 0.85, 0.90], [0.80, 0.81, 0.83], True, False),    # means apart, ranges overlap
    ([0.83, 0.84, 0.85], [0.80, 0.81, 0.83], True, False),    # touching is not ahead
    ([0.02, 0.03, 0.04], [0.05, 0.06, 0.07], False, True),    # lower is better: max < min
    ([0.02, 0.03, 0.06], [0.05, 0.06, 0.07], False, False),
])
def test_ahead_beyond_spread(project: list[float], stock: list[float], higher: bool,
                             ahead: bool) -> None:
    assert ahead_beyond_spread(spread(project), spread(stock), higher) is ahead


def test_ahead_beyond_spread_without_a_figure_is_undecided() -> None:
    assert ahead_beyond_spread(spread([0.9, 0.9]), None) is None
    assert ahead_beyond_spread(None, spread([0.9, 0.9])) is None
    # one seed has no spread: no verdict even when the project is ahead
    assert ahead_beyond_spread(spread([0.9]), spread([0.5])) is None


def test_seed_summary_on_hand_made_reports() -> None:
    reports = {
        "stock": [_report(0.80, 0.07, 0.0, False), _report(0.81, 0.06, 0.0, False),
                  _report(0.79, 0.08, 0.0, False)],
        "project": [_report(0.84, 0.05, 0.9), _report(0.82, 0.06, 0.8),
                    _report(0.86, 0.04, 1.0)],
    }
    summary = seed_summary(reports)
    acc = summary["intent_accuracy"]
    assert acc["stock"]["mean"] == pytest.approx(0.80)
    assert (acc["stock"]["min"], acc["stock"]["max"]) == (0.79, 0.81)
    assert acc["project"]["mean"] == pytest.approx(0.84)
    assert (acc["project"]["min"], acc["project"]["max"]) == (0.82, 0.86)
    assert acc["project_ahead_beyond_spread"] is True            # 0.82 > 0.81
    rej = summary["in_scope_rejected"]
    assert rej["higher_is_better"] is False
    assert rej["project_ahead_beyond_spread"] is False           # project max 0.06 = stock min
    # no anger detector in the stock pipeline: no figure, no verdict, not a zero
    anger = summary["anger_precision"]
    assert anger["stock"] is None
    assert anger["project"]["mean"] == pytest.approx(0.9)
    assert anger["project_ahead_beyond_spread"] is None
    assert summary["human_false_alarms"]["stock"]["max"] == 0.08
    assert summary["order_id_precision"]["project_ahead_beyond_spread"] is False  # 1.0 vs 1.0
    table = seed_table_markdown({"a.tsv": summary, "b.tsv": summary})
    rows = table.splitlines()
    assert rows[0].count("project: a.tsv") == 1 and rows[0].count("project: b.tsv") == 1
    acc_row = next(r for r in rows if r.startswith("| intent accuracy |"))
    assert "80.0 [79.0–81.0] | 84.0 [82.0–86.0] | yes |" in acc_row
    anger_row = next(r for r in rows if r.startswith("| anger precision |"))
    assert "| — | 90.0 [80.0–100.0] | — |" in anger_row


def test_human_request_figures_from_the_intent() -> None:
    gold = [ex("human_agent"), ex("human_agent|complaint"), ex("faq/working_hours"),
            ex("greet")]
    preds = [Prediction("human_agent"), Prediction("complaint"), Prediction("human_agent"),
             Prediction("greet")]
    fig = score(gold, preds)["human_request"]
    assert fig["support"] == 2 and fig["recall"] == 0.5
    assert fig["false_alarms"] == 1 and fig["false_alarm_rate"] == 0.5


def test_anger_false_alarm_rate_counts_calm_rows() -> None:
    gold = [ex("complaint", 1), ex("greet"), ex("thank")]
    preds = [Prediction("complaint", True), Prediction("greet", True), Prediction("thank")]
    anger = score(gold, preds)["anger"]
    assert anger["false_alarms"] == 1 and anger["false_alarm_rate"] == 0.5


def test_every_seeded_component_gets_the_seed_and_nothing_else_changes() -> None:
    project = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    seeded = nlu_compare.with_seed(project, 7)
    for before, after in zip(project["pipeline"], seeded["pipeline"], strict=True):
        if before["name"] in ("DIETClassifier", "ResponseSelector"):
            assert after == dict(before, random_seed=7)
        else:
            assert after == before
    assert seeded["policies"] == project["policies"]
    stock = yaml.safe_load((REPO / "bench/configs/stock.yml").read_text(encoding="utf-8"))
    seeded_stock = nlu_compare.with_seed(stock, 3)
    assert sum(c.get("random_seed") == 3 for c in seeded_stock["pipeline"]) == 2
    assert all("random_seed" not in c for c in stock["pipeline"])  # the original is untouched
