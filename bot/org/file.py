"""Reading and checking an org file (组织架构): every problem is an OrgFileError in Chinese for the
clerk, naming the entry and the field, found before anything is written."""
from pathlib import Path
from typing import Any

import yaml

from bot import office_hours
from bot.normalize import normalized_number, width_normalized
from bot.org.entries import (HOTLINE_KINDS, PLATFORMS, BindingEntry, BuildingEntry, CommunityEntry, CompoundEntry,
                             GridEntry, HotlineEntry, OrgFileError, PersonEntry, Site, SubdistrictEntry, name_key)


class _Position:
    """Where a value sits in the file, for error messages: `subdistricts[0].communities[1] (光明社区)`."""

    def __init__(self, path: str, label: str | None = None):
        self.path, self.label = path, label

    def child(self, path: str, label: str | None = None) -> "_Position":
        return _Position(f"{self.path}.{path}" if self.path else path, label)

    def __str__(self) -> str:
        where = self.path or "文件顶层"
        return f"{where} ({self.label})" if self.label else where

    def error(self, field_name: str, problem: str) -> OrgFileError:
        return OrgFileError(f"{self}：字段 '{field_name}' {problem}")


_QUOTE_HINT = '必须是字符串（请加引号，如 "13800000001"）'


def _mapping(value: Any, where: _Position, field_name: str | None, known: tuple[str, ...]) -> dict:
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


def _text(data: dict, key: str, where: _Position, required: bool = False, prefix: str = "",
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


def _list(data: dict, key: str, where: _Position) -> list:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(key, "应是列表（每一项以“- ”开头）")
    return value


def _ids(value: Any, where: _Position, name: str) -> dict:
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


def _person(data: dict, key: str, where: _Position, with_ids: bool = True) -> PersonEntry:
    value = data.get(key)
    if value is None:
        return PersonEntry()
    known = ("name", "phone", "ids") if with_ids else ("name", "phone")
    value = _mapping(value, where, key, known)
    return PersonEntry(name=_text(value, "name", where, required=True, prefix=f"{key}."),
                  phone=_text(value, "phone", where, prefix=f"{key}.", hint=_QUOTE_HINT),
                  ids=_ids(value.get("ids"), where, f"{key}.ids"))


def _office_hours(data: dict, where: _Position) -> str | None:
    """A community's office hours, checked so that the bot can tell residents when staff answer."""
    text = _text(data, "office_hours", where)
    if text:
        try:
            office_hours.parse(text)
        except office_hours.OfficeHoursError as error:
            raise where.error("office_hours", f"读不懂：{error}") from None
    return text


def _hotlines(data: dict, where: _Position) -> list[HotlineEntry]:
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


def _building(item: Any, where: _Position) -> BuildingEntry:
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


def _compound(item: Any, where: _Position) -> CompoundEntry:
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


class _Reader:
    """Reads the file top-down, remembering what the site already has, to catch duplicates."""

    def __init__(self):
        self.communities: dict[str, _Position] = {}
        self.compound_keys: dict[str, tuple[str, _Position]] = {}  # name key → (compound name, entry)
        self.bound: dict[tuple[str, str], _Position] = {}

    def site(self, data: Any) -> Site:
        top = _Position("")
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

    def subdistrict(self, raw: Any, where: _Position) -> SubdistrictEntry:
        raw = _mapping(raw, where, None, ("name", "secretary", "communities"))
        name = _text(raw, "name", where, required=True)
        return SubdistrictEntry(name, _person(raw, "secretary", where),
                                [self.community(item, where.child(f"communities[{i}]"))
                                 for i, item in enumerate(_list(raw, "communities", where))])

    def community(self, raw: Any, where: _Position) -> CommunityEntry:
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

    def grid(self, raw: Any, where: _Position) -> GridEntry:
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

    def _claim(self, text: str, compound: str, where: _Position, field_name: str, own_ok: bool = True) -> None:
        """`text` names `compound`; no other compound may be known by it (after name_key)."""
        key = name_key(text)
        owner = self.compound_keys.get(key)
        if owner and (owner[0] != compound or not own_ok):
            raise where.error(field_name, f"'{text}' 已被{owner[0]}使用（{owner[1].path}）")
        self.compound_keys.setdefault(key, (compound, where))

    def group(self, raw: Any, where: _Position) -> BindingEntry:
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


def read_site(data: Any) -> Site:
    """The checked directory, entry by entry; raises OrgFileError at the first problem."""
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
    read_site(data)
