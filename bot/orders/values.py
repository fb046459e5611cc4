"""The value checks for what a customer may write into an order: one definition used by the
chat forms (to ask again at once) and by the order service (which never trusts a caller).

Each ``clean_*`` returns the canonical value, or None when the value is not acceptable."""

from __future__ import annotations

import re
import unicodedata

_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}")
# 统一社会信用代码 is 18 characters; older taxpayer ids are 15 or 20
_TAX_ID_RE = re.compile(r"[0-9A-Z]{15}|[0-9A-Z]{18}|[0-9A-Z]{20}")
_NAME_RE = re.compile(r"[\u4e00-\u9fa5·•A-Za-z. ]{2,20}")
_MARKUP_RE = re.compile(r"[<>{}\[\]$`\\]|--|;")
_CJK = re.compile(r"[\u4e00-\u9fa5]")
PERSONAL_TITLES = frozenset({"个人", "个人发票", "本人", "personal"})


def _text(raw: object, max_len: int) -> str | None:
    """NFKC (full-width digits and letters become ASCII), whitespace folded; None if unusable."""
    if not isinstance(raw, str) or len(raw) > max_len * 4:
        return None
    text = unicodedata.normalize("NFKC", raw)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in text):
        return None
    text = re.sub(r"\s+", " ", text).strip()
    return text or None


def clean_mobile(raw: object) -> str | None:
    """A mainland mobile number as 11 digits (+86 / 0086 / spaces / dashes tolerated)."""
    text = _text(raw, 32)
    if text is None:
        return None
    digits = re.sub(r"[\s\-()]", "", text)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits if _MOBILE_RE.fullmatch(digits) else None


def clean_address(raw: object) -> str | None:
    """A delivery address: 6–120 characters with Chinese in it, no markup."""
    text = _text(raw, 120)
    if text is None or _MARKUP_RE.search(text) or not 6 <= len(text) <= 120:
        return None
    return text if _CJK.search(text) else None


def clean_receiver_name(raw: object) -> str | None:
    """A receiver's name: 2–20 Chinese or Latin letters (· allowed), no digits."""
    text = _text(raw, 20)
    return text if text is not None and _NAME_RE.fullmatch(text) else None


def is_personal_title(title: object) -> bool:
    """A personal invoice (个人) needs no tax id."""
    return isinstance(title, str) and title.strip() in PERSONAL_TITLES


def clean_invoice_title(raw: object) -> str | None:
    """Invoice title: "个人" or a company name of 2–60 characters, no markup."""
    text = _text(raw, 60)
    if text is None or _MARKUP_RE.search(text) or not 2 <= len(text) <= 60:
        return None
    return "个人" if is_personal_title(text) else text


def clean_tax_id(raw: object) -> str | None:
    """Taxpayer id: 15, 18 or 20 digits and capital letters (spaces dropped)."""
    text = _text(raw, 32)
    if text is None:
        return None
    value = re.sub(r"\s+", "", text).upper()
    return value if _TAX_ID_RE.fullmatch(value) else None


def clean_email(raw: object) -> str | None:
    """An e-mail address for the electronic invoice."""
    text = _text(raw, 254)
    return text if text is not None and _EMAIL_RE.fullmatch(text) else None


ORDER_FIELDS = {"address": clean_address, "phone": clean_mobile, "receiver_name": clean_receiver_name}


def clean_order_field(field: str, raw: object) -> str | None:
    """The new value of a changeable order field in canonical form, or None."""
    check = ORDER_FIELDS.get(field)
    return check(raw) if check is not None else None
