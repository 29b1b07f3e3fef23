"""Importing an org file: upserted in one transaction, keyed by names, so re-importing a corrected
file updates rows in place and tickets keep pointing at their compound. Compounds, grids,
communities and subdistricts that leave the file are kept (tickets reference them); aliases,
buildings, group bindings and hotlines that leave it are removed."""
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.models import (Building, Community, Compound, CompoundAlias, GroupBinding, Grid, Hotline,
                        Subdistrict)
from bot.org.entries import CompoundEntry, HotlineEntry, PersonEntry
from bot.org.file import load_org_file, read_site, validate_org

KINDS = ("subdistricts", "communities", "grids", "compounds", "aliases", "buildings", "bindings",
         "hotlines")
KEPT_KINDS = ("subdistricts", "communities", "grids", "compounds")  # never deleted: tickets need them
OUTCOMES = ("created", "updated", "unchanged", "removed", "kept")


def _person_columns(prefix: str, who: PersonEntry, with_ids: bool = True) -> dict:
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
    site = read_site(data)
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
