"""The bot's editable answers in its Rasa data files, read and rewritten in place.

Editable are the FAQ answers (``utter_faq/<key>`` in ``data/nlu/*.yml``) and the fixed phrases
of ``domain.yml``: responses with one variation whose text has no ``{variable}`` (templates an
action fills from order data stay with developers, as a missing variable would break them).

A save rewrites only the one line holding the response's text, so comments, quoting and the
rest of each file stay byte for byte (a whole-file YAML dump would reflow every list), and the
files stay what ``rasa train`` and ``rasa data validate`` read. Texts are written as one
double-quoted scalar with every character a YAML reader could take for a line break escaped,
and braces doubled, because Rasa formats every response text with ``str.format``-like
templating (``{slot}`` is filled in, a lone ``{`` breaks the answer).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

FAQ_PREFIX = "utter_faq/"
KINDS = ("faq", "phrase")
_VARIABLE = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Entry:
    """One editable response as its data file has it."""

    key: str  # the response name
    kind: str  # faq | phrase
    path: str  # the file, relative to the bot's root
    text: str  # as the customer sees it
    example: str | None = None  # an FAQ's first training question, so a supervisor knows what it answers


def escape_braces(text: str) -> str:
    """What to store so that Rasa's response templating shows ``text`` verbatim."""
    return text.replace("{", "{{").replace("}", "}}")


def unescape_braces(stored: str) -> str:
    return stored.replace("{{", "{").replace("}}", "}")


def has_variables(stored: str) -> bool:
    """A template: a brace that is not one of a doubled pair."""
    return "{" in stored.replace("{{", "").replace("}}", "") or "}" in stored.replace("{{", "").replace("}}", "")


def yaml_scalar(text: str) -> str:
    """``text`` as one double-quoted YAML scalar on one line, the same to YAML 1.1 and 1.2
    readers: JSON's escapes, plus ``\\uXXXX`` for every control, format and separator character
    (NEL, LINE/PARAGRAPH SEPARATOR and the BOM are line breaks or noise to some readers)."""
    dumped = json.dumps(text, ensure_ascii=False)
    return "".join(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
                   and ch not in "\n\t" else ch for ch in dumped)


def _rt_yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    return yaml


def _files(root: Path) -> list[Path]:
    return [root / "domain.yml", *sorted((root / "data").rglob("*.yml"))]


def _first_examples(doc: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (doc or {}).get("nlu") or []:
        intent = item.get("intent") if hasattr(item, "get") else None
        if isinstance(intent, str) and intent.startswith("faq/") and isinstance(item.get("examples"), str):
            lines = [line.strip()[2:] for line in item["examples"].splitlines() if line.strip().startswith("- ")]
            chinese = [line for line in lines if re.search(r"[\u4e00-\u9fff]", line)]
            if chinese or lines:
                out.setdefault(f"utter_{intent}", (chinese or lines)[0])
    return out


def _editable(key: str, variations: Any, in_domain: bool) -> str | None:
    """The stored text of a response if it is editable here, else None."""
    if not isinstance(variations, list) or len(variations) != 1 or not hasattr(variations[0], "get"):
        return None
    text = variations[0].get("text")
    if not isinstance(text, str):
        return None
    if key.startswith(FAQ_PREFIX):
        return None if in_domain else text
    return text if in_domain and not has_variables(text) else None


def load_entries(root: Path) -> dict[str, Entry]:
    """Every editable response of the bot at ``root``, by name."""
    entries: dict[str, Entry] = {}
    examples: dict[str, str] = {}
    yaml = YAML(typ="safe", pure=True)
    for path in _files(root):
        if not path.is_file():
            continue
        doc = yaml.load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            continue
        for key, example in _first_examples(doc).items():
            examples.setdefault(key, example)
        in_domain = path.name == "domain.yml" and path.parent == root
        for key, variations in (doc.get("responses") or {}).items():
            stored = _editable(str(key), variations, in_domain)
            if stored is not None:
                kind = "faq" if str(key).startswith(FAQ_PREFIX) else "phrase"
                entries[str(key)] = Entry(str(key), kind, str(path.relative_to(root)), unescape_braces(stored))
    return {k: Entry(e.key, e.kind, e.path, e.text, examples.get(k)) for k, e in sorted(entries.items())}


class DataError(Exception):
    """A data file cannot be rewritten safely (its text is not on one line, or it does not read back)."""


def _locate(lines: list[str], doc: Any, key: str) -> tuple[int, int]:
    """(line, column) where the text scalar of response ``key`` starts."""
    node = doc["responses"][key][0]
    line, col = node.lc.value("text")
    import yaml as pyyaml

    try:
        same = pyyaml.safe_load("v: " + lines[line][col:]) == {"v": node["text"]}
    except pyyaml.YAMLError:
        same = False
    if not same:
        raise DataError(f"{key}: its text spans several lines; edit this file by hand once")
    return line, col


def write_texts(root: Path, texts: dict[str, str]) -> dict[str, str]:
    """Set the customer-visible text of each response in ``texts``; the texts they had before.

    Each file is rewritten atomically, then read back with PyYAML and ruamel (the reader Rasa
    uses): anything that does not come back exactly is put back and raised."""
    current = load_entries(root)
    unknown = set(texts) - set(current)
    if unknown:
        raise DataError(f"not editable: {sorted(unknown)}")
    by_file: dict[str, dict[str, str]] = {}
    for key, text in texts.items():
        by_file.setdefault(current[key].path, {})[key] = text
    previous = {key: current[key].text for key in texts}
    for rel, changes in by_file.items():
        path = root / rel
        original = path.read_text(encoding="utf-8")
        lines = original.splitlines(keepends=True)
        doc = _rt_yaml().load(original)
        for key, text in changes.items():
            line, col = _locate(lines, doc, key)
            ending = "\n" if lines[line].endswith("\n") else ""
            lines[line] = lines[line][:col] + yaml_scalar(escape_braces(text)) + ending
        _replace(path, "".join(lines))
        try:
            _check(path, changes)
        except Exception:
            _replace(path, original)
            raise
    return previous


def _check(path: Path, changes: dict[str, str]) -> None:
    import yaml as pyyaml

    raw = path.read_text(encoding="utf-8")
    for doc in (pyyaml.safe_load(raw), YAML(typ="safe", pure=True).load(raw)):
        for key, text in changes.items():
            if unescape_braces(doc["responses"][key][0]["text"]) != text:
                raise DataError(f"{key} does not read back as written")


def _replace(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(content)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class EntryCache:
    """``load_entries`` again only when a data file changed (reading them all takes a while)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._entries: dict[str, Entry] = {}

    def __call__(self) -> dict[str, Entry]:
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in _files(self.root) if p.is_file())
        if stamp != self._stamp:
            self._entries, self._stamp = load_entries(self.root), stamp
        return self._entries
