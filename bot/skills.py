"""The skills party-member volunteers offer (特长): the one place their ids, names, the words
residents and members use for them, and their weight come from (`bot.volunteers` offers tasks
by them, the replies and the console print them)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Skill:
    """A skill volunteers offer (特长), the words residents and members use for it, and the
    weight of a task needing it (points per hour ÷ `bot.volunteers.POINTS_PER_HOUR`)."""
    id: str
    name_zh: str
    words: tuple[str, ...]
    weight: float


SKILLS = {skill.id: skill for skill in (
    Skill("doctor", "医生", ("医生", "大夫", "医师", "医院", "看病", "中医", "全科"), 2.0),
    Skill("nurse", "护士", ("护士", "护理", "护工", "打针", "换药"), 2.0),
    Skill("lawyer", "律师", ("律师", "法律", "法务", "合同", "官司"), 2.0),
    Skill("teacher", "教师", ("教师", "老师", "辅导", "家教", "作业", "功课"), 1.5),
    Skill("electrician", "电工", ("电工", "水电", "电路", "电器", "线路", "修电"), 1.5),
    Skill("plumber", "水暖工", ("水暖", "水电", "管道", "水管", "修水", "下水", "水龙头"), 1.5),
    Skill("counselor", "心理咨询", ("心理", "咨询师", "谈心", "情绪", "抑郁", "想不开"), 2.0),
    Skill("errand", "跑腿", ("跑腿", "买菜", "代购", "取药", "拿药", "接送", "开车", "司机", "送货"), 1.0),
    Skill("companion", "助老陪伴", ("陪伴", "陪护", "陪聊", "助老", "照顾老人", "聊天", "探望", "看望"), 1.0),
)}


def parse_skills(text: str) -> list[str]:
    """The skills named in free text (我是护士，也能跑腿 → nurse, errand), in `SKILLS` order."""
    return [skill.id for skill in SKILLS.values() if any(word in (text or "") for word in skill.words)]


def skills_zh(skill_ids: list[str]) -> str:
    return "、".join(SKILLS[s].name_zh for s in skill_ids if s in SKILLS) or "不限"


def weight_of(skill_ids: list[str]) -> float:
    return max((SKILLS[s].weight for s in skill_ids if s in SKILLS), default=1.0)
