"""Whether two residents' reports say the same thing (同一问题), for 反映集中.

The meaning of each text is its multilingual-e5-small sentence embedding, taken without the
@-mentions and the address: the reports compared share the compound and the building, and a
shared "7号楼" would make a barking dog and a dog in the lift look alike.
"""
import re

from bot import embeddings

_MENTION = re.compile(r"@\S+\s*")
# 7号楼, 七栋, B座, 3#楼, 2单元, 502室, 5-1-101
_NUMBER = r"(?:\d{1,4}|[零〇一二两三四五六七八九十百]{1,4}|[A-Za-z])"
_ADDRESS = re.compile(rf"第?{_NUMBER}\s*(?:号\s*[楼栋幢座]|[栋幢座]|#\s*楼?|单元|室|号房)"
                      r"|\d{1,3}\s*-\s*\d{1,2}\s*-\s*\d{3,4}")


def without_address(text: str, compound_name: str | None = None) -> str:
    """What the report says is wrong: no @-mentions, compound name, building, unit or room."""
    bare = _ADDRESS.sub("", _MENTION.sub("", text))
    if compound_name:
        bare = bare.replace(compound_name, "")
    return bare.strip(" ，,。.!！") or text.strip()


def similarity(text: str, others: list[str], compound_name: str | None = None) -> float:
    """How nearly `text` says what the nearest of `others` says (cosine, up to 1). One text at a
    time: `embeddings` keeps single texts in memory and writes only lists to its disk cache."""
    if not others:
        return -1.0
    mine = embeddings.embed([without_address(text, compound_name)])[0]
    return max(float(mine @ embeddings.embed([without_address(other, compound_name)])[0]) for other in others)
