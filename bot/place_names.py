"""The places a message names, as the location extractor found them (a parse's `entities`), set
apart from what the message says happened.

A compound's name says where, never what: 火星花园, 燃气公司宿舍, 电力新村 and 金水湾 name no spark,
gas, power or water. The learned danger model reads a message with its compound names written
as 小区, and a message that is nothing but a place ("火星花园", "7号楼2单元") answers a question
about where; it reports nothing. The danger rules read the message as written: a name found only
by its suffix is a guess ("6栋独居的陈伯": 独居 ends as 居 does), and a danger the rules hear is
never set aside for a name.
"""
import re
from collections.abc import Iterable

PLACE_FIELDS = ("compound", "building", "unit", "room")
# What a compound's name is read as: the plain word for one, in no danger's words.
PLACE_WORD = "小区"
# What may stand beside the places in a message that only says where: punctuation, digits,
# letters, the words that introduce an address (我住在…, 是…的) and those that point near it
# ("5号楼那边", "3栋楼下", "小区门口").
_BESIDE_A_PLACE = re.compile(r"[\W\d_a-zA-Z]|楼下|楼上|底下|那边|这边|那儿|这儿|那里|这里|附近|旁边|对面|门口|"
                             r"那家|这家|那户|这户|那个|这个|我家|我们|我|住|在|是|家|的|了|呢|啊|吧|哦|嗯|哈|号|楼|栋|座|单元|室|小区")


def _spans(text: str, entities: Iterable[dict] | None, fields: tuple[str, ...]) -> list[tuple[int, int]]:
    """The entities' spans of `fields` that lie inside `text`, in reading order, none overlapping."""
    spans: list[tuple[int, int]] = []
    for entity in sorted(entities or (), key=lambda e: (e.get("start") or 0, -(e.get("end") or 0))):
        start, end = entity.get("start"), entity.get("end")
        if (entity.get("entity") in fields and isinstance(start, int) and isinstance(end, int)
                and 0 <= start < end <= len(text) and (not spans or start >= spans[-1][1])):
            spans.append((start, end))
    return spans


def names_as_places(text: str, entities: Iterable[dict] | None) -> str:
    """`text` with each compound name among `entities` written as 小区."""
    for start, end in reversed(_spans(text, entities, ("compound",))):
        text = text[:start] + PLACE_WORD + text[end:]
    return text


def only_a_place(text: str, entities: Iterable[dict] | None) -> bool:
    """Whether the message names a place and says nothing else."""
    spans = _spans(text, entities, PLACE_FIELDS)
    if not spans:
        return False
    rest, last = [], 0
    for start, end in spans:
        rest.append(text[last:start])
        last = end
    rest.append(text[last:])
    return not _BESIDE_A_PLACE.sub("", "".join(rest))
