"""The 17 ticket categories (工单类别): the one place every category fact comes from.

Ids, Chinese names, default handlers and SLAs are the contract of `shared/taxonomy.md`.
"""
from dataclasses import dataclass
from datetime import timedelta

NONE = "none"
REPORT_INTENT_PREFIX = "report_"


@dataclass(frozen=True)
class Category:
    id: str
    name_zh: str
    handler_zh: str
    sla: timedelta

    @property
    def intent(self) -> str:
        """The Rasa intent that reports a problem of this category."""
        return REPORT_INTENT_PREFIX + self.id


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


CATEGORIES = {
    c.id: c
    for c in [
        Category("parking", "停车秩序", "物业公司", _hours(48)),
        Category("ev_charging", "电动车充电", "物业公司", _hours(24)),
        Category("heating", "供暖", "供热公司（经物业）", _hours(24)),
        Category("accessibility", "无障碍设施", "小区党支部书记会同物业", _hours(7 * 24)),
        Category("elevator", "电梯", "物业公司（电梯维保单位）", _hours(24)),
        Category("water", "供水排水", "物业公司/自来水公司", _hours(24)),
        Category("power", "供电照明", "物业公司/供电公司", _hours(24)),
        Category("gas", "燃气", "燃气公司", _hours(4)),
        Category("sanitation", "环境卫生", "物业公司", _hours(48)),
        Category("noise", "噪音扰民", "网格员", _hours(48)),
        Category("safety_security", "治安安全", "网格员会同物业安保", _hours(24)),
        Category("facilities", "公共设施", "物业公司/社区", _hours(7 * 24)),
        Category("property_service", "物业服务", "小区党支部书记（三方共治）", _hours(72)),
        Category("neighbor_dispute", "邻里纠纷", "网格员（调解）", _hours(72)),
        Category("care_request", "帮扶需求", "党员志愿者（党员接单）", _hours(48)),
        Category("illegal_construction", "违章搭建", "社区/城管执法", _hours(7 * 24)),
        Category("pets", "文明养犬", "网格员", _hours(48)),
    ]
}

# An urgent ticket (life or property in danger now) is due this soon whatever its category: an
# open manhole cannot wait the week a broken bench may.
URGENT_SLA = _hours(2)


def sla_of(category_id: str, urgent: bool) -> timedelta:
    """How long a ticket of the category has until it is due (and escalates) at each level."""
    sla = CATEGORIES[category_id].sla
    return min(sla, URGENT_SLA) if urgent else sla


CATEGORY_IDS = tuple(CATEGORIES)
ALL_LABELS = CATEGORY_IDS + (NONE,)


def category_for_intent(intent: str) -> Category | None:
    """The category a report intent stands for, or None for any other intent."""
    if not intent.startswith(REPORT_INTENT_PREFIX):
        return None
    return CATEGORIES.get(intent[len(REPORT_INTENT_PREFIX):])
