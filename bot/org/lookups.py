"""What the rest of the bot asks the directory: who is responsible for a compound, which compound
a name or a group means, its hotlines, office hours and buildings."""
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot import office_hours
from bot.conversations import sender_id
from bot.models import Building, Compound, CompoundAlias, GroupBinding, Grid, Hotline
from bot.normalize import normalized_number, width_normalized
from bot.org.entries import HOTLINE_KINDS, name_key


@dataclass(frozen=True)
class Person:
    """Someone responsible for a compound, in the role they answer for it."""
    role: str
    name: str | None
    phone: str | None
    ids: dict

    def recipient(self, preferred_platform: str) -> str | None:
        """Where to reach this person one-to-one: on the platform the report came from when they
        are known there, else on the first platform they are known on."""
        ids = self.ids or {}
        platform = preferred_platform if ids.get(preferred_platform) else next(iter(sorted(ids)), None)
        return sender_id(platform, None, str(ids[platform])) if platform else None


def branch_secretary(compound: Compound) -> Person:
    """The compound's party branch secretary (小区党支部书记), who has its tickets at the grid level."""
    return Person("小区党支部书记", compound.secretary_name, compound.secretary_phone, compound.secretary_ids)


def grid_worker(grid: Grid) -> Person:
    """The grid's worker (网格员), told of every ticket of its compounds."""
    return Person("网格员", grid.worker_name, grid.worker_phone, grid.worker_ids)


def chain_of(compound: Compound) -> dict[str, Person]:
    """Who answers for a compound at each level a ticket climbs: `grid` (its branch secretary),
    `community` and `subdistrict` (their secretaries), and the grid's worker (`grid_worker`)."""
    community = compound.grid.community
    subdistrict = community.subdistrict
    return {
        "grid": branch_secretary(compound),
        "grid_worker": grid_worker(compound.grid),
        "community": Person("社区书记", community.secretary_name, community.secretary_phone, community.secretary_ids),
        "subdistrict": Person("街道书记", subdistrict.secretary_name, subdistrict.secretary_phone,
                              subdistrict.secretary_ids),
    }


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
