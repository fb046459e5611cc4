"""What the hub knows of the bot's training data, and how reviewed labels become training data.

Pure functions and file reads only (no Rasa import: the hub must stay light). The bot's data is
read from ``HUB_BOT_DIR`` (the project folder: ``domain.yml``, ``data/nlu/``, ``tests/data/``):

* the intents and FAQ keys a supervisor may label with, and the FAQ answers agent assist offers;
* the texts of the training and test sets, so a reviewed example never duplicates a training
  example nor leaks a tested one into training (``texts_under_test``: the review data and the test sets
  stay apart);
* ``data/nlu/reviewed.yml``, rendered from every label in the hub's database: phone numbers are
  masked, order numbers replaced by one placeholder (annotated as the ``order_id`` entity, as the
  project's own examples are), other long digit runs zeroed.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REVIEWED_FILE = "reviewed.yml"
RETRIEVAL_INTENT = "faq"
NOT_LABELS = frozenset({"nlu_fallback", RETRIEVAL_INTENT})  # "faq" is labelled by its keys
# The bot's words when it did not understand: its reply alone tells the hub, at no cost.
FAILURE_REPLIES = {"utter_ask_rephrase": "fallback", "utter_offer_human": "fallback", "utter_default": "fallback",
                   "utter_out_of_scope": "out_of_scope"}
FAQ_KEY = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
PLACEHOLDER_ORDER = "2025010100001"
MASKED_PHONE = "138****0000"

# Chinese names of the contract's intents and FAQ keys, for the console's lists.
TOPIC_NAMES = {
    "greet": "问候", "goodbye": "再见", "thank": "感谢", "affirm": "肯定", "deny": "否定",
    "bot_challenge": "问是不是机器人", "human_agent": "转人工", "order_status": "订单状态",
    "logistics": "物流", "cancel_order": "取消订单", "modify_order": "修改订单", "refund": "退款",
    "return_exchange": "退换货", "complaint": "投诉", "invoice": "发票", "payment_issue": "支付问题",
    "account_issue": "账户问题", "promotion": "优惠活动", "product_inquiry": "商品咨询",
    "out_of_scope": "无关话题",
    "faq/shipping_fee": "运费", "faq/delivery_time": "发货与送达时间", "faq/return_policy": "退货政策",
    "faq/refund_time": "退款到账时间", "faq/payment_methods": "支付方式", "faq/membership": "会员积分",
    "faq/working_hours": "客服时间", "faq/warranty": "保修", "faq/return_shipping": "退货运费",
    "faq/special_invoice": "专用发票", "faq/invoice_reissue": "发票重开", "faq/coupon": "优惠券",
    "faq/price_protection": "价保", "faq/missing_item": "少件错件破损", "faq/change_size": "换尺码",
    "faq/contact_merchant": "联系商家", "faq/remote_delivery": "偏远地区配送",
}

_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ORDER = re.compile(r"(?<!\d)\d{13}(?!\d)")
_LONG_DIGITS = re.compile(r"\d{7,}")
_SPACES = re.compile(r"\s+")


# -- normalising --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0xFE00 <= cp <= 0xFE0F
            or cp in (0x200D, 0x20E3))


def normalise(text: str) -> str:
    """The wording a group is formed on: width folded, Traditional → Simplified, emoji and
    punctuation dropped, Latin lower-cased, every digit run one ``0`` (order numbers and phone
    numbers must not split a group)."""
    text = unicodedata.normalize("NFKC", text)
    text = _t2s().convert(text)
    out = []
    for ch in text:
        if _is_emoji(ch):
            continue
        cat = unicodedata.category(ch)
        if cat[0] in "PSCZ":
            out.append(" ")
        else:
            out.append(ch.lower())
    folded = re.sub(r"\d+", "0", "".join(out))
    return _SPACES.sub(" ", folded).strip()


def match_key(text: str) -> str:
    """For "is this the same example": ``normalise`` without spaces."""
    return normalise(text).replace(" ", "")


# -- masking and the YAML file ------------------------------------------------------------------


def _one_line(text: str) -> str:
    """No control characters, no line breaks, no Rasa entity brackets (a customer's ``[x](y)``
    would be read as an annotation)."""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    text = text.replace("[", "【").replace("]", "】")
    return _SPACES.sub(" ", text).strip()


def mask(text: str) -> str:
    """Plain text with personal numbers masked (what a supervisor is shown will be written)."""
    text = _PHONE.sub(MASKED_PHONE, text)
    text = _ORDER.sub("\x00", text)  # NUL never reaches here (refused on input)
    text = _LONG_DIGITS.sub(lambda m: "0" * len(m.group()), text)
    return text.replace("\x00", PLACEHOLDER_ORDER)


def training_example(text: str) -> str:
    """One example line: masked, on one line, the order number annotated as ``order_id``."""
    masked = mask(_one_line(text))
    return masked.replace(PLACEHOLDER_ORDER, f"[{PLACEHOLDER_ORDER}](order_id)")


def _safe_answer(text: str) -> str:
    """A response text: one paragraph, no ``{slot}`` templates."""
    return _one_line(text).replace("{", "｛").replace("}", "｝")


@dataclass
class Rendered:
    """``reviewed.yml`` and what was left out of it, and why."""

    text: str
    examples: int = 0
    held_out: list[str] = field(default_factory=list)  # texts of the test sets: never trained on
    duplicates: int = 0  # already training examples (of any intent)
    conflicts: int = 0  # the same wording labelled twice differently: the first label stays


def render_reviewed(labels: Iterable[dict[str, Any]], answers: dict[str, str], knowledge: Knowledge) -> Rendered:
    """The whole file from every label, oldest first; stable for the same labels."""
    by_label: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    out = Rendered("")
    for row in labels:
        label, example = str(row["label"]), training_example(str(row["text"]))
        key = match_key(example.replace(f"[{PLACEHOLDER_ORDER}](order_id)", PLACEHOLDER_ORDER))
        if not key:
            continue
        if key in knowledge.held_out_keys:
            out.held_out.append(mask(_one_line(str(row["text"]))))
            continue
        if key in knowledge.training_keys:
            out.duplicates += 1
            continue
        if key in seen:
            out.conflicts += seen[key] != label
            continue
        seen[key] = label
        by_label.setdefault(label, []).append(example)
    lines = ['version: "3.1"', "",
             "# Written by the hub's review page (学习) from supervisors' labels; do not edit by hand,",
             "# the next label rewrites it. Phone numbers are masked and order numbers replaced by a",
             "# placeholder. Texts the project tests on (tests/data, tests/conversations) are never written here.", ""]
    new_keys = sorted(k for k in answers if f"{RETRIEVAL_INTENT}/{k}" in by_label
                      and f"{RETRIEVAL_INTENT}/{k}" not in knowledge.file_faq_answers)
    if by_label:
        lines.append("nlu:")
        for label in sorted(by_label):
            lines.append(f"- intent: {label}")
            lines.append("  examples: |")
            lines.extend(f"    - {ex}" for ex in by_label[label])
            out.examples += len(by_label[label])
    else:
        lines.append("nlu: []")
    if new_keys:
        lines += ["", "responses:"]
        for key in new_keys:
            lines.append(f"  utter_{RETRIEVAL_INTENT}/{key}:")
            lines.append(f"  - text: {json.dumps(_safe_answer(answers[key]), ensure_ascii=False)}")
    out.text = "\n".join(lines) + "\n"
    return out


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on a folder (flock on the directory itself: no lock file among the
    training data), so hub processes on one machine write the file one after the other."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace the file whole: a reader (``rasa train``) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".reviewed-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- the bot's data -------------------------------------------------------------------------------


def texts_under_test(bot_dir: Path) -> list[str]:
    """Every customer text the project tests on: the held-out NLU sets (``tests/data/*.tsv``)
    and the turns of the whole-conversation suite (``tests/conversations/*.yml``)."""
    texts = []
    for path in sorted((bot_dir / "tests" / "data").glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                texts.append(line.split("\t", 1)[0])
    for path in sorted((bot_dir / "tests" / "conversations").glob("*.yml")):
        try:
            cases = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except (OSError, yaml.YAMLError):
            continue
        for case in cases if isinstance(cases, list) else []:
            for turn in (case.get("turns") or []) if isinstance(case, dict) else []:
                if isinstance(turn, dict) and isinstance(turn.get("say"), str):
                    texts.append(turn["say"])
    return texts


_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def example_texts(examples: str) -> list[str]:
    """The plain texts of a Rasa ``examples: |`` block (annotations resolved to their text)."""
    out = []
    for line in examples.splitlines():
        line = line.strip()
        if line.startswith("- "):
            out.append(_ANNOTATION.sub(r"\1", line[2:].strip()))
    return out


@dataclass
class Knowledge:
    """A snapshot of the bot's data; ``Knowledge.load`` re-reads it when a file changed."""

    intents: list[str]
    faq_answers: dict[str, str]  # "faq/key" -> answer, data/nlu (reviewed.yml included)
    file_faq_answers: dict[str, str]  # the same without reviewed.yml: keys that exist without the review
    training_keys: frozenset[str]
    held_out_keys: frozenset[str]
    failure_replies: dict[str, str] = field(default_factory=dict)  # reply text -> review kind
    stamp: tuple[Any, ...] = ()

    @property
    def labels(self) -> list[str]:
        return [i for i in self.intents if i not in NOT_LABELS] + sorted(self.faq_answers)

    def name(self, label: str) -> str:
        return TOPIC_NAMES.get(label, label)

    @staticmethod
    def files(bot_dir: Path) -> list[Path]:
        return ([bot_dir / "domain.yml"] + sorted((bot_dir / "data" / "nlu").glob("*.yml"))
                + sorted((bot_dir / "tests" / "data").glob("*.tsv"))
                + sorted((bot_dir / "tests" / "conversations").glob("*.yml")))

    @classmethod
    def stamp_of(cls, bot_dir: Path) -> tuple[Any, ...]:
        stamp = []
        for path in cls.files(bot_dir):
            try:
                st = path.stat()
                stamp.append((str(path), st.st_mtime_ns, st.st_size))
            except OSError:
                continue
        return tuple(stamp)

    @classmethod
    def load(cls, bot_dir: Path) -> Knowledge:
        stamp = cls.stamp_of(bot_dir)
        domain_path = bot_dir / "domain.yml"
        domain = yaml.safe_load(domain_path.read_text(encoding="utf-8")) if domain_path.exists() else {}
        intents = [i if isinstance(i, str) else next(iter(i)) for i in (domain or {}).get("intents") or []]
        responses = (domain or {}).get("responses") or {}
        failures = {str(v.get("text")): kind for name, kind in FAILURE_REPLIES.items()
                    for v in responses.get(name) or [] if isinstance(v, dict) and v.get("text")}
        answers: dict[str, str] = {}
        file_answers: dict[str, str] = {}
        training: set[str] = set()
        for path in sorted((bot_dir / "data" / "nlu").glob("*.yml")):
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError):
                continue
            reviewed = path.name == REVIEWED_FILE
            for block in doc.get("nlu") or []:
                if not reviewed and isinstance(block, dict) and isinstance(block.get("examples"), str):
                    training.update(match_key(t) for t in example_texts(block["examples"]))
            for name, variants in (doc.get("responses") or {}).items():
                if str(name).startswith(f"utter_{RETRIEVAL_INTENT}/") and variants:
                    text = str((variants[0] or {}).get("text") or "")
                    key = str(name)[len("utter_"):]
                    answers.setdefault(key, text)
                    if not reviewed:
                        file_answers.setdefault(key, text)
        held = texts_under_test(bot_dir)
        return cls(intents, answers, file_answers, frozenset(training),
                   frozenset(match_key(t) for t in held), failures, stamp)
