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


# what every deliverable address names: a place word or a house number
_PLACE_RE = re.compile(
    r"省|市|区|县|镇|乡|村|街|路|大道|巷|弄|胡同|号|栋|幢|楼|单元|室|小区|花园|公寓|大厦|广场|苑|"
    r"[0-9０-９]"
)


def clean_address(raw: object) -> str | None:
    """A delivery address: 6–120 characters with Chinese in it and a place word or number,
    no markup ("哦 对的 没问题" typed where the address was asked is not one)."""
    text = _text(raw, 120)
    if text is None or _MARKUP_RE.search(text) or not 6 <= len(text) <= 120:
        return None
    return text if _CJK.search(text) and _PLACE_RE.search(text) else None


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


# -- what an exchange request asks for -------------------------------------------------------

# a wish follows its verb closely: "42码的挤脚，换43" asks for 43; "换货 上次买的M码有点小" says
# which size was bought, not which one is wanted
_WISH = re.compile(r"换|要|改成")
_WISH_SPAN = 8  # a size or colour right after the verb: "换成XL码的黑色"
_BARE_SPAN = 5  # "XL码" a little further on only just after it: "换货，XL码"
_LEAD = r"^(?:成|个|一个|货|为)?[,，、\s]*"
_SIZE_WORD = r"(?:[2-5]?X{1,3}L|XS|S|M|L)"
_NUMBER = r"([1-5][0-9](?:\.5)?)"
_LEAD_PATTERNS = (
    re.compile(rf"{_LEAD}({_SIZE_WORD})(?![A-Z])"),  # "换XL", "换成 xxl", "换个 s"
    # "换43", "换成39.5码", "换42号" (but not "换货，12月3号")
    re.compile(rf"{_LEAD}{_NUMBER}(?=\s*(?:码|号|的|$|[,，。!！?？\s]))"),
)
_BARE_PATTERNS = (
    re.compile(rf"(?<![A-Z])({_SIZE_WORD})\s*[码号]"),  # "换货，XL码"
    re.compile(rf"(?<![0-9.]){_NUMBER}\s*码"),  # "换货，42码" (号 alone may be a day: "12号前")
)
_RELATIVE_SIZE = re.compile(r"([大小])\s*(一|1|半|两|2)\s*个?\s*[码号]")
_COLOUR = re.compile(r"(黑|白|红|蓝|灰|粉|绿|黄|紫|棕|咖啡|卡其|米白|米|藏青|藏蓝|深蓝|浅蓝|深灰|浅灰|酒红|军绿|银|金|杏)色")
_NUMBER_WORDS = {"1": "一", "2": "两"}


def _size_in(wish: str) -> str | None:
    relative = _RELATIVE_SIZE.search(wish)
    if relative:
        return f"{relative.group(1)}{_NUMBER_WORDS.get(relative.group(2), relative.group(2))}码"
    for pattern, span in [(p, _WISH_SPAN) for p in _LEAD_PATTERNS] + [(p, _BARE_SPAN) for p in _BARE_PATTERNS]:
        found = pattern.search(wish[:span])
        if found:
            value = found.group(1)
            return f"{value}码" if re.fullmatch(r"[0-9.]+", value) else value
    return None


def exchange_details(raw: object) -> tuple[str | None, str | None]:
    """The size and the colour an exchange request asks for, when it names them right after
    its verb (换/要/改成): "尺码小了，想换大一码" → ("大一码", None); "换成XL码的黑色" →
    ("XL", "颜色：黑色"); "我要换货" → (None, None)."""
    text = _text(raw, 500)
    if text is None:
        return None, None
    text = text.upper()
    size: str | None = None
    colour: str | None = None
    for verb in _WISH.finditer(text):
        wish = text[verb.end():verb.end() + _WISH_SPAN]
        size = size or _size_in(wish)
        found = _COLOUR.search(wish)
        colour = colour or (found.group(0) if found else None)
    return size, (f"颜色：{colour}" if colour else None)
