"""Shop words typed in pinyin, as characters: kept apart from the Rasa components so the
action server's keyword rules (the urgent tier) read pinyin the same way without loading Rasa."""

from __future__ import annotations

import re
from functools import lru_cache

# Shop words typed in pinyin ("tuikuan", "dingdan zhuangtai", "wu liu"): customers on a phone
# without a Chinese keyboard do. Multi-syllable words only, matched as whole Latin words with or
# without spaces between syllables; the characters are padded with spaces to keep the length.
PINYIN_WORDS: dict[str, str] = {
    "tui kuan": "退款", "tui huo": "退货", "tui qian": "退钱", "huan huo": "换货", "ding dan": "订单",
    "zhuang tai": "状态", "wu liu": "物流", "kuai di": "快递", "fa huo": "发货", "shou huo": "收货",
    "dao huo": "到货", "fa piao": "发票", "ke fu": "客服", "ren gong": "人工", "zhen ren": "真人",
    "zhang hao": "账号", "mi ma": "密码", "deng lu": "登录", "qu xiao": "取消", "di zhi": "地址",
    "you hui quan": "优惠券", "zhi fu": "支付", "fu kuan": "付款", "dao zhang": "到账",
    "ji qi ren": "机器人", "tou su": "投诉", "yun fei": "运费", "bao you": "包邮", "hui yuan": "会员",
    "ji fen": "积分", "bao xiu": "保修", "xie xie": "谢谢", "zai jian": "再见", "ni hao": "你好",
    "bei dao": "被盗", "zen me": "怎么", "wei shen me": "为什么", "shen me shi hou": "什么时候",
    "duo jiu": "多久", "cha xun": "查询", "dao na le": "到哪了", "jing li": "经理", "ni shi": "你是",
    "que ren": "确认", "que ding": "确定", "hao de": "好的", "shi de": "是的", "dui de": "对的",
    "ke yi": "可以", "bu yong": "不用", "bu yao": "不要", "suan le": "算了",
    "zhi fu bao": "支付宝", "wei xin": "微信", "hua bei": "花呗", "shou hou": "售后", "huan ma": "换码",
    "yu shou": "预售", "you hui": "优惠", "guo qi": "过期", "dao qi": "到期",
    "kai fa piao": "开发票", "kai piao": "开票", "bai bai": "拜拜", "shen me": "什么",
    "duo shao": "多少", "ming tian": "明天", "jin tian": "今天", "zen me ban": "怎么办",
}
# Single syllables that glue a pinyin sentence together ("na yushou de ne" = 那预售的呢). One
# syllable alone could be English or a name, so they are read only in a message whose shop words
# were pinyin and whose other Latin words are all such syllables.
PINYIN_SYLLABLES: dict[str, str] = {
    "na": "那", "de": "的", "ne": "呢", "ma": "吗", "le": "了", "hai": "还", "ye": "也", "wo": "我",
    "ni": "你", "zai": "在", "shi": "是", "bu": "不", "yao": "要", "neng": "能", "hui": "会",
    "dou": "都", "you": "有", "zhe": "这", "ge": "个", "dan": "单", "qian": "钱", "a": "啊", "ba": "吧",
    "kai": "开", "hao": "好", "qing": "请", "gai": "改", "cha": "查", "xiang": "想",
}
_LATIN_WORD_RE = re.compile(r"(?<![a-z])[a-z]+(?![a-z])")
_PINYIN_RE = re.compile(
    r"(?<![a-z])("
    + "|".join(k.replace(" ", " ?") for k in sorted(PINYIN_WORDS, key=len, reverse=True))
    + r")(?![a-z])"
)


def pinyin_to_hanzi(text: str) -> str:
    """Pinyin shop words in `text` as characters, padded with spaces to keep the length."""
    def word(m: re.Match[str]) -> str:
        hanzi = PINYIN_WORDS[" ".join(_syllables(m.group(0)))]
        return hanzi + " " * (len(m.group(0)) - len(hanzi))

    out = _PINYIN_RE.sub(word, text)
    if out == text:
        return out
    rest = _LATIN_WORD_RE.findall(out)
    if not rest or not all(w in PINYIN_SYLLABLES for w in rest):
        return out
    return _LATIN_WORD_RE.sub(lambda m: PINYIN_SYLLABLES[m.group(0)].ljust(len(m.group(0))), out)


_BETWEEN_HANZI = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def typed_in_pinyin(text: str) -> bool:
    """Whether `text` carries pinyin shop words."""
    return pinyin_to_hanzi(text.lower()) != text.lower()


def join_hanzi(text: str) -> str:
    """The spaces between characters dropped: a pinyin sentence, padded word by word, as one
    Chinese sentence again ("开发票  怎么 开" → "开发票怎么开")."""
    return _BETWEEN_HANZI.sub("", text)


@lru_cache(maxsize=4096)
def _syllables(spelled: str) -> tuple[str, ...]:
    """Split a matched word back into its syllables, whether or not it had spaces."""
    compact = spelled.replace(" ", "")
    for key in PINYIN_WORDS:
        if key.replace(" ", "") == compact:
            return tuple(key.split(" "))
    raise KeyError(spelled)
