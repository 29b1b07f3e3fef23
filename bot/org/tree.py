"""The directory as an indented tree for the clerk (`python -m bot org show`), phone numbers masked."""
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Compound, GroupBinding, Hotline, Subdistrict
from bot.org.entries import HOTLINE_KINDS
from bot.privacy import mask_phone


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
