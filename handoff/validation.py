"""Checks on what clients send, made before anything is stored.

Hostile input must get a clear 4xx, never a 500 from deep in the JSON parser or the database:
a lone surrogate cannot be encoded for storage, PostgreSQL refuses NUL in text, SQLite refuses
integers beyond 64 bits, and very deep JSON exhausts the parser's recursion.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from handoff.errors import ApiError

MAX_DEPTH = 16  # the API's bodies nest two levels; anything far deeper is an attack
DB_INT_MAX = 2**63 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
# Embeddings, overrides and isolates (and the marks) reorder what an agent reads: "‮4321" shows
# as "1234". A Chinese shop has no use for them in chat text, so they are removed on input.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def check_strings(value: Any) -> None:
    """Every string (keys too) must be storable: no lone surrogate, no NUL; nesting is bounded."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels. 请求结构过深。")
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise ApiError(400, "invalid_unicode", "Text contains an unpaired surrogate. 文本含无效字符。")
            if "\x00" in item:
                raise ApiError(400, "invalid_unicode", "Text contains a NUL character. 文本含无效字符。")
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def parse_object(raw: bytes | str, what: str = "Body") -> dict[str, Any]:
    """A JSON object whose strings are all storable, or an ``ApiError`` saying why not."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", f"{what} must be JSON. 请求须为 JSON。") from None
    except RecursionError:
        raise ApiError(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels. 请求结构过深。") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", f"{what} must be a JSON object. 请求须为 JSON 对象。")
    check_strings(data)
    return data


def check_query(value: str | None) -> str | None:
    """Query values take the same checks as body strings."""
    if value is not None:
        check_strings(value)
    return value


def db_int(value: Any, name: str, minimum: int = 0) -> int:
    """An integer the database can hold (64-bit signed), else 400."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ApiError(400, f"invalid_{name}", f"{name} must be an integer.") from None
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= DB_INT_MAX:
        raise ApiError(400, f"invalid_{name}", f"{name} must be an integer from {minimum} to {DB_INT_MAX}.")
    return value


def clean_text(text: str) -> str:
    """Bidi controls removed; storable."""
    check_strings(text)
    return _BIDI.sub("", text)


def is_blank(text: str) -> bool:
    """Whitespace and invisible format characters only (zero-width space, joiners, BOM, …)."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def parse_model(data: dict[str, Any], model: Any) -> Any:
    """A pydantic (v1) model of an already checked body, or 400 naming the first bad field."""
    from pydantic import ValidationError

    try:
        return model.parse_obj(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(400, f"invalid_{field}", f"{field}: {first['msg']}. 参数无效。") from None
