"""What the bot reads: one normalisation for every text it classifies or matches.

Residents write traditional characters (樓道燈壞了), Cantonese (冇人應門), full-width letters and
digits from phone keyboards (７号楼), rows of ！！！ and emoji, and @-mentions at the start of a
group message. The NLU pipeline (its first component, `nlu.normalizer`), the urgency rules, the
location extractor and the FAQ all read `normalize(text)`, so a word is the same word however it
was typed. Homophone typos of the community's words (燃汽 for 燃气, 电悌 for 电梯) are respelled
(`bot.respell`); for the others `pinyin` gives the models the sound of a text, in which they look
alike. A message typed in pinyin alone is written in characters first (`bot.typed_in_pinyin`).
"""
import re
import unicodedata
from functools import lru_cache

import opencc
from pypinyin import Style, lazy_pinyin

from bot.respell import HAN, respell
from bot.typed_in_pinyin import written_in_characters

# Cantonese words written in chat, to the Mandarin the models were taught with. Only words with
# one meaning in a resident's message: 係 (是) also names a family line, so it is left alone.
_CANTONESE = [("冇人", "没人"), ("冇", "没有"), ("唔係", "不是"), ("係咪", "是不是"), ("唔", "不"), ("咗", "了"), ("喺", "在"),
              ("啲", "些"), ("嘅", "的"), ("佢哋", "他们"), ("佢", "他"), ("嚟", "来"), ("睇", "看"),
              ("乜嘢", "什么"), ("點解", "为什么"), ("點算", "怎么办"), ("而家", "现在"), ("咁", "这么"),
              ("揾", "找"), ("搵", "找"), ("瞓", "睡"), ("攞", "拿"), ("咩", "什么"), ("嗰", "那"),
              ("呢度", "这里"), ("嗰度", "那里"), ("好耐", "很久"), ("成日", "总是"), ("俾", "给"),
              ("畀", "给"), ("嘢", "东西"), ("喇", "了"), ("啱啱", "刚刚"), ("琴日", "昨天"),
              # how Cantonese asks: 點樣 / 邊度 / 邊個 / 幾多 / 使唔使 (how, where, who, how much, need)
              ("點樣", "怎么"), ("邊度", "哪里"), ("邊個", "谁"), ("幾多", "多少"), ("使唔使", "要不要")]

# Emoji and pictographs (and their joiners and variation selectors): a run of them says no more
# than one, and to a classifier nothing.
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u20E3]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_REPEATED = re.compile(r"([!?。,.~…、\-=*#])\1+")
_SPACES = re.compile(r"[ \t\u3000\u2005\u00a0]+")
# A group chat's @-mention ends at a space (WeCom and WeChat put U+2005 there) or the message's end.
_MENTION = re.compile(r"@[^\s@\u2005]{1,20}(?:[\s\u2005]+|$)")
_WIDTH = str.maketrans({**{chr(0xFF01 + i): chr(0x21 + i) for i in range(94)}, "\u3000": " "})
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}


@lru_cache(maxsize=1)
def _to_simplified() -> tuple[opencc.OpenCC, ...]:
    # Hong Kong's forms, then Taiwan's: its phrases also tell 着火 (on fire) from 著名 (famous)
    return opencc.OpenCC("hk2s"), opencc.OpenCC("tw2s")


@lru_cache(maxsize=1)
def _cantonese() -> tuple[re.Pattern, dict[str, str]]:
    """The Cantonese words as they read once simplified (唔係 → 唔系): they are replaced after."""
    simplified = {}
    for word, mandarin in _CANTONESE:
        for converter in _to_simplified():
            word = converter.convert(word)
        simplified[word] = mandarin
    words = sorted(simplified, key=len, reverse=True)  # 唔系 before 唔
    return re.compile("|".join(re.escape(word) for word in words)), simplified


def mandarin(text: str) -> str:
    """Han text in simplified characters, its Cantonese words in Mandarin."""
    for converter in _to_simplified():
        text = converter.convert(text)
    pattern, words = _cantonese()
    return pattern.sub(lambda match: words[match.group()], text)


def normalize(text: str) -> str:
    """The text as the bot reads it: simplified characters, half-width letters, digits and
    punctuation, Cantonese words in Mandarin, the community's words as meant, emoji and repeated
    punctuation reduced."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _LONE_SURROGATE.sub("", text)  # half an emoji, cut by a client: nothing OpenCC can encode
    text = _EMOJI.sub(" ", text)
    text = written_in_characters(text)  # "dianti huai le": as a keyboard would have offered it
    if HAN.search(text):
        text = respell(mandarin(text))
    text = _REPEATED.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def for_classification(text: str) -> str:
    """`normalize(text)` without @-mentions, which name a person, never the problem."""
    return normalize(_MENTION.sub(" ", text or "")).strip() if "@" in (text or "") else normalize(text)


# Training reads each example's pinyin in both classifiers, and in two passes of the danger
# model: the cache must hold the whole training set, or every pass converts every text again.
@lru_cache(maxsize=1 << 16)
def pinyin(text: str) -> str:
    """The sound of the text, one toneless syllable a character (燃汽 and 燃气 both "ran qi"),
    other characters kept as they are."""
    return " ".join(syllable.strip() for syllable in lazy_pinyin(text, style=Style.NORMAL, errors="default")
                    if syllable.strip())


def width_normalized(text: str) -> str:
    """Full-width digits, letters and signs as ASCII (７号楼 → 7号楼), same length."""
    return text.translate(_WIDTH)


def chinese_number(text: str) -> int | None:
    """二十三 → 23, 十一 → 11, 一零一 → 101; None when it is not a number."""
    if not text or any(ch not in _CN_DIGIT and ch not in "十百" for ch in text):
        return None
    if "十" not in text and "百" not in text:
        return int("".join(str(_CN_DIGIT[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGIT:
            current = _CN_DIGIT[ch]
        else:
            total += (current or 1) * (10 if ch == "十" else 100)
            current = 0
    return total + current


def normalized_number(text: str) -> str | None:
    """The digits residents mean: "07" → "7", "七" → "7", "b" → "B"."""
    text = text.strip()
    if text.isdigit():
        return str(int(text))
    if len(text) == 1 and text.isascii() and text.isalpha():
        return text.upper()
    number = chinese_number(text)
    return None if number is None else str(number)
