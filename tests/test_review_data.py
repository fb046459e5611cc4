"""The review page's training data (data/nlu/reviewed.yml) and the project's test sets stay
apart; what is written is masked and is data Rasa reads; the before/after report refuses data
that would blur the two, and reports figures from two real (small) trainings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.review_report import leaks, reviewed_texts
from handoff.teach import (
    MASKED_PHONE,
    PLACEHOLDER_ORDER,
    Knowledge,
    example_texts,
    mask,
    match_key,
    normalise,
    render_reviewed,
    texts_under_test,
    training_example,
)

ROOT = Path(__file__).resolve().parent.parent
REVIEWED = ROOT / "data" / "nlu" / "reviewed.yml"


def test_texts_cover_every_test_set() -> None:
    texts = texts_under_test(ROOT)
    tsv_lines = sum(1 for f in (ROOT / "tests" / "data").glob("*.tsv")
                    for line in f.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#"))
    assert len(texts) > tsv_lines > 1000  # the conversations' turns come on top
    assert "2025061800006 这个还在退货期内不" in texts


def test_reviewed_yml_shares_no_text_with_the_test_sets_either_way() -> None:
    """The file in the repository (once supervisors have labelled) has no tested line, and a
    file rendered from labels on tested lines (a customer may well type "你好") has none either."""
    tested = {match_key(t) for t in texts_under_test(ROOT)}
    reviewed = {match_key(t) for t in reviewed_texts(REVIEWED)} if REVIEWED.exists() else set()
    assert not reviewed & tested and not tested & reviewed
    # one text per match key: the suite says "确认" in many conversations, held back once
    sample = list({match_key(t): t for t in texts_under_test(ROOT)}.values())[::50]
    out = render_reviewed([{"label": "greet", "text": t} for t in sample], {}, Knowledge.load(ROOT))
    written = {match_key(t) for b in yaml.safe_load(out.text)["nlu"] or [] for t in example_texts(b["examples"])}
    assert len(out.held_out) == len(sample) and not written & tested


def test_rendering_holds_back_tested_lines_training_duplicates_and_conflicts() -> None:
    knowledge = Knowledge.load(ROOT)
    tested = texts_under_test(ROOT)[5]
    training = example_texts(yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text(
        encoding="utf-8"))["nlu"][0]["examples"])[0]
    labels = [{"label": "greet", "text": tested},
              {"label": "faq/coupon", "text": "噗噜券能叠加吗 😊"},  # new wording
              {"label": "faq/coupon", "text": training},
              {"label": "faq/digital_rmb", "text": "噗噜币能付款吗"},
              {"label": "greet", "text": "噗噜幣能付款嗎？"}]  # same wording, other label: first stays
    out = render_reviewed(labels, {"digital_rmb": "暂不支持。", "unused_key": "x"}, knowledge)
    assert out.held_out == [mask(tested)] and out.duplicates == 1 and out.conflicts == 1 and out.examples == 2
    doc = yaml.safe_load(out.text)
    assert {b["intent"] for b in doc["nlu"]} == {"faq/coupon", "faq/digital_rmb"}
    assert doc["responses"] == {"utter_faq/digital_rmb": [{"text": "暂不支持。"}]}  # only keys it uses
    for text in example_texts("\n".join(b["examples"] for b in doc["nlu"])):
        assert match_key(text) not in {match_key(t) for t in texts_under_test(ROOT)}


def test_masking_and_what_rasa_reads(tmp_path: Path) -> None:
    line = training_example("我手机13912345678，订单2025061800004 [坏](greet)\n卡号6222020200112233445\x07")
    assert "13912345678" not in line and MASKED_PHONE in line
    assert f"[{PLACEHOLDER_ORDER}](order_id)" in line
    assert "6222020200112233445" not in line and "\n" not in line and "\x07" not in line
    assert "[坏](greet)" not in line  # a customer's brackets are not an annotation
    assert normalise("快遞到哪了？？😊 ２０２５") == normalise("快递到哪了 2025") == "快递到哪了 0"
    knowledge = Knowledge.load(ROOT)
    out = render_reviewed([{"label": "order_status", "text": "我手机13912345678，订单2025061800004怎么还没到"},
                           {"label": "faq/new_one", "text": '答案里有"引号"和{slot}吗'}],
                          {"new_one": '他说："好的" {name}\n第二行'}, knowledge)
    path = tmp_path / "reviewed.yml"
    path.write_text(out.text, encoding="utf-8")
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = {m.get("text"): m for m in data.intent_examples}
    order = examples[f"我手机{MASKED_PHONE}，订单{PLACEHOLDER_ORDER}怎么还没到"]
    assert [(e["entity"], e["value"]) for e in order.get("entities")] == [("order_id", PLACEHOLDER_ORDER)]
    assert data.responses["utter_faq/new_one"] == [{"text": '他说："好的" ｛name｝ 第二行'}]


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.review_report", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _nlu_copy(tmp_path: Path, reviewed: str | None) -> Path:
    data = tmp_path / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", data)
    (data / "reviewed.yml").unlink(missing_ok=True)
    if reviewed is not None:
        (data / "reviewed.yml").write_text(reviewed, encoding="utf-8")
    return data


def test_the_report_refuses_without_labels_and_with_tested_lines(tmp_path: Path) -> None:
    result = _report("--data", str(_nlu_copy(tmp_path / "a", None)))
    assert result.returncode == 2 and "nothing has been labelled" in result.stdout
    tested = texts_under_test(ROOT)[0]
    leaking = f'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - {tested}\n'
    result = _report("--data", str(_nlu_copy(tmp_path / "b", leaking)))
    assert result.returncode == 2 and tested in result.stdout
    assert leaks([tested, "从没见过的一句话"], []) == [tested]


SMALL_CONFIG = """recipe: default.v1
language: zh
assistant_id: review-report-check
pipeline:
  - name: bot.nlu.tokenizer.ChineseTokenizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 2
  - name: LogisticRegressionClassifier
    random_state: 0
    max_iter: 300
policies: []
"""


@pytest.mark.slow
def test_the_report_trains_before_and_after_and_scores_both(tmp_path: Path) -> None:
    """Two real trainings (a small pipeline, so the test takes minutes, not the full model's
    time): the examples only reviewed.yml holds are learnt by the "after" model alone."""
    reviewed = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n' + "".join(
        f"    - 噗噜噗噜{w}\n" for w in ("你好", "在吗", "早上好", "哈喽", "嗨", "", "晚上好", "下午好"))
    data = _nlu_copy(tmp_path, reviewed)
    config = tmp_path / "small.yml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    test_file = tmp_path / "t.tsv"
    test_file.write_text("# made for this test\n噗噜噗噜呀\tgreet\t0\t\n噗噜噗噜噗噜啊\tgreet\t0\t\n"
                         "我的订单到哪了\torder_status|logistics\t0\t\n", encoding="utf-8")
    out = tmp_path / "out.json"
    result = _report("--config", str(config), "--data", str(data), "--test", str(test_file), "--json", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["reviewed_examples"] == 8
    [scores] = figures["files"].values()
    assert scores["after"]["n"] == scores["before"]["n"] == 3
    assert scores["after"]["intent_accuracy"] == 1.0
    assert scores["after"]["intent_accuracy"] >= scores["before"]["intent_accuracy"]
    assert "before" in result.stdout and "after" in result.stdout and "intent accuracy %" in result.stdout
