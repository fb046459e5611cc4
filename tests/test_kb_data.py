"""The knowledge base's writes into the bot's Rasa data (handoff/kbdata.py): hostile answers
round-trip through the YAML files as Rasa reads and templates them, every other byte of the
files stays, an edited copy still passes ``rasa data validate``, and the gate's choice of
conversations (handoff/kbgate.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rasa.core.nlg.interpolator import interpolate_text
from rasa.shared.utils.io import read_yaml_file

from bench.dialogue import load_conversations
from handoff import kbdata
from handoff.kbgate import select

ROOT = Path(__file__).resolve().parent.parent

HOSTILE = [
    "运费: 8元 # 满99包邮",
    "- text: 注入\nresponses: {}\n  utter_greet:",
    "{{order_id}} {order_id} { 单个 } }} {",
    "{0[x]} {0} %s %(x)s $x ${x}",
    "'单' \"双\" \\n 不是换行 \\ 反斜杠\t制表",
    "---\n...\n%YAML 1.2\n!!python/object:os.system ls\n&a *a",
    "<script>alert(1)</script><b>粗</b>&amp;",
    "NEL\x85LS\u2028PS\u2029BOM\ufeff零宽\u200b",
    "emoji 🙂👍🏽 全角＃：｛｝ 𠀀 astral",
    "  前后空格  \n\n  多行\n",
    "长" * 2000,
]


@pytest.fixture()
def bot(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copy(ROOT / "config.yml", tmp_path / "config.yml")
    return tmp_path


def test_editable_entries() -> None:
    entries = kbdata.load_entries(ROOT)
    faq = {k for k, e in entries.items() if e.kind == "faq"}
    assert {"utter_faq/shipping_fee", "utter_faq/refund_time", "utter_faq/remote_delivery"} <= faq and len(faq) >= 17
    assert all(entries[k].path.startswith("data/nlu/") for k in faq)
    phrases = {k for k, e in entries.items() if e.kind == "phrase"}
    assert {"utter_greet", "utter_goodbye", "utter_handoff_angry"} <= phrases
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    for key in phrases:  # fixed texts only: no variable for an action to fill
        assert "{" not in domain[key][0]["text"] and len(domain[key]) == 1
    assert "utter_order_status_shipped" not in entries and "utter_verify_retry" not in entries


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_round_trips_as_rasa_reads_and_sends_it(bot: Path, text: str) -> None:
    before = {p: p.read_bytes() for p in [bot / "domain.yml", *sorted((bot / "data").rglob("*.yml"))]}
    previous = kbdata.write_texts(bot, {"utter_faq/coupon": text, "utter_goodbye": text})
    assert previous["utter_goodbye"] == "感谢您的咨询，祝您生活愉快，再见！"
    for rel, key in (("data/nlu/faq_more.yml", "utter_faq/coupon"), ("domain.yml", "utter_goodbye")):
        stored = read_yaml_file(bot / rel)["responses"][key][0]["text"]  # Rasa's own reader
        assert interpolate_text(stored, {"order_id": "2025061800001", "x": "X"}) == text  # what Rasa sends
        assert yaml.safe_load((bot / rel).read_text(encoding="utf-8"))["responses"][key][0]["text"] == stored
        assert kbdata.load_entries(bot)[key].text == text
    # exactly one line changed in each of the two files, nothing else anywhere
    for path, old in before.items():
        new = path.read_bytes()
        if path.name in ("domain.yml", "faq_more.yml"):
            diff = [(a, b) for a, b in zip(old.splitlines(), new.splitlines(), strict=True) if a != b]
            assert len(diff) == 1, path
        else:
            assert new == old, path
    kbdata.write_texts(bot, previous)
    assert all(path.read_bytes() == old for path, old in before.items())  # back byte for byte


def test_unknown_or_template_keys_are_refused(bot: Path) -> None:
    for key in ("utter_order_status_shipped", "utter_nothing_like_this", "../x"):
        with pytest.raises(kbdata.DataError):
            kbdata.write_texts(bot, {key: "x"})


@pytest.mark.slow
def test_an_edited_copy_still_validates_with_rasa(bot: Path) -> None:
    kbdata.write_texts(bot, {"utter_faq/shipping_fee": HOSTILE[1], "utter_greet": HOSTILE[2],
                             "utter_faq/warranty": HOSTILE[5]})
    result = subprocess.run([str(Path(sys.executable).parent / "rasa"), "data", "validate", "--domain", "domain.yml",
                             "--data", "data", "--config", "config.yml"], cwd=bot, capture_output=True, text=True,
                            timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_gate_plays_the_conversations_that_check_an_edited_fact_plus_a_smoke_set() -> None:
    conversations = load_conversations()
    # a file of known gaps only has nothing the gate may play
    files = {name.split(":", 1)[0] for name, c in conversations if not c.get("known_gap")}
    entries = kbdata.load_entries(ROOT)
    refund = {"utter_faq/refund_time": {"before": entries["utter_faq/refund_time"].text, "after": "很快到账"}}
    chosen = [name for name, _ in select(conversations, refund, "touched", 1)]
    assert len(chosen) == len(set(chosen))
    touched = [n for n, c in conversations if not c.get("known_gap")
               and any("72小时" in str(s) for t in c["turns"] for s in t.get("any") or [])]
    assert touched and set(touched) <= set(chosen)  # every conversation that checks "72小时"
    assert {n.split(":", 1)[0] for n in chosen} == files  # and at least one of every file
    assert not any(c.get("known_gap") for n, c in conversations if n in chosen)
    nothing = select(conversations, {}, "touched", 1)
    assert len(nothing) == len(files)
    full = select(conversations, refund, "full", 1)
    assert len(full) == sum(1 for _, c in conversations if not c.get("known_gap"))
