"""What the bot says to a resident outside a ticket's own messages (回复话术)."""

GREETING = ("您好！我是社区小助手。小区里遇到问题（停车、暖气、电梯、漏水、噪音……）直接告诉我，我来登记并找负责的人；"
            "也可以问我社区办事的问题。")
# One-to-one channels (公众号 关注, 微信客服 进入会话): what the bot does, and the compound, asked
# once (`bot.resident_compounds` keeps the answer).
WELCOME = ("您好！我是社区小助手。小区里遇到问题（停车、暖气、电梯、漏水、噪音……）直接发文字告诉我，"
           "我来登记、找负责的人跟进，办好后会在这里告诉您；社区办事的问题也可以问我。"
           "请先告诉我您住在哪个小区？（比如：金御城）")
# A compound named on its own, outside the question for it.
COMPOUND_NOTED = "好的。有问题要反映的话，直接描述就行，比如“7号楼电梯坏了”。"
# By intent: what the FAQ action says to a greeting, or a compound named, that it does not answer.
OPENING_REPLIES = {"greet": GREETING, "inform": COMPOUND_NOTED}
NOT_UNDERSTOOD = ("抱歉，我没太明白。您可以直接描述遇到的问题，比如“7号楼电梯坏了”“消防通道被车堵了”，"
                  "或回复“转人工”。")
# After a FAQ answer to a message the model took, without much confidence, for a report.
ALSO_ASKED = "您问到的，常见问题里是这样说的：\n"
IF_A_REPORT = "\n如果您不是问这个，而是要反映问题，请回复“转人工”，工作人员会帮您登记。"
ASK_COMPOUND = "请问是哪个小区？告诉我小区名称就行（比如：金御城）。不想报了可以回复“算了”。"
UNKNOWN_COMPOUND = "没有找到这个小区，请再说一下小区名称（可以用大家常说的简称）。"
REPORT_CANCELLED = "好的，这件事先不登记了。需要时随时告诉我。"
# A message of emoji or punctuation only: nothing to misunderstand.
NO_WORDS = "收到😊 有问题要反映的话，直接用文字描述就行，比如“7号楼电梯坏了”。"


def not_in_group(named: str, group_compound: str) -> str:
    """A compound named in a bound group that the directory does not know: never replaced silently."""
    return f"{named}不在本群的小区名单里，是{group_compound}吗？是的话回复“是”，不是请告诉我小区名称。"


def offered_back(compound: str) -> str:
    """One-to-one, a resident back after a while: the compound they reported in before, offered."""
    return f"还是{compound}吗？是的话回复“是”，不是请告诉我小区名称。"


def still_waiting(report_texts: list[str], question: str) -> str:
    """The bot's question asked again a while later, the reports it is about quoted (the last,
    shortened, and how many there are)."""
    quoted = " ".join(report_texts[-1].split())
    quoted = quoted if len(quoted) <= 20 else quoted[:19] + "…"
    more = f"等{len(report_texts)}件事" if len(report_texts) > 1 else ""
    return f"您之前说的“{quoted}”{more}还没有登记。{question}"


def confirm_report(category_name: str) -> str:
    """A message that is probably a report, of no sure category: asked, never dropped."""
    return f"是要反映{category_name}的问题吗？回复“是”登记，或者说说具体情况。"


def not_in_directory(named: str) -> str:
    return f"没有找到“{named}”这个小区，请问是哪个小区？告诉我小区名称或大家常说的简称就行。"


def unknown_compound_dropped(named: str | None) -> str:
    where = f"{named}" if named else "这个小区"
    return (f"好的，{where}不归本群对应的社区管，这件事先不登记。"
            "请在所在小区的群里反映，或回复“转人工”让工作人员帮您。")


def first_values(entities: list[dict]) -> dict[str, str]:
    """The first value of each location entity in a parse result."""
    values: dict[str, str] = {}
    for entity in entities or []:
        values.setdefault(entity.get("entity"), str(entity.get("value")))
    return values
