"""Where a report is (位置): compound 小区, building 楼栋, unit 单元, room 房号.

A spaCy pipeline: `spacy.blank("zh")` with the jieba segmenter, an EntityRuler that finds the
compounds the directory knows (names and aliases), and the `community_address` component,
whose rules find buildings, units, rooms and compound names the directory does not know yet.
Values are normalised: 七号楼/7栋/7幢/7#楼/７号楼 → "7", B座 → "B", 2单元 → "2",
502室 → "502", 5-1-101 → 5/1/101, 7-578 → 7/578, 173号527 → 173/527. "11楼" is a floor and
is not a building; 12-25, 8-10点, 3-5天, 100-200元 and phone numbers are not addresses.

`DirectoryLocations` keeps the compound names in step with the org directory while the bot runs.
"""
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jieba
import jieba.posseg
import spacy
from spacy.language import Language

from bot.normalize import normalized_number, width_normalized
from bot.place_names import PLACE_FIELDS as FIELDS
from spacy.tokens import Doc, Span

log = logging.getLogger(__name__)

# Full-width ASCII and the ideographic space, mapped one character to one, so offsets hold.

_CN = "零〇一二三四五六七八九十百"
_NOT_ORDINAL = r"(?<![同每哪这那整各几多上下第\d两A-Za-z])"

# What a number counts when it is not a room: money, area, time, people, things (100-200元, 3-5天);
# right after the number, since words after a space start the next phrase (2-301 天天漏水).
_MEASURE = (r"(?:[元块万千百米平度天年月日点分秒岁人户个次辆台张条只斤克吨名位份件本箱袋瓶桶包%‰]|"
            r"号(?![房室])|小时|分钟|公斤|平米|以上|以下|左右)")
# Numbers joined by dashes, the building first and the room last: 5-1-101 (楼-单元-室), 7-578 and
# 98-1034 (楼-室). A middle number too long for a unit (178-1217-802) is read the same way: an
# address runs from large to small, so the first number is still the building and the last the
# room; the middle names a level between them that a ticket has no field for.
_DASHED = re.compile(
    r"(?<![\dA-Za-z\-.:/~第])([1-9]\d{0,2}|[A-Za-z])\s*[-—–]\s*(?:(\d{1,4})\s*[-—–]\s*)?(\d{3,4})"
    rf"(?![\dA-Za-z\-.:/~])(?!{_MEASURE})")
# 173号527: a number with 号 is a building (in a street address, 号 numbers the building) when a
# room follows it; 12月5号 is a date.
_NUMBER_THEN_ROOM = re.compile(
    rf"(?<![\dA-Za-z月第])(?P<building>[1-9]\d{{0,2}})\s*号\s*(?P<room>[1-9]\d{{2,3}})(?![\d\-.:])(?!{_MEASURE})")
# Dashed numbers that are a phone number: 138-1234-5678, 400-820-8820, or said to be one.
_PHONE = re.compile(r"1[3-9]\d{9}|[48]00\d{7}")
_PHONE_OR_MONEY_BEFORE = re.compile(
    r"(?:电话|手机|热线|号码|拨打?|致电|联系|tel|[￥¥$]|价格?|费用?|钱|租金?|工资|花了?|交了?|收了?|付了?|"
    r"涨了?|大概|大约|约|差不多|每月|每年|一共|共)\s*(?:是|为|[:：])?\s*$", re.IGNORECASE)
_BUILDING = re.compile(
    rf"(?:第|(?<![同每哪这那整各几多\dA-Za-z]))"
    rf"(?:(?P<num>\d{{1,3}}|[{_CN}]{{1,4}})\s*(?:号\s*楼|号\s*栋|号\s*幢|号\s*座|栋|幢|座|#\s*楼?)"
    rf"|(?P<letter>[A-Za-z])\s*(?:栋|幢|座|#\s*楼?|号楼))"
)
_UNIT = re.compile(rf"{_NOT_ORDINAL}(?P<num>\d{{1,2}}|[{_CN}]{{1,3}})\s*单元")
_ROOM_MARKED = re.compile(r"(?<![\d\-.])(?P<num>\d{3,4})\s*(?:室|号房|房(?![子间东租价产屋卡]))")
# (5号楼302楼上漏水: the flat above 302, whose resident writes; a number before 楼 alone is no room)
_ROOM_AFTER_ADDRESS = re.compile(
    r"(?:单元|号楼|栋|幢|座|#楼?)\s*(?P<num>\d{3,4})(?![\d号栋幢座#层单元年月日点块元%米平])(?!楼(?![上下]))"
)

# Endings of compound names: strong ones are names on their own (翠湖苑, 东湖新村); weak ones
# (碧桂园, 幸福里) count only where an address or a word about the compound follows.
_STRONG = ["小区", "花园", "家园", "新村", "嘉园", "华庭", "华府", "山庄", "公寓", "小镇",
           "新城", "公馆", "花苑", "雅苑", "名苑", "名都", "大院", "宿舍", "苑"]
_WEAK = ["园", "城", "湾", "居", "府", "庭", "郡", "邸", "里", "村", "庄", "阁", "轩", "坊"]
_SUFFIX = re.compile("|".join(sorted(_STRONG + _WEAK, key=len, reverse=True)))
_NAME_RUN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9·]+")
# What a message says before a name of when it happened (今天幸福小区停水了; a greeting with a
# time in it before the time: "早上好幸福小区" is not 好幸福小区), after a cut too (听说前几天南湖小区)
_WHEN = "|".join([
    # a week's day whole (下周三下午, 下周一起; 本周 and 这周 hold a word no name holds), and a clock
    # time (上午9点小区消防演练)
    "[上下]周[一二三四五六日天末]?", r"\d{1,2}点(?:\d{1,2}分?|半)?", "[一二两三四五六七八九十]{1,3}点半?",
    *sorted((
        "早上好 上午好 中午好 下午好 晚上好 早安 今天 昨天 前天 今早 今晚 昨晚 昨夜 刚才 刚刚 最近 早上 晚上 "
        "上午 下午 中午 半夜 凌晨 现在 目前 平时 平常 突然 一直 经常 老是 总是 已经 马上 后来 周末 今年 去年 前几天 "
        # what is to come, and a few days either way (物业说明天小区停水, 过几天幸福小区要停水)
        "月底 月初 过几天 过两天 这几天 这两天 前两天 好几天 几天前 最近几天 一会儿 一会 等会儿 等会 待会儿 待会 晚点 "
        # what someone says before telling (我说一下小区的问题)
        "一下").split(), key=len, reverse=True)])
# after a cut only, what is still to come (物业说明天小区停水): at a message's start 明天 may begin a name (明天花园3栋)
_WHEN_PREFIX = re.compile(rf"^(?:明天|后天|明早|明晚|{_WHEN})+")
# What a message starts with before a name: who, where, a greeting, or when
_PREFIX = re.compile(rf"^(?:我是|我住|我家住|我家在|家住|住在|我在|我们|咱们|在|住|位于|请问|麻烦|你好|您好|反映|投诉|{_WHEN})+")
# Words about a compound that follow its name (金御城门口, 幸福里物业)
_OF_THE_COMPOUND = "门口|大门|[东南西北]门|物业|业委会"
# What says a name is a compound's whatever its words: a building after it (春天小区3栋, 中心花园5栋)
_A_BUILDING_AFTER = re.compile(rf"^\s*(?:\d{{1,3}}|[{_CN}]{{1,4}}|[A-Za-z])\s*(?:号楼|号栋|号幢|号座|栋|幢|座|#|单元)")
# What else after a weak ending (碧桂园, 幸福里) says it ends a compound's name
_ABOUT_THE_COMPOUND_AFTER = re.compile(rf"^(?:小区|的|{_OF_THE_COMPOUND})")
# What says the words after it are a name: living there, being called so (我住青年小区, 叫做未来小区)
_NAMED_BEFORE = re.compile(r"(?:住|住在|住进|搬到|搬进|叫|叫做|名叫|位于)$")
# After "…里的", what belongs to a compound: "长安里的物业" names one, "锅里的" does not
_OF_A_COMPOUND = re.compile(rf"的(?:{_OF_THE_COMPOUND}|业主|住户|居民|保安|网格员|\d|[一二三四五六七八九十]+[号栋幢])")
# What a name never holds: pronouns, question words, measure words and counts, particles; eleven
# characters or more (a sentence); an ending of its own, a plain word for a place or a position
# alone (住在外面小区的人); a place inside a compound or a community (小区中心花园, 社区花园)
_BAD_BASE = re.compile(r"[这那哪我你他她们咱俺个种些每各该本整全的了]|几[个位家栋座处年]|什么|啥|好多|很多|许多|不少|所有|"
                       r"自己|别人|.{11}|隔壁|对面|附近|旁边|周边|楼下|楼上|门口|^小区|^社区|"
                       r"^(?:周围|外面|外边|里面|里边|[东南西北前后上下左右][边面])$|"
                       r"(?:[老新大小旧好的楼区家屋室门院道库梯]|" + "|".join(_STRONG + _WEAK) + ")$")
# Words a compound's name never holds as a word of its own: what comes before them is someone
# doing something somewhere (电动车在小区充电, 外卖小哥骑车进小区) or saying something
# (物业说小区明天停水), not the start of a name. As jieba's words, so that names holding the
# character (向阳小区, 进步新村) keep it; a cut that would leave one character before the ending
# is no cut (同德里, 为群小区, 给力花园: jieba splits a name it does not know into such words).
_BEFORE_A_PLACE = {"在", "到", "进", "来", "去", "回", "从", "往", "离", "于", "路过", "经过", "靠近", "来到",
                   "回到", "走到", "搬到", "搬进", "搬来", "住进", "停", "停在", "开进", "开到", "放在", "放到", "送到",
                   "进不去", "进不来", "出不去", "出不来",
                   "困于", "困在", "关在", "锁在", "住在", "位于",
                   "被", "把", "给", "对", "为", "让", "和", "跟", "与", "同", "是", "叫", "叫做", "名叫",
                   "说", "听说", "据说"}
_NOT_COMPOUNDS = {"幼儿园", "公园", "游乐园", "动物园", "菜园", "校园", "乐园", "庄园", "果园",
                  "城市", "县城", "省城", "古城", "商城", "农村", "山村", "乡村", "街坊", "胡同里"}
# Gardens inside a compound or a street; a compound named so is one when the directory lists it
# (matched before these are read), or when 小区 or a building follows (中心花园小区, 空中花园3栋)
_GARDENS_INSIDE = {"中心花园", "屋顶花园", "楼顶花园", "入户花园", "空中花园", "街心花园", "口袋花园"}


@dataclass(frozen=True)
class Found:
    field: str
    start: int
    end: int
    value: str


def _unmarked_parts(text: str) -> list[Found]:
    """Buildings, units and rooms written without 栋/单元/室: 5-1-101, 7-578, 173号527."""
    found = []
    for m in _DASHED.finditer(text):
        if _PHONE.fullmatch(re.sub(r"\D", "", m.group())) or _PHONE_OR_MONEY_BEFORE.search(text[:m.start()][-8:]):
            continue
        groups = {"building": 1, "room": 3}
        if m.group(2) and len(m.group(2)) <= 2:  # a unit has one or two digits
            groups["unit"] = 2
        for field, group in groups.items():
            value = normalized_number(m.group(group))
            if value and value != "0":
                found.append(Found(field, m.start(group), m.end(group), value))
    for m in _NUMBER_THEN_ROOM.finditer(text):
        found += [Found(field, m.start(field), m.end(field), str(int(m.group(field))))
                  for field in ("building", "room")]
    return found


def _address_parts(text: str) -> list[Found]:
    found = _unmarked_parts(text)
    for field, pattern in (("building", _BUILDING), ("unit", _UNIT),
                           ("room", _ROOM_MARKED), ("room", _ROOM_AFTER_ADDRESS)):
        for m in pattern.finditer(text):
            group = "letter" if field == "building" and m.group("letter") else "num"
            value = normalized_number(m.group(group))
            if value and value != "0":
                found.append(Found(field, m.start(group), m.end(group), value))
    return found


# jieba's parts of speech of an everyday word that a weak ending closes (独居 v, 昨天夜里 t, 家里 s):
# a verb, a time, a place word, an adverb or a pronoun, never a name (碧桂园 nr, 星河湾 ns)
_NO_NAME = ("v", "t", "s", "d", "r")
_DIRECTION_LI = re.compile("[东南西北]里$")
# jieba's parts of speech of the words before 小区, the plain word for one's own compound, when
# they say when or how rather than which ("今天小区停水了", "最近小区老停电"): a time, an
# adverb, a position
_WHEN_OR_HOW = ("t", "d", "ad", "f")
# Kinds of compound, not names, before the plain word 小区 (他说高档小区都这样, 听说部分小区停水)
_KIND_OF_COMPOUND = re.compile(r"^(?:高档|普通|一般|封闭式?|开放式?|新建|老旧|高层|多层|部分|其他|其它|安置|回迁|拆迁|商品房|"
                               r"大型|小型)$")


def _words(run: str) -> list[tuple[int, str, str]]:
    """jieba's words of `run`, each with where it ends in `run` and its part of speech."""
    words, end = [], 0
    for word, flag in jieba.posseg.cut(run):
        end += len(word)
        words.append((end, word, flag))
    return words


def _name_starts(words: list[tuple[int, str, str]], ending: int, strong: bool) -> int:
    """Where, in the run, a name that ends as its `ending` begins: after the last word before the
    ending that a name never holds (电动车在小区, 外卖小哥骑车进小区), unless one character would
    be left before the ending, or none before a weak one with an address after it (自在城3号楼)."""
    kept = (0,) if strong else ()
    return max((end for end, word, _ in words
                if end <= ending and (ending - end >= 2 or ending - end in kept) and word in _BEFORE_A_PLACE),
               default=0)


def _everyday_word_ends_at(words: list[tuple[int, str, str]], end: int) -> bool:
    """Whether the run's words up to `end` close a word of two or more characters that names
    nothing ("6栋独居的陈伯", "昨天夜里的噪音"), or a time and 里 ("大半夜里的")."""
    before = ""
    for position, word, flag in words:
        if position >= end:
            if position != end:
                return False
            if len(word) == 1:
                return word == "里" and before.startswith("t")
            # 惠新北里, 潘家园东里: jieba's place words, and names
            return flag.startswith(_NO_NAME) and not _DIRECTION_LI.search(word)
        before = flag
    return False


def _only_words_of(words: list[tuple[int, str, str]], start: int, end: int, flags: tuple[str, ...]) -> bool:
    """Whether the run from `start` to `end` is whole words, each of a part of speech in `flags`."""
    inside = [(position, flag) for position, _, flag in words if start < position <= end]
    return (bool(inside) and inside[-1][0] == end and (start == 0 or any(p == start for p, _, _ in words))
            and all(flag in flags for _, flag in inside))


def _compound_candidates(text: str) -> list[Found]:
    """Names that look like a compound's (…花园, …苑, 碧桂园5栋) though no list has them."""
    found = []
    for run in _NAME_RUN.finditer(text):
        name_run = run.group()
        words = None
        for suffix in _SUFFIX.finditer(name_run):
            words = words if words is not None else _words(name_run)
            strong = suffix.group() in _STRONG
            cut = _name_starts(words, suffix.start(), strong)
            # after a cut the name starts there ("给我们修一下小区" keeps its 我们 for _BAD_BASE to see)
            candidate = (_WHEN_PREFIX.sub("", name_run[cut:suffix.end()]) if cut
                         else _PREFIX.sub("", name_run[:suffix.end()]))
            rest = name_run[suffix.end():] + text[run.end():run.end() + 4]
            building_after = bool(_A_BUILDING_AFTER.match(rest))
            start = run.start() + suffix.end() - len(candidate)
            base = candidate[: -len(suffix.group())]
            if len(base) < 2 or _BAD_BASE.search(base) or candidate in _NOT_COMPOUNDS:
                continue
            if candidate in _GARDENS_INSIDE and not (building_after or rest.startswith("小区")):
                continue
            named = building_after or _NAMED_BEFORE.search(name_run[:suffix.end() - len(candidate)])
            if suffix.group() == "小区" and not named and (
                    _KIND_OF_COMPOUND.match(base)
                    or _only_words_of(words, suffix.start() - len(base), suffix.start(), _WHEN_OR_HOW)):
                continue
            if not strong and (not (building_after or _ABOUT_THE_COMPOUND_AFTER.match(rest))
                               or _everyday_word_ends_at(words, suffix.end())):
                continue
            # "…里的" is inside something (垃圾桶里的, 锅里的) far more often than a compound named
            # …里 that the directory does not list, unless what follows belongs to a compound
            if suffix.group() == "里" and rest.startswith("的") and not _OF_A_COMPOUND.match(rest):
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


def _value_as_written(text: str, span: Span) -> str:
    # The pipeline reads half-width text (one character for one, so offsets hold); a compound's
    # name is given back as the resident wrote it (ＳＯＨＯ望江), unless the span was widened to
    # whole tokens and no longer covers just the name.
    if span.label_ == "compound" and span.text == span._.location_value:
        return text[span.start_char:span.end_char]
    return span._.location_value


class LocationExtractor:
    """The spaCy pipeline for locations, built around the compound names the directory knows."""

    def __init__(self, compound_names: Iterable[str] = ()):
        if not Span.has_extension("location_value"):
            Span.set_extension("location_value", default=None)
        self.compound_names = clean_names(compound_names)
        for name in self.compound_names:
            jieba.add_word(name, freq=2000, tag="ns")
        self.nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        ruler = self.nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "TEXT"})
        ruler.add_patterns([{"label": "compound", "pattern": n} for n in self.compound_names])
        self.nlp.add_pipe("community_address")

    def extract(self, text: str) -> list[Found]:
        """Every location mention, in reading order, with offsets into `text`; a compound's value
        is its name as written, for `bot.org.find_compound` to resolve."""
        doc = self.nlp(width_normalized(text))
        found = [Found(s.label_, s.start_char, s.end_char, _value_as_written(text, s))
                 for s in doc.spans["location"]]
        return sorted(found, key=lambda f: (f.start, f.field))

    def fields(self, text: str) -> dict[str, str]:
        """The first value of each field that the message gives."""
        values: dict[str, str] = {}
        for item in self.extract(text):
            values.setdefault(item.field, item.value)
        return values


def clean_names(names: Iterable[str]) -> list[str]:
    """Compound names as the pipeline matches them: trimmed, half-width, each once, sorted."""
    return sorted({width_normalized(n).strip() for n in names if n and n.strip()})


DIRECTORY_CHECK_SECONDS = 5.0  # how soon an imported directory reaches parsing


class DirectoryLocations:
    """A `LocationExtractor` kept in step with the org directory (组织架构) while the bot runs.

    `read_names` returns the directory's compound names and aliases. It is asked at most every
    `every` seconds, so a `python -m bot org import` reaches parsing within seconds and without
    retraining; the pipeline is rebuilt only when the names changed. Reading every name is the
    check: a site's few thousand short rows cost a millisecond, and no counter or timestamp can
    miss an alias renamed in place. Until the directory has names (no database yet, an empty
    one) `fallback` is used; when reading fails the names in use stay and the failure is logged,
    never raised: a report must parse while the database is away. The read is synchronous: the
    Rasa tracker store reads the same database for every message, so it adds no new wait.
    """

    def __init__(self, read_names: Callable[[], Iterable[str]], fallback: Iterable[str] = (),
                 every: float = DIRECTORY_CHECK_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._read_names = read_names
        self._fallback = clean_names(fallback)
        self._every = every
        self._clock = clock
        self._next_check: float | None = None
        self._failing = False
        self.extractor = LocationExtractor(self._fallback)

    def current(self) -> LocationExtractor:
        """The extractor for the directory as it is now (checked at most every `every` seconds)."""
        now = self._clock()
        if self._next_check is None or now >= self._next_check:
            self._next_check = now + self._every
            self._refresh()
        return self.extractor

    def extract(self, text: str) -> list[Found]:
        return self.current().extract(text)

    def fields(self, text: str) -> dict[str, str]:
        return self.current().fields(text)

    def _refresh(self) -> None:
        try:
            names = clean_names(self._read_names())
        except Exception as error:  # noqa: BLE001 - whatever the database does, parsing carries on
            if not self._failing:
                log.warning("cannot read the compound names of the org directory (%s); parsing with the "
                            "%d names in use", str(error).splitlines()[0] if str(error) else type(error).__name__,
                            len(self.extractor.compound_names))
            self._failing = True
            return
        if self._failing:
            log.info("the org directory can be read again")
        self._failing = False
        names = names or self._fallback
        if names != self.extractor.compound_names:
            self.extractor = LocationExtractor(names)
