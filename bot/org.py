"""The org directory (组织架构): 街道 → 社区 → 网格 → 小区, with the people and numbers of each.

A street-office clerk keeps it in one YAML file (see `org/sample_site.yml` and docs/org.md).
`import_org_file` checks the whole file first (an error, in Chinese for the clerk, names the entry
and the field) and then upserts it in one transaction, keyed by
names, so re-importing a corrected file updates rows in place and tickets keep pointing at
their compound. Compounds, grids, communities and subdistricts that leave the file are kept
(tickets reference them); aliases, buildings, group bindings and hotlines that leave it are
removed.

The lookups below are what the rest of the bot asks the directory.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import office_hours
from bot.normalize import normalized_number, width_normalized
from bot.models import (Building, Community, Compound, CompoundAlias, GroupBinding, Grid, Hotline,
                        Subdistrict)
from bot.privacy import mask_phone

HOTLINE_KINDS = ("gas_company", "lift_company", "heat_company", "water_company", "power_company",
                 "police", "fire", "ambulance", "property")
PLATFORMS = ("wecom", "dingtalk", "feishu", "onebot", "matrix", "wechat_mp", "wechat_kf", "rest")
KINDS = ("subdistricts", "communities", "grids", "compounds", "aliases", "buildings", "bindings",
         "hotlines")
KEPT_KINDS = ("subdistricts", "communities", "grids", "compounds")  # never deleted: tickets need them


class OrgFileError(ValueError):
    """An org file that cannot be imported; the message names the entry and the field."""


# --- reading and checking the file -------------------------------------------------------------

@dataclass
class Person:
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
    leader: Person


@dataclass
class CompoundEntry:
    name: str
    aliases: list[str]
    branch: str | None
    secretary: Person
    property_company: str | None
    property_hotline: str | None
    owners_committee: Person
    hotlines: list[HotlineEntry]
    buildings: list[BuildingEntry]


@dataclass
class GridEntry:
    name: str
    worker: Person
    compounds: list[CompoundEntry]


@dataclass
class CommunityEntry:
    name: str
    secretary: Person
    office_hours: str | None
    hotlines: list[HotlineEntry]
    grids: list[GridEntry]


@dataclass
class SubdistrictEntry:
    name: str
    secretary: Person
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


class _Entry:
    """Where a value sits in the file, for error messages: `subdistricts[0].communities[1] (光明社区)`."""

    def __init__(self, path: str, label: str | None = None):
        self.path, self.label = path, label

    def child(self, path: str, label: str | None = None) -> "_Entry":
        return _Entry(f"{self.path}.{path}" if self.path else path, label)

    def __str__(self) -> str:
        where = self.path or "文件顶层"
        return f"{where} ({self.label})" if self.label else where

    def error(self, field_name: str, problem: str) -> OrgFileError:
        return OrgFileError(f"{self}：字段 '{field_name}' {problem}")


_QUOTE_HINT = '必须是字符串（请加引号，如 "13800000001"）'


def _mapping(value: Any, where: _Entry, field_name: str | None, known: tuple[str, ...]) -> dict:
    is_entry = field_name is None and isinstance(value, dict)
    if is_entry and where.label is None and isinstance(value.get("name"), str):
        where.label = value["name"].strip() or None  # so that even a misspelt field names its entry
    if not isinstance(value, dict):
        if field_name is None:
            raise OrgFileError(f"{where}：应写成“字段: 值”的形式（可用字段：{', '.join(known)}）")
        raise where.error(field_name, f"应写成“字段: 值”的形式（可用字段：{', '.join(known)}）")
    for key in value:
        if key not in known:
            name = f"{field_name}.{key}" if field_name else str(key)
            raise where.error(name, f"不是可用的字段（可用字段：{', '.join(known)}）")
    return value


def _text(data: dict, key: str, where: _Entry, required: bool = False, prefix: str = "",
          hint: str = "必须是字符串") -> str | None:
    value = data.get(key)
    name = prefix + key
    if value is None:
        if required:
            raise where.error(name, "必须填写")
        return None
    if not isinstance(value, str):
        raise where.error(name, hint)
    value = value.strip()
    if not value:
        if required:
            raise where.error(name, "不能为空")
        return None
    return value


def _list(data: dict, key: str, where: _Entry) -> list:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(key, "应是列表（每一项以“- ”开头）")
    return value


def _ids(value: Any, where: _Entry, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(name, "应写成“平台: 用户ID”的形式，如 {wecom: zhangsan}")
    ids = {}
    for platform, user_id in value.items():
        if platform not in PLATFORMS:
            raise where.error(f"{name}.{platform}", f"不是已知的平台（可用：{', '.join(PLATFORMS)}）")
        if not isinstance(user_id, str) or not user_id.strip():
            raise where.error(f"{name}.{platform}", '必须是字符串（请加引号，如 "0123"）')
        ids[platform] = user_id.strip()
    return ids


def _person(data: dict, key: str, where: _Entry, with_ids: bool = True) -> Person:
    value = data.get(key)
    if value is None:
        return Person()
    known = ("name", "phone", "ids") if with_ids else ("name", "phone")
    value = _mapping(value, where, key, known)
    return Person(name=_text(value, "name", where, required=True, prefix=f"{key}."),
                  phone=_text(value, "phone", where, prefix=f"{key}.", hint=_QUOTE_HINT),
                  ids=_ids(value.get("ids"), where, f"{key}.ids"))


def _office_hours(data: dict, where: _Entry) -> str | None:
    """A community's office hours, checked so that the bot can tell residents when staff answer."""
    text = _text(data, "office_hours", where)
    if text:
        try:
            office_hours.parse(text)
        except office_hours.OfficeHoursError as error:
            raise where.error("office_hours", f"读不懂：{error}") from None
    return text


def _hotlines(data: dict, where: _Entry) -> list[HotlineEntry]:
    hotlines, seen = [], {}
    for i, item in enumerate(_list(data, "hotlines", where)):
        entry = where.child(f"hotlines[{i}]", where.label)
        item = _mapping(item, entry, None, ("kind", "name", "number"))
        kind = _text(item, "kind", entry, required=True)
        if kind not in HOTLINE_KINDS:
            raise entry.error("kind", f"必须是 {', '.join(HOTLINE_KINDS)} 之一（现在是 '{kind}'）")
        if kind in seen:
            raise entry.error("kind", f"'{kind}' 已在 {seen[kind]} 填写过")
        seen[kind] = entry
        hotlines.append(HotlineEntry(kind, _text(item, "name", entry),
                                     _text(item, "number", entry, required=True, hint=_QUOTE_HINT)))
    return hotlines


def _building(item: Any, where: _Entry) -> BuildingEntry:
    item = _mapping(item, where, None, ("number", "leader"))
    raw = item.get("number")
    if raw is None:
        raise where.error("number", "必须填写")
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise where.error("number", f"应是楼号，如 7、七 或 B（现在是 {raw!r}）")
    number = normalized_number(width_normalized(str(raw)))
    if not number or number == "0":
        raise where.error("number", f"应是楼号，如 7、七 或 B（现在是 '{raw}'）")
    return BuildingEntry(number, _person(item, "leader", where))


def _compound(item: Any, where: _Entry) -> CompoundEntry:
    item = _mapping(item, where, None, ("name", "aliases", "branch", "secretary", "property",
                                        "owners_committee", "hotlines", "buildings"))
    name = _text(item, "name", where, required=True)
    where.label = name
    aliases = []
    for i, alias in enumerate(_list(item, "aliases", where)):
        if not isinstance(alias, str) or not alias.strip():
            raise where.error(f"aliases[{i}]", "必须是非空的字符串")
        alias = alias.strip()
        if alias == name or alias in aliases:
            raise where.error(f"aliases[{i}]", f"重复了 '{alias}'")
        aliases.append(alias)
    company = hotline = None
    if item.get("property") is not None:
        prop = _mapping(item["property"], where, "property", ("company", "hotline"))
        company = _text(prop, "company", where, required=True, prefix="property.")
        hotline = _text(prop, "hotline", where, prefix="property.", hint=_QUOTE_HINT)
    buildings, listed_as = [], {}
    for i, raw in enumerate(_list(item, "buildings", where)):
        entry = where.child(f"buildings[{i}]", name)
        building = _building(raw, entry)
        if building.number in listed_as:
            raise entry.error("number", f"重复了楼号 {building.number}"
                                        f"（已写在 {listed_as[building.number]}）")
        listed_as[building.number] = f"buildings[{i}]"
        buildings.append(building)
    return CompoundEntry(
        name=name, aliases=aliases, branch=_text(item, "branch", where),
        secretary=_person(item, "secretary", where), property_company=company, property_hotline=hotline,
        owners_committee=_person(item, "owners_committee", where, with_ids=False),
        hotlines=_hotlines(item, where), buildings=buildings)


def name_key(name: str) -> str:
    """What two spellings of a compound's name share: 金御城小区, ＂金御城 ＂ → 金御城; 新华·悦府 → 新华悦府."""
    key = re.sub(r"[\s·・•]+", "", width_normalized(name)).casefold()
    return key[:-2] if key.endswith("小区") and len(key) > 2 else key


class _Reader:
    """Reads the file top-down, remembering what the site already has, to catch duplicates."""

    def __init__(self):
        self.communities: dict[str, _Entry] = {}
        self.compound_keys: dict[str, tuple[str, _Entry]] = {}  # name key → (compound name, entry)
        self.bound: dict[tuple[str, str], _Entry] = {}

    def site(self, data: Any) -> Site:
        top = _Entry("")
        data = _mapping(data if data is not None else {}, top, None,
                        ("site", "hotlines", "subdistricts", "groups"))
        if not data.get("subdistricts"):
            raise top.error("subdistricts", "必须填写（街道的列表）")
        subdistricts: list[SubdistrictEntry] = []
        for i, raw in enumerate(_list(data, "subdistricts", top)):
            subdistrict = self.subdistrict(raw, top.child(f"subdistricts[{i}]"))
            if any(other.name == subdistrict.name for other in subdistricts):
                raise top.child(f"subdistricts[{i}]", subdistrict.name).error("name", "重复填写")
            subdistricts.append(subdistrict)
        groups = [self.group(raw, top.child(f"groups[{i}]")) for i, raw in enumerate(_list(data, "groups", top))]
        return Site(_text(data, "site", top), _hotlines(data, top), subdistricts, groups)

    def subdistrict(self, raw: Any, where: _Entry) -> SubdistrictEntry:
        raw = _mapping(raw, where, None, ("name", "secretary", "communities"))
        name = _text(raw, "name", where, required=True)
        return SubdistrictEntry(name, _person(raw, "secretary", where),
                                [self.community(item, where.child(f"communities[{i}]"))
                                 for i, item in enumerate(_list(raw, "communities", where))])

    def community(self, raw: Any, where: _Entry) -> CommunityEntry:
        raw = _mapping(raw, where, None, ("name", "secretary", "office_hours", "hotlines", "grids"))
        name = _text(raw, "name", where, required=True)
        if name in self.communities:
            raise where.error("name", f"'{name}' 已写在 {self.communities[name].path}")
        self.communities[name] = where
        grids: list[GridEntry] = []
        for i, item in enumerate(_list(raw, "grids", where)):
            grid = self.grid(item, where.child(f"grids[{i}]"))
            if any(other.name == grid.name for other in grids):
                raise where.child(f"grids[{i}]", grid.name).error("name", f"在{name}里重复填写")
            grids.append(grid)
        return CommunityEntry(name, _person(raw, "secretary", where), _office_hours(raw, where),
                              _hotlines(raw, where), grids)

    def grid(self, raw: Any, where: _Entry) -> GridEntry:
        raw = _mapping(raw, where, None, ("name", "worker", "compounds"))
        name = _text(raw, "name", where, required=True)
        compounds = []
        for i, item in enumerate(_list(raw, "compounds", where)):
            entry = where.child(f"compounds[{i}]")
            compound = _compound(item, entry)
            self._claim(compound.name, compound.name, entry, "name", own_ok=False)
            for j, alias in enumerate(compound.aliases):
                self._claim(alias, compound.name, entry, f"aliases[{j}]")
            compounds.append(compound)
        return GridEntry(name, _person(raw, "worker", where), compounds)

    def _claim(self, text: str, compound: str, where: _Entry, field_name: str, own_ok: bool = True) -> None:
        """`text` names `compound`; no other compound may be known by it (after name_key)."""
        key = name_key(text)
        owner = self.compound_keys.get(key)
        if owner and (owner[0] != compound or not own_ok):
            raise where.error(field_name, f"'{text}' 已被{owner[0]}使用（{owner[1].path}）")
        self.compound_keys.setdefault(key, (compound, where))

    def group(self, raw: Any, where: _Entry) -> BindingEntry:
        raw = _mapping(raw, where, None, ("platform", "group_id", "compound"))
        platform = _text(raw, "platform", where, required=True)
        group_id = _text(raw, "group_id", where, required=True,
                         hint='必须是字符串（请加引号，如 "123456"）')
        where.label = f"{platform} {group_id}"
        if platform not in PLATFORMS:
            raise where.error("platform", f"必须是 {', '.join(PLATFORMS)} 之一（现在是 '{platform}'）")
        if (platform, group_id) in self.bound:
            raise where.error("group_id", f"这个群已在 {self.bound[platform, group_id].path} 绑定过")
        self.bound[platform, group_id] = where
        compound = _text(raw, "compound", where, required=True)
        owner = self.compound_keys.get(name_key(compound))
        if owner is None:
            raise where.error("compound", f"写的是 '{compound}'，本文件里没有这个小区")
        return BindingEntry(platform, group_id, owner[0])


def _parse(data: Any) -> Site:
    return _Reader().site(data)


def load_org_file(path: str | Path) -> dict:
    """The YAML of an org file; an unreadable file or a YAML syntax error is an OrgFileError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise OrgFileError(f"{path}：无法读取文件（{error.strerror or error}）") from error
    except UnicodeDecodeError as error:
        raise OrgFileError(f"{path}：文件不是 UTF-8 编码的文本") from error
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path} 第{mark.line + 1}行第{mark.column + 1}列" if mark else str(path)
        raise OrgFileError(f"{where}：YAML 格式错误：{error.problem or error.context}") from error
    except yaml.YAMLError as error:
        raise OrgFileError(f"{path}：YAML 格式错误：{error}") from error
    if data is not None and not isinstance(data, dict):
        raise OrgFileError(f"{path}：文件应以 subdistricts: 开头写成“字段: 值”的形式"
                           "（还可有 site、hotlines、groups）")
    return data or {}


def validate_org(data: dict) -> None:
    """Check the whole directory before anything is written; raise OrgFileError at the first problem."""
    _parse(data)


# --- importing ---------------------------------------------------------------------------------

OUTCOMES = ("created", "updated", "unchanged", "removed", "kept")


def _person_columns(prefix: str, who: Person, with_ids: bool = True) -> dict:
    values = {f"{prefix}_name": who.name, f"{prefix}_phone": who.phone}
    if with_ids:
        values[f"{prefix}_ids"] = dict(who.ids)
    return values


class _Importer:
    """Upserts rows keyed by their names and counts what happened to each kind."""

    KEYS = {
        "subdistricts": (Subdistrict, lambda row: row.name),
        "communities": (Community, lambda row: row.name),
        "grids": (Grid, lambda row: (row.community_id, row.name)),
        "compounds": (Compound, lambda row: row.name),
        "aliases": (CompoundAlias, lambda row: row.alias),
        "buildings": (Building, lambda row: (row.compound_id, row.number)),
        "bindings": (GroupBinding, lambda row: (row.platform, row.group_id)),
        "hotlines": (Hotline, lambda row: (row.scope, row.scope_name, row.kind)),
    }

    def __init__(self, session: Session):
        self.session = session
        self.rows = {kind: {key(row): row for row in session.scalars(select(model).order_by(model.id))}
                     for kind, (model, key) in self.KEYS.items()}
        self.seen: dict[str, set] = {kind: set() for kind in KINDS}
        self.counts = {kind: dict.fromkeys(OUTCOMES, 0) for kind in KINDS}

    def put(self, kind: str, values: dict):
        """The row of `kind` with these values, created or updated in place."""
        model, key_of = self.KEYS[kind]
        row = model(**values)
        key = key_of(row)
        existing = self.rows[kind].get(key)
        if existing is None:
            self.session.add(row)
            self.session.flush()  # children need its id
            self.rows[kind][key] = row
            outcome = "created"
        else:
            row, outcome = existing, "unchanged"
            for column, value in values.items():
                if getattr(row, column) != value:
                    setattr(row, column, value)
                    outcome = "updated"
        self.seen[kind].add(key)
        self.counts[kind][outcome] += 1
        return row

    def finish(self) -> dict:
        """Remove what left the file, except what tickets may refer to, which is counted as kept."""
        for kind in KINDS:
            for key, row in self.rows[kind].items():
                if key in self.seen[kind]:
                    continue
                if kind in KEPT_KINDS:
                    self.counts[kind]["kept"] += 1
                else:
                    self.session.delete(row)
                    self.counts[kind]["removed"] += 1
        self.session.flush()
        self.session.expire_all()  # collections loaded earlier (compound.buildings …) are stale
        return self.counts

    def hotlines(self, scope: str, scope_name: str, entries: list[HotlineEntry]) -> None:
        for entry in entries:
            self.put("hotlines", {"scope": scope, "scope_name": scope_name, "kind": entry.kind,
                                  "name": entry.name, "number": entry.number})

    def compound(self, entry: CompoundEntry, grid: Grid) -> Compound:
        compound = self.put("compounds", {
            "name": entry.name, "grid_id": grid.id, "branch_name": entry.branch,
            **_person_columns("secretary", entry.secretary),
            "property_company": entry.property_company, "property_hotline": entry.property_hotline,
            **_person_columns("owners_committee", entry.owners_committee, with_ids=False)})
        for alias in entry.aliases:
            self.put("aliases", {"alias": alias, "compound_id": compound.id})
        for building in entry.buildings:
            self.put("buildings", {"compound_id": compound.id, "number": building.number,
                                   **_person_columns("leader", building.leader)})
        self.hotlines("compound", entry.name, entry.hotlines)
        return compound


def import_org(session: Session, data: dict) -> dict:
    """Check, then upsert the directory in the caller's transaction. Returns, per kind, how many
    rows were created, updated, unchanged, removed (aliases, buildings, bindings, hotlines) or
    kept though no longer in the file (subdistricts, communities, grids, compounds)."""
    site = _parse(data)
    importer = _Importer(session)
    importer.hotlines("site", "", site.hotlines)
    compounds = {}
    for sub in site.subdistricts:
        sub_row = importer.put("subdistricts", {"name": sub.name, **_person_columns("secretary", sub.secretary)})
        for com in sub.communities:
            com_row = importer.put("communities", {"name": com.name, "subdistrict_id": sub_row.id,
                                                   "office_hours": com.office_hours,
                                                   **_person_columns("secretary", com.secretary)})
            importer.hotlines("community", com.name, com.hotlines)
            for grid in com.grids:
                grid_row = importer.put("grids", {"name": grid.name, "community_id": com_row.id,
                                                  **_person_columns("worker", grid.worker)})
                for entry in grid.compounds:
                    compounds[entry.name] = importer.compound(entry, grid_row)
    for binding in site.groups:
        importer.put("bindings", {"platform": binding.platform, "group_id": binding.group_id,
                                  "compound_id": compounds[binding.compound].id})
    return importer.finish()


def import_org_file(engine: Engine, path: str | Path) -> dict:
    """Read, check and import an org file in one transaction: all of it or nothing."""
    data = load_org_file(path)
    validate_org(data)
    with Session(engine, future=True) as session, session.begin():
        return import_org(session, data)


KIND_ZH = {"subdistricts": "街道", "communities": "社区", "grids": "网格", "compounds": "小区",
           "aliases": "小区别名", "buildings": "楼栋", "bindings": "群绑定", "hotlines": "热线"}
OUTCOME_ZH = {"created": "新增", "updated": "更新", "unchanged": "未变", "removed": "删除", "kept": "保留"}


def summary_text(counts: dict) -> str:
    """The import summary for the clerk, a line a kind: `小区：新增 7，更新 0，未变 0，保留 0`."""
    lines = []
    for kind in KINDS:
        impossible = "removed" if kind in KEPT_KINDS else "kept"
        lines.append(f"{KIND_ZH[kind]}：" + "，".join(
            f"{OUTCOME_ZH[outcome]} {counts[kind][outcome]}" for outcome in OUTCOMES if outcome != impossible))
    kept = sum(counts[kind]["kept"] for kind in KEPT_KINDS)
    if kept:
        lines.append(f"保留：{kept} 项已不在文件里，因为工单可能用到它们，没有删除")
    return "\n".join(lines)


# --- lookups -----------------------------------------------------------------------------------

def find_compound(session: Session, name: str) -> Compound | None:
    """The compound called `name` or known by it as an alias; spaces around it, full-width
    characters and a trailing 小区 make no difference (金御城小区 finds 金御城 and vice versa)."""
    if not name or not name.strip():
        return None
    text = name.strip()
    exact = session.scalars(select(Compound).where(Compound.name == text)).first()
    if exact is None:
        exact = session.scalars(select(Compound).join(CompoundAlias)
                                .where(CompoundAlias.alias == text)).first()
    if exact is not None:
        return exact
    key = name_key(text)
    if not key:
        return None
    for compound in session.scalars(select(Compound).order_by(Compound.id)):
        if name_key(compound.name) == key:
            return compound
    alias = next((a for a in session.scalars(select(CompoundAlias).order_by(CompoundAlias.id))
                  if name_key(a.alias) == key), None)
    return alias.compound if alias else None


def compound_for_group(session: Session, platform: str, group_id: str) -> Compound | None:
    """The compound a chat group is bound to (群绑定)."""
    binding = session.scalars(select(GroupBinding).where(
        GroupBinding.platform == platform, GroupBinding.group_id == str(group_id))).first()
    return binding.compound if binding else None


def hotlines_for(session: Session, compound: Compound) -> dict[str, str]:
    """Kind → number for a compound: its own numbers beat its community's, which beat the
    site-wide ones. The property company's hotline counts as the compound's `property` number."""
    scopes = [("site", ""), ("community", compound.grid.community.name), ("compound", compound.name)]
    rows = session.scalars(select(Hotline).where(
        or_(*(and_(Hotline.scope == scope, Hotline.scope_name == name) for scope, name in scopes))))
    by_scope = {(row.scope, row.scope_name, row.kind): row.number for row in rows}
    numbers: dict[str, str] = {}
    for scope, scope_name in scopes:
        if scope == "compound" and compound.property_hotline:
            numbers["property"] = compound.property_hotline
        for kind in HOTLINE_KINDS:
            if (scope, scope_name, kind) in by_scope:
                numbers[kind] = by_scope[scope, scope_name, kind]
    return numbers


def office_hours_for(compound: Compound | None) -> office_hours.OfficeHours:
    """When staff answer residents of `compound`: its community's office hours, else the default."""
    text = compound.grid.community.office_hours if compound else None
    return office_hours.parse(text) if text else office_hours.default_hours()


def compound_names(session: Session) -> list[str]:
    """Every compound name and alias, for the location extractor."""
    names = set(session.scalars(select(Compound.name))) | set(session.scalars(select(CompoundAlias.alias)))
    return sorted(names)


def building_leader(session: Session, compound: Compound, number: str | int) -> Building | None:
    """The building (楼栋) with its leader (楼栋长); `number` may be 7, "七", "07" or "b"."""
    normalized = normalized_number(width_normalized(str(number)))
    if normalized is None:
        return None
    return session.scalars(select(Building).where(Building.compound_id == compound.id,
                                                  Building.number == normalized)).first()


# --- showing -----------------------------------------------------------------------------------

def _number_order(number: str) -> tuple:
    return (0, int(number), "") if number.isdigit() else (1, 0, number)


def _who(role: str, name: str | None, phone: str | None, ids: dict | None = None) -> str:
    if not name and not phone:
        return f"{role}（未填写）"
    parts = [role, name or "?"]
    if phone:
        parts.append(mask_phone(phone))
    if ids:
        parts.append("[" + ", ".join(f"{platform}:{user}" for platform, user in sorted(ids.items())) + "]")
    return " ".join(parts)


_MOBILE = re.compile(r"1[3-9]\d{9}")


def _public_number(number: str | None) -> str:
    """Service hotlines are public and shown in full; a mobile number given as one is masked."""
    number = (number or "").strip()
    return mask_phone(number) if _MOBILE.fullmatch(number) else number


def _hotline_lines(rows: list[Hotline], indent: str) -> list[str]:
    order = {kind: i for i, kind in enumerate(HOTLINE_KINDS)}
    return [f"{indent}热线 {row.kind}: {row.name + ' ' if row.name else ''}{_public_number(row.number)}"
            for row in sorted(rows, key=lambda r: order.get(r.kind, len(order)))]


def org_tree(session: Session) -> str:
    """The directory as an indented tree, phone numbers masked (for `python -m bot org show`)."""
    hotlines: dict[tuple[str, str], list[Hotline]] = {}
    for row in session.scalars(select(Hotline)):
        hotlines.setdefault((row.scope, row.scope_name), []).append(row)
    groups: dict[int, list[GroupBinding]] = {}
    for row in session.scalars(select(GroupBinding).order_by(GroupBinding.platform, GroupBinding.group_id)):
        groups.setdefault(row.compound_id, []).append(row)
    subdistricts = list(session.scalars(select(Subdistrict).order_by(Subdistrict.name)))
    if not subdistricts:
        return "组织架构为空：请用 python -m bot org import FILE.yml 导入"
    lines = _hotline_lines(hotlines.get(("site", ""), []), "")
    for sub in subdistricts:
        lines.append(f"街道 {sub.name}  {_who('书记', sub.secretary_name, sub.secretary_phone, sub.secretary_ids)}")
        for com in sub.communities:
            hours = f"  办公时间 {com.office_hours}" if com.office_hours else ""
            lines.append(f"  社区 {com.name}  "
                         f"{_who('书记', com.secretary_name, com.secretary_phone, com.secretary_ids)}{hours}")
            lines += _hotline_lines(hotlines.get(("community", com.name), []), "    ")
            for grid in com.grids:
                lines.append(f"    网格 {grid.name}  {_who('网格员', grid.worker_name, grid.worker_phone, grid.worker_ids)}")
                for compound in grid.compounds:
                    lines += _compound_lines(compound, hotlines.get(("compound", compound.name), []),
                                             groups.get(compound.id, []))
    return "\n".join(lines)


def _compound_lines(compound: Compound, hotlines: list[Hotline], groups: list[GroupBinding]) -> list[str]:
    indent = "        "
    aliases = sorted(a.alias for a in compound.aliases)
    lines = [f"      小区 {compound.name}" + (f" (又名 {'、'.join(aliases)})" if aliases else "")]
    branch = f"{compound.branch_name} " if compound.branch_name else ""
    lines.append(f"{indent}党支部 {branch}"
                 f"{_who('书记', compound.secretary_name, compound.secretary_phone, compound.secretary_ids)}")
    if compound.property_company:
        hotline = f" {_public_number(compound.property_hotline)}" if compound.property_hotline else ""
        lines.append(f"{indent}物业 {compound.property_company}{hotline}")
    if compound.owners_committee_name or compound.owners_committee_phone:
        lines.append(f"{indent}{_who('业委会', compound.owners_committee_name, compound.owners_committee_phone)}")
    lines += _hotline_lines(hotlines, indent)
    for building in sorted(compound.buildings, key=lambda b: _number_order(b.number)):
        lines.append(f"{indent}{building.number}栋 "
                     f"{_who('楼栋长', building.leader_name, building.leader_phone, building.leader_ids)}")
    for group in groups:
        lines.append(f"{indent}群 {group.platform}:{group.group_id}")
    return lines
