"""The org directory (组织架构): importing the YAML file, lookups, the tree and the command line."""
import subprocess
import sys

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (Building, Community, Compound, CompoundAlias, GroupBinding, Grid, Hotline,
                        Subdistrict)
from bot.org import (OrgFileError, building_leader, compound_for_group, compound_names, find_compound,
                     hotlines_for, import_org, import_org_file, load_org_file, org_tree, validate_org)
from bot.org.importing import _Importer
from conftest import ROOT, project_env

SAMPLE = ROOT / "org" / "sample_site.yml"
ORG_MODELS = (Subdistrict, Community, Grid, Compound, CompoundAlias, Building, GroupBinding, Hotline)
JINYUCHENG_PATH = "subdistricts[0].communities[0].grids[0].compounds[0]"
JINYUCHENG = f"{JINYUCHENG_PATH} (金御城)"


def snapshot(engine) -> dict:
    """Every row of every org table, ids included."""
    with Session(engine, future=True) as session:
        return {model.__tablename__: [tuple(getattr(row, c.key) for c in model.__table__.columns)
                                      for row in session.scalars(select(model).order_by(model.id))]
                for model in ORG_MODELS}


def sample() -> dict:
    return load_org_file(SAMPLE)


def write(tmp_path, data: dict, name: str = "site.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def compound_entry(data: dict, name: str) -> dict:
    for sub in data["subdistricts"]:
        for community in sub["communities"]:
            for grid in community["grids"]:
                for compound in grid["compounds"]:
                    if compound["name"] == name:
                        return compound
    raise KeyError(name)


def totals(counts: dict, outcome: str) -> int:
    return sum(kind[outcome] for kind in counts.values())


# --- importing ---------------------------------------------------------------------------------

def test_sample_site_imports(engine):
    counts = import_org_file(engine, SAMPLE)
    assert counts["compounds"]["created"] == 7
    assert counts["communities"]["created"] == 2
    assert counts["grids"]["created"] >= 3
    assert totals(counts, "updated") == totals(counts, "removed") == totals(counts, "kept") == 0
    with Session(engine, future=True) as session:
        jinyucheng = find_compound(session, "金御城")
        assert jinyucheng.secretary_name == "张书记"
        assert jinyucheng.secretary_ids == {"wecom": "zhangsj", "dingtalk": "01230004"}
        assert jinyucheng.grid.community.subdistrict.name == "幸福街道"
        assert jinyucheng.property_company == "安居物业"
        for compound in session.scalars(select(Compound)):
            assert compound.secretary_name and compound.property_company and compound.property_hotline
            assert compound.owners_committee_name
            assert 3 <= len(compound.buildings) <= 6
            assert all(b.leader_name and b.leader_phone for b in compound.buildings)
        platforms = set(session.scalars(select(GroupBinding.platform)))
        assert platforms == {"wecom", "dingtalk", "feishu", "onebot", "matrix", "rest"}


def test_sample_names_are_the_nlu_lookup_list(engine):
    lookup = yaml.safe_load((ROOT / "nlu_data" / "lookup" / "compounds.yml").read_text(encoding="utf-8"))
    listed = {line.lstrip("- ").strip() for line in lookup["nlu"][0]["examples"].splitlines() if line.strip()}
    import_org_file(engine, SAMPLE)
    with Session(engine, future=True) as session:
        assert set(compound_names(session)) == listed


def test_importing_twice_changes_nothing(engine):
    import_org_file(engine, SAMPLE)
    before = snapshot(engine)
    counts = import_org_file(engine, SAMPLE)
    assert totals(counts, "created") == totals(counts, "updated") == totals(counts, "removed") == 0
    assert counts["compounds"]["unchanged"] == 7 and counts["buildings"]["unchanged"] == 28
    assert snapshot(engine) == before


def test_a_changed_file_updates_in_place(engine, tmp_path):
    import_org_file(engine, SAMPLE)
    with Session(engine, future=True) as session:
        old_id = find_compound(session, "金御城").id
        building_ids = {b.number: b.id for b in find_compound(session, "金御城").buildings}
    data = sample()
    jinyucheng = compound_entry(data, "金御城")
    jinyucheng["secretary"]["name"] = "张新书记"
    jinyucheng["aliases"].append("金御")
    jinyucheng["buildings"] = [b for b in jinyucheng["buildings"] if b["number"] != 12]
    counts = import_org_file(engine, write(tmp_path, data))
    assert counts["compounds"] == {"created": 0, "updated": 1, "unchanged": 6, "removed": 0, "kept": 0}
    assert counts["aliases"]["created"] == 1 and counts["buildings"]["removed"] == 1
    with Session(engine, future=True) as session:
        compound = find_compound(session, "金御")
        assert compound.id == old_id
        assert compound.secretary_name == "张新书记"
        assert {b.number: b.id for b in compound.buildings} == {n: i for n, i in building_ids.items() if n != "12"}


def test_a_compound_left_out_is_kept_but_loses_its_aliases_and_groups(engine, tmp_path):
    import_org_file(engine, SAMPLE)
    with Session(engine, future=True) as session:
        wangjiang_id = find_compound(session, "望江华庭").id
    data = sample()
    grid = data["subdistricts"][0]["communities"][1]["grids"][1]
    grid["compounds"] = []  # 望江华庭
    data["groups"] = [g for g in data["groups"] if g["compound"] != "望江华庭"]
    counts = import_org_file(engine, write(tmp_path, data))
    assert counts["compounds"]["kept"] == 1
    assert counts["aliases"]["removed"] == 1 and counts["bindings"]["removed"] == 1
    assert counts["buildings"]["removed"] == 3 and counts["hotlines"]["removed"] == 2
    with Session(engine, future=True) as session:
        assert session.scalars(select(Compound).where(Compound.name == "望江华庭")).one()
        assert compound_for_group(session, "rest", "wangjiang-demo") is None
    counts = import_org_file(engine, SAMPLE)  # put back: the same row, complete again
    assert counts["compounds"]["updated"] == 0 and counts["buildings"]["created"] == 3
    with Session(engine, future=True) as session:
        assert compound_for_group(session, "rest", "wangjiang-demo").id == wangjiang_id


def test_a_failure_half_way_leaves_nothing_imported(engine, tmp_path, monkeypatch):
    import_org_file(engine, SAMPLE)
    before = snapshot(engine)
    data = sample()
    data["subdistricts"][0]["secretary"]["name"] = "刘新书记"  # written before the failure
    compound_entry(data, "望江华庭")["secretary"]["name"] = "苏新书记"
    real, calls = _Importer.compound, []

    def failing(importer, entry, grid):
        calls.append(entry.name)
        if len(calls) == 4:
            importer.session.flush()  # what came before really reached the database
            raise RuntimeError("database went away")
        return real(importer, entry, grid)

    monkeypatch.setattr(_Importer, "compound", failing)
    with pytest.raises(RuntimeError):
        import_org_file(engine, write(tmp_path, data))
    assert len(calls) == 4
    assert snapshot(engine) == before


def test_import_org_runs_in_the_callers_transaction(engine):
    with pytest.raises(RuntimeError):
        with Session(engine, future=True) as session, session.begin():
            import_org(session, sample())
            raise RuntimeError("the caller changes its mind")
    assert all(rows == [] for rows in snapshot(engine).values())


# --- bad files ---------------------------------------------------------------------------------

def _missing_compound_name(data):
    del data["subdistricts"][0]["communities"][0]["grids"][0]["compounds"][1]["name"]


def _phone_as_number(data):
    compound_entry(data, "金御城")["secretary"]["phone"] = 13800000004


def _alias_used_twice(data):
    compound_entry(data, "翠柳苑")["aliases"].append("金御城小区")


def _binding_to_unknown_compound(data):
    data["groups"][0]["compound"] = "金玉城"


def _bad_building_number(data):
    compound_entry(data, "金御城")["buildings"][1]["number"] = "7号"


def _same_building_twice(data):
    compound_entry(data, "金御城")["buildings"][1]["number"] = "七"  # 7 is listed too


def _unknown_hotline_kind(data):
    data["hotlines"][0]["kind"] = "gas"


def _group_bound_twice(data):
    data["groups"].append({"platform": "wecom", "group_id": "wrOgQhDgAAJinYuCheng01", "compound": "翠柳苑"})


def _misspelt_field(data):
    compound_entry(data, "金御城")["secretery"] = compound_entry(data, "金御城").pop("secretary")


BAD_FILES = [
    (_missing_compound_name, ["subdistricts[0].communities[0].grids[0].compounds[1]：", "字段 'name' 必须填写"]),
    (_phone_as_number, [f"{JINYUCHENG}：字段 'secretary.phone' 必须是字符串（请加引号"]),
    (_alias_used_twice, ["compounds[1] (翠柳苑)：字段 'aliases[1]'", "金御城小区", "已被金御城使用"]),
    (_binding_to_unknown_compound, ["groups[0] (wecom wrOgQhDgAAJinYuCheng01)：字段 'compound'", "金玉城"]),
    (_bad_building_number, [f"{JINYUCHENG_PATH}.buildings[1] (金御城)：字段 'number'", "7号"]),
    (_same_building_twice, [f"{JINYUCHENG_PATH}.buildings[3] (金御城)：字段 'number' 重复了楼号 7",
                           "已写在 buildings[1]"]),
    (_unknown_hotline_kind, ["hotlines[0] (城市燃气抢修)：字段 'kind' 必须是 gas_company", "'gas'"]),
    (_group_bound_twice, ["groups[8] (wecom wrOgQhDgAAJinYuCheng01)：字段 'group_id'", "已在 groups[0] 绑定过"]),
    (_misspelt_field, [f"{JINYUCHENG}：字段 'secretery' 不是可用的字段"]),
]


@pytest.mark.parametrize("spoil, expected", BAD_FILES, ids=[spoil.__name__.strip("_") for spoil, _ in BAD_FILES])
def test_a_bad_file_names_the_entry_and_field_and_changes_nothing(engine, tmp_path, spoil, expected):
    import_org_file(engine, SAMPLE)
    before = snapshot(engine)
    data = sample()
    spoil(data)
    with pytest.raises(OrgFileError) as error:
        import_org_file(engine, write(tmp_path, data))
    for text in expected:
        assert text in str(error.value)
    assert snapshot(engine) == before
    with pytest.raises(OrgFileError):
        validate_org(data)


def test_a_yaml_syntax_error_names_the_file_and_line(engine, tmp_path):
    import_org_file(engine, SAMPLE)
    before = snapshot(engine)
    bad = tmp_path / "broken.yml"
    bad.write_text("subdistricts:\n  - name: 幸福街道\n    secretary: {name: 刘书记, phone: \"138\n",
                   encoding="utf-8")
    with pytest.raises(OrgFileError, match=r"broken\.yml 第\d+行"):
        import_org_file(engine, bad)
    assert snapshot(engine) == before


# --- lookups -----------------------------------------------------------------------------------

@pytest.fixture
def session(engine, tmp_path):
    data = sample()
    compound_entry(data, "望江华庭")["aliases"].append("SOHO望江")
    import_org_file(engine, write(tmp_path, data))
    with Session(engine, future=True) as session:
        yield session


@pytest.mark.parametrize("asked, found", [
    ("金御城", "金御城"), ("金御城小区", "金御城"), ("  金御城小区\u3000", "金御城"),
    ("和平里", "和平里小区"), ("和平里小区", "和平里小区"), ("春晖园", "春晖家园"), ("春晖园小区", "春晖家园"),
    ("翠柳苑小区", "翠柳苑"), ("玉兰小区", "玉兰花园"), ("ＳＯＨＯ望江", "望江华庭"), ("soho望江小区", "望江华庭"),
    ("幸福家园", None), ("", None), ("小区", None),
])
def test_find_compound(session, asked, found):
    compound = find_compound(session, asked)
    assert (compound.name if compound else None) == found


def test_hotlines_compound_beats_community_beats_site(session):
    wangjiang = hotlines_for(session, find_compound(session, "望江华庭"))
    chunhui = hotlines_for(session, find_compound(session, "春晖家园"))
    jinyucheng = hotlines_for(session, find_compound(session, "金御城"))
    assert wangjiang["heat_company"] == "010-80000091"   # the compound's own
    assert chunhui["heat_company"] == "010-80000090"     # 和谐社区's
    assert jinyucheng["heat_company"] == "96069"         # site-wide
    assert jinyucheng["lift_company"] == "400-000-0001"
    assert chunhui["lift_company"] == "96333"
    assert jinyucheng["gas_company"] == chunhui["gas_company"] == "96777"
    assert jinyucheng["property"] == "010-80000001"
    assert "police" not in jinyucheng


def test_compound_for_group(session):
    assert compound_for_group(session, "wecom", "wrOgQhDgAAJinYuCheng01").name == "金御城"
    assert compound_for_group(session, "dingtalk", "cidJinYuCheng02==").name == "金御城"
    assert compound_for_group(session, "onebot", "100000001").name == "东风新村"
    assert compound_for_group(session, "matrix", "!chunhui:matrix.example.org").name == "春晖家园"
    assert compound_for_group(session, "dingtalk", "wrOgQhDgAAJinYuCheng01") is None
    assert compound_for_group(session, "wecom", "nobody") is None


def test_building_leader(session):
    jinyucheng = find_compound(session, "金御城")
    assert building_leader(session, jinyucheng, "七").leader_name == "周楼长"
    assert building_leader(session, jinyucheng, 7).leader_name == "周楼长"
    assert building_leader(session, jinyucheng, "07").leader_name == "周楼长"
    assert building_leader(session, find_compound(session, "望江华庭"), "ｂ").leader_name == "奚楼长"
    assert building_leader(session, jinyucheng, "99") is None
    assert building_leader(session, jinyucheng, "东") is None


def test_org_tree_masks_phones(session):
    tree = org_tree(session)
    assert "街道 幸福街道" in tree and "小区 金御城" in tree and "网格员 王网格员" in tree
    assert "书记 张书记 138****0004" in tree
    assert "7栋 楼栋长 周楼长 138****0009" in tree
    assert "物业 安居物业 010-80000001" in tree
    assert "群 wecom:wrOgQhDgAAJinYuCheng01" in tree
    assert "13800000004" not in tree


# --- the command line --------------------------------------------------------------------------

def run_bot(database, *args):
    env = {**project_env(), "DATABASE_URL": f"sqlite:///{database}", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_imports_shows_and_rejects(tmp_path):
    database = tmp_path / "cli.db"
    done = run_bot(database, "org", "import", str(SAMPLE))
    assert done.returncode == 0, done.stderr
    assert "小区：新增 7" in done.stdout

    data = sample()
    _phone_as_number(data)
    bad = run_bot(database, "org", "import", str(write(tmp_path, data, "bad.yml")))
    assert bad.returncode == 1
    assert f"错误：{JINYUCHENG}：字段 'secretary.phone' 必须是字符串" in bad.stderr

    shown = run_bot(database, "org", "show")
    assert shown.returncode == 0, shown.stderr
    assert "金御城" in shown.stdout and "138****0004" in shown.stdout
    assert "13800000004" not in shown.stdout


def test_cli_db_upgrade(tmp_path):
    done = run_bot(tmp_path / "fresh.db", "db", "upgrade")
    assert done.returncode == 0, done.stderr
    shown = run_bot(tmp_path / "fresh.db", "org", "show")
    assert shown.returncode == 0 and "import" in shown.stdout
