"""What the load benchmark's residents say, and what must come of it.

Residents live in groups, each group bound to one compound of the sample site. The mix is
mostly problem reports, several residents of a group reporting the same problem (反映集中), and
FAQ questions, ticket-status questions and chit-chat. Every report must end in exactly one
ticket or one added reporter: one ticket per (compound, category, building), with every
resident who reported it as a reporter.
"""
import random
from dataclasses import dataclass

# (category, text): non-urgent reports with a building, no compound name (the group gives it)
REPORTS = [
    ("elevator", "{b}号楼电梯又坏了 谁来看看"),
    ("heating", "{b}号楼2单元暖气从前天开始就不热了"),
    ("water", "{b}号楼怎么停水了 也没提前通知一声"),
    ("sanitation", "{b}号楼门口垃圾堆成山了 臭得要命"),
    ("power", "能不能把{b}号楼楼梯间的灯修一下"),
    ("parking", "{b}号楼楼下那辆白色宝马天天停在消防通道上 能不能管管"),
]
QUESTIONS = ["党群服务中心几点开门", "居委会电话多少", "物业的电话多少啊", "业委会怎么联系"]
STATUS = ["我报的事怎么样了", "查一下我的报修"]
CHITCHAT = ["你好", "你是谁", "谢谢"]
# the bench's own groups, bound to these compounds of org/sample_site.yml
COMPOUNDS = ["金御城", "翠柳苑", "和平里小区", "东风新村", "春晖家园", "玉兰花园", "望江华庭"]
SHARE = {"report": 0.55, "question": 0.15, "status": 0.15, "chitchat": 0.15}


@dataclass(frozen=True)
class Message:
    """One message of the plan: who says what in which group."""
    index: int
    group: str
    user: str
    text: str
    kind: str  # report, question, status, chitchat
    report_key: tuple | None = None  # (compound, category, building) for a report


def group_ids(groups: int) -> dict[str, str]:
    """Group id → the compound it is bound to."""
    return {f"cidBench{n:03d}==": COMPOUNDS[n % len(COMPOUNDS)] for n in range(groups)}


def plan(count: int, groups: int, residents_per_group: int, seed: int = 8) -> list[Message]:
    """`count` messages; each resident reports a given problem at most once."""
    rng = random.Random(seed)
    bound = group_ids(groups)
    kinds = rng.choices(list(SHARE), weights=list(SHARE.values()), k=count)
    reported: set = set()
    messages = []
    for index, kind in enumerate(kinds):
        group = rng.choice(list(bound))
        user = f"u{list(bound).index(group):03d}x{rng.randrange(residents_per_group):03d}"
        key, text = None, None
        if kind == "report":
            # a few problems per group, so several residents report the same one
            category, template = REPORTS[rng.randrange(len(REPORTS))]
            building = str(rng.randrange(1, 4))
            key = (bound[group], category, building)
            if (user, key) in reported:
                kind = "chitchat"
                key = None
            else:
                reported.add((user, key))
                text = template.format(b=building)
        if kind != "report":
            text = rng.choice({"question": QUESTIONS, "status": STATUS, "chitchat": CHITCHAT}[kind])
        messages.append(Message(index, group, user, text, kind, key))
    return messages


def expected_tickets(messages: list[Message]) -> dict[tuple, set]:
    """(compound, category, building) → the residents who reported it."""
    tickets: dict[tuple, set] = {}
    for message in messages:
        if message.report_key:
            tickets.setdefault(message.report_key, set()).add(message.user)
    return tickets
