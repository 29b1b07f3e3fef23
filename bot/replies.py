"""What the bot says back to a resident about a report (回复话术)."""
from bot.decision import Decision
from bot.taxonomy import CATEGORIES
from bot.urgency import emergency_message

NOT_UNDERSTOOD = ("抱歉，我没太明白。您可以直接描述遇到的问题，比如“7号楼电梯坏了”“消防通道被车堵了”，"
                  "或回复“转人工”。")
ASK_COMPOUND = "请问是哪个小区？告诉我小区名称就行（比如：金御城）。不想报了可以回复“算了”。"
UNKNOWN_COMPOUND = "没有找到这个小区，请再说一下小区名称（可以用大家常说的简称）。"
REPORT_CANCELLED = "好的，这件事先不登记了。需要时随时告诉我。"


def describe_location(location: dict[str, str]) -> str:
    """金御城 7号楼 2单元 502室, from whichever parts the resident gave."""
    parts = []
    if location.get("compound"):
        parts.append(location["compound"])
    if location.get("building"):
        parts.append(f"{location['building']}号楼")
    if location.get("unit"):
        parts.append(f"{location['unit']}单元")
    if location.get("room"):
        parts.append(f"{location['room']}室")
    return " ".join(parts)


def report_acknowledgement(decision: Decision, location: dict[str, str],
                           hotlines: dict[str, str] | None = None) -> list[str]:
    """The replies to a report: the emergency advice first when urgent, then the receipt."""
    category = CATEGORIES[decision.category]
    where = describe_location(location)
    where_text = f"（{where}）" if where else ""
    receipt = (f"收到，您反映的{where_text}问题已登记为「{category.name_zh}」类，"
               f"将由{category.handler_zh}负责跟进。")
    if not decision.urgent:
        return [receipt]
    return [emergency_message(decision.danger, hotlines),
            receipt + "这是紧急情况，已同时通知网格、社区和街道。"]


def first_values(entities: list[dict]) -> dict[str, str]:
    """The first value of each location entity in a parse result."""
    values: dict[str, str] = {}
    for entity in entities or []:
        values.setdefault(entity.get("entity"), str(entity.get("value")))
    return values
