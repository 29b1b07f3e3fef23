"""What an org file says, entry by entry, once `bot.org.file` has read and checked it: the
shapes `bot.org.importing` writes to the database, and the names both sides share."""
import re
from dataclasses import dataclass, field

from bot.normalize import width_normalized

HOTLINE_KINDS = ("gas_company", "lift_company", "heat_company", "water_company", "power_company",
                 "police", "fire", "ambulance", "property")
PLATFORMS = ("wecom", "dingtalk", "feishu", "onebot", "matrix", "wechat_mp", "wechat_kf", "rest")


class OrgFileError(ValueError):
    """An org file that cannot be imported; the message names the entry and the field."""


@dataclass
class PersonEntry:
    """Someone as the file writes them down (a secretary, a grid worker, a building leader)."""
    name: str | None = None
    phone: str | None = None
    ids: dict = field(default_factory=dict)


@dataclass
class HotlineEntry:
    kind: str
    name: str | None
    number: str


@dataclass
class BuildingEntry:
    number: str
    leader: PersonEntry


@dataclass
class CompoundEntry:
    name: str
    aliases: list[str]
    branch: str | None
    secretary: PersonEntry
    property_company: str | None
    property_hotline: str | None
    owners_committee: PersonEntry
    hotlines: list[HotlineEntry]
    buildings: list[BuildingEntry]


@dataclass
class GridEntry:
    name: str
    worker: PersonEntry
    compounds: list[CompoundEntry]


@dataclass
class CommunityEntry:
    name: str
    secretary: PersonEntry
    office_hours: str | None
    hotlines: list[HotlineEntry]
    grids: list[GridEntry]


@dataclass
class SubdistrictEntry:
    name: str
    secretary: PersonEntry
    communities: list[CommunityEntry]


@dataclass
class BindingEntry:
    platform: str
    group_id: str
    compound: str  # the compound's name (an alias in the file is resolved to it)


@dataclass
class Site:
    label: str | None
    hotlines: list[HotlineEntry]
    subdistricts: list[SubdistrictEntry]
    groups: list[BindingEntry]


def name_key(name: str) -> str:
    """What two spellings of a compound's name share: 金御城小区, ＂金御城 ＂ → 金御城; 新华·悦府 → 新华悦府."""
    key = re.sub(r"[\s·・•]+", "", width_normalized(name)).casefold()
    return key[:-2] if key.endswith("小区") and len(key) > 2 else key
