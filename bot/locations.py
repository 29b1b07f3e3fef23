"""Where a report is (位置): compound 小区, building 楼栋, unit 单元, room 房号.

A spaCy pipeline: `spacy.blank("zh")` with the jieba segmenter, an EntityRuler that finds the
compounds the directory knows (names and aliases), and the `community_address` component,
whose rules find buildings, units, rooms and compound names the directory does not know yet.
Values are normalised: 七号楼/7栋/7幢/7#楼/７号楼 → "7", B座 → "B", 2单元 → "2",
502室 → "502", 5-1-101 → 5/1/101. "11楼" is a floor and is not a building.
"""
import re
from dataclasses import dataclass

import jieba
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

FIELDS = ("compound", "building", "unit", "room")

# Full-width ASCII and the ideographic space, mapped one character to one, so offsets hold.
_WIDTH = str.maketrans({**{chr(0xFF01 + i): chr(0x21 + i) for i in range(94)}, "\u3000": " "})

_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "零〇一二三四五六七八九十百"
_NOT_ORDINAL = r"(?<![同每哪这那整各几多上下第\d两A-Za-z])"

_TRIPLE = re.compile(r"(?<![\d\-])(\d{1,3})\s*[-－—]\s*(\d{1,2})\s*[-－—]\s*(\d{3,4})(?![\d\-])")
_BUILDING = re.compile(
    rf"(?:第|(?<![同每哪这那整各几多\dA-Za-z]))"
    rf"(?:(?P<num>\d{{1,3}}|[{_CN}]{{1,4}})\s*(?:号\s*楼|号\s*栋|号\s*幢|号\s*座|栋|幢|座|#\s*楼?)"
    rf"|(?P<letter>[A-Za-z])\s*(?:栋|幢|座|#\s*楼?|号楼))"
)
_UNIT = re.compile(rf"{_NOT_ORDINAL}(?P<num>\d{{1,2}}|[{_CN}]{{1,3}})\s*单元")
_ROOM_MARKED = re.compile(r"(?<![\d\-.])(?P<num>\d{3,4})\s*(?:室|号房|房(?![子间东租价产屋卡]))")
_ROOM_AFTER_ADDRESS = re.compile(
    r"(?:单元|号楼|栋|幢|座|#楼?)\s*(?P<num>\d{3,4})(?![\d号栋幢座#层楼单元年月日点块元%米平])"
)

# Endings of compound names: strong ones are names on their own (翠湖苑, 东湖新村); weak ones
# (碧桂园, 幸福里) count only where an address or a word about the compound follows.
_STRONG = ["小区", "花园", "家园", "新村", "嘉园", "华庭", "华府", "山庄", "公寓", "小镇",
           "新城", "公馆", "花苑", "雅苑", "名苑", "名都", "大院", "宿舍", "苑"]
_WEAK = ["园", "城", "湾", "居", "府", "庭", "郡", "邸", "里", "村", "庄", "阁", "轩", "坊"]
_SUFFIX = re.compile("|".join(sorted(_STRONG + _WEAK, key=len, reverse=True)))
_NAME_RUN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9·]+")
_PREFIX = re.compile(r"^(?:我是|我住|我家住|我家在|家住|住在|我在|我们|咱们|在|住|位于|请问|麻烦|你好|您好|反映|投诉)+")
_AFTER_WEAK = re.compile(
    rf"^\s*(?:\d{{1,3}}|[{_CN}]{{1,4}}|[A-Za-z])\s*(?:号楼|号栋|号幢|号座|栋|幢|座|#|单元)"
    r"|^(?:小区|的|门口|大门|[东南西北]门|物业|业委会)"
)
_BAD_BASE = re.compile(r"[这那哪我你他她们个种些每各该本整全]|隔壁|对面|附近|旁边|周边|楼下|楼上|门口|"
                       r"(?:[老新大小旧好的楼区家屋室门院道库梯]|" + "|".join(_STRONG + _WEAK) + ")$")
_NOT_COMPOUNDS = {"幼儿园", "公园", "游乐园", "动物园", "菜园", "校园", "乐园", "庄园", "果园",
                  "城市", "县城", "省城", "古城", "商城", "农村", "山村", "乡村", "街坊", "胡同里"}


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


@dataclass(frozen=True)
class Found:
    field: str
    start: int
    end: int
    value: str


def _address_parts(text: str) -> list[Found]:
    found = []
    for m in _TRIPLE.finditer(text):
        found += [Found(field, m.start(i + 1), m.end(i + 1), str(int(m.group(i + 1))))
                  for i, field in enumerate(("building", "unit", "room"))]
    for field, pattern in (("building", _BUILDING), ("unit", _UNIT),
                           ("room", _ROOM_MARKED), ("room", _ROOM_AFTER_ADDRESS)):
        for m in pattern.finditer(text):
            group = "letter" if field == "building" and m.group("letter") else "num"
            value = normalized_number(m.group(group))
            if value and value != "0":
                found.append(Found(field, m.start(group), m.end(group), value))
    return found


def _compound_candidates(text: str) -> list[Found]:
    """Names that look like a compound's (…花园, …苑, 碧桂园5栋) though no list has them."""
    found = []
    for run in _NAME_RUN.finditer(text):
        name_run = run.group()
        for suffix in _SUFFIX.finditer(name_run):
            candidate = _PREFIX.sub("", name_run[:suffix.end()])
            start = run.start() + suffix.end() - len(candidate)
            base = candidate[: -len(suffix.group())]
            rest = name_run[suffix.end():] + text[run.end():run.end() + 4]
            strong = suffix.group() in _STRONG
            if len(base) < 2 or _BAD_BASE.search(base) or candidate in _NOT_COMPOUNDS:
                continue
            if not strong and not _AFTER_WEAK.search(rest):
                continue
            if suffix.group() != "小区" and rest.startswith("小区"):
                candidate += "小区"
            found.append(Found("compound", start, start + len(candidate), candidate))
            break
    return found


def _span(doc: Doc, item: Found, label: str) -> Span | None:
    span = doc.char_span(item.start, item.end, label=label, alignment_mode="expand")
    if span is not None:
        span._.location_value = item.value
    return span


@Language.component("community_address")
def community_address(doc: Doc) -> Doc:
    """Adds buildings, units, rooms and unlisted compounds to `doc.spans["location"]`."""
    text = width_normalized(doc.text)
    listed = [Found("compound", e.start_char, e.end_char, e.text)
              for e in doc.ents if e.label_ == "compound"]
    spans = [s for s in (_span(doc, f, f.field) for f in listed) if s is not None]
    unlisted = [c for c in _compound_candidates(text)
                if not any(c.start < f.end and f.start < c.end for f in listed)]
    for item in unlisted + _address_parts(text):
        span = _span(doc, item, item.field)
        if span is not None:
            spans.append(span)
    doc.spans["location"] = spans
    return doc


class LocationExtractor:
    """The spaCy pipeline for locations, built around the compound names the directory knows."""

    def __init__(self, compound_names: list[str] = ()):
        if not Span.has_extension("location_value"):
            Span.set_extension("location_value", default=None)
        self.compound_names = sorted({n.strip() for n in compound_names if n.strip()})
        for name in self.compound_names:
            jieba.add_word(name, freq=2000, tag="ns")
        self.nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        ruler = self.nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "TEXT"})
        ruler.add_patterns([{"label": "compound", "pattern": n} for n in self.compound_names])
        self.nlp.add_pipe("community_address")

    def extract(self, text: str) -> list[Found]:
        """Every location mention, in reading order, with offsets into `text`."""
        doc = self.nlp(text)
        found = [Found(s.label_, s.start_char, s.end_char, s._.location_value)
                 for s in doc.spans["location"]]
        return sorted(found, key=lambda f: (f.start, f.field))

    def fields(self, text: str) -> dict[str, str]:
        """The first value of each field that the message gives."""
        values: dict[str, str] = {}
        for item in self.extract(text):
            values.setdefault(item.field, item.value)
        return values
