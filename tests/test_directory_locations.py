"""Compound names come from the org directory in the database while the bot runs: an import
reaches parsing within seconds, without retraining, and a database fault never stops parsing."""
import logging
import sqlite3

import pytest
import yaml
from sqlalchemy.orm import Session

from bot.locations import DirectoryLocations
from bot.org import compound_names, find_compound, import_org_file


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write_site(tmp_path, compounds: list[dict]):
    """An org file with one subdistrict, community and grid holding `compounds`."""
    site = {"subdistricts": [{"name": "青山街道", "communities": [{"name": "湖滨社区", "grids": [
        {"name": "湖滨第一网格", "compounds": compounds}]}]}]}
    path = tmp_path / "site.yml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def names_in(engine):
    def read() -> list[str]:
        with Session(engine, future=True) as session:
            return compound_names(session)
    return read


def test_an_imported_directory_is_read_without_retraining(engine, tmp_path):
    clock = Clock()
    locations = DirectoryLocations(names_in(engine), fallback=["金御城"], every=5, clock=clock)
    assert locations.fields("金御城停电了") == {"compound": "金御城"}  # an empty directory: the training names

    import_org_file(engine, write_site(tmp_path, [{"name": "翠湖湾", "aliases": ["翠湖"]}]))
    assert "compound" not in locations.fields("翠湖3栋电梯坏了")  # not looked at again yet
    clock.now += 5
    found = locations.fields("翠湖3栋电梯坏了")
    assert found == {"compound": "翠湖", "building": "3"}
    with Session(engine, future=True) as session:
        assert find_compound(session, found["compound"]).name == "翠湖湾"
    assert "compound" not in locations.fields("金御城停电了")  # the directory replaces the training names

    import_org_file(engine, write_site(tmp_path, [{"name": "翠湖湾", "aliases": ["翠湖"]}, {"name": "天鹅堡"}]))
    clock.now += 5
    assert locations.fields("天鹅堡2单元门禁坏了") == {"compound": "天鹅堡", "unit": "2"}
    assert locations.fields("翠湖湾小区垃圾没人收")["compound"] == "翠湖湾"


def test_the_pipeline_is_rebuilt_only_when_the_names_change(engine, tmp_path):
    import_org_file(engine, write_site(tmp_path, [{"name": "翠湖湾", "aliases": ["翠湖"]}]))
    clock = Clock()
    locations = DirectoryLocations(names_in(engine), every=5, clock=clock)
    first = locations.current()
    clock.now += 5
    assert locations.current() is first
    import_org_file(engine, write_site(tmp_path, [{"name": "翠湖湾", "aliases": ["翠湖", "翠湖湾畔"]}]))
    clock.now += 5
    assert locations.current() is not first
    assert locations.fields("翠湖湾畔5号楼停水")["compound"] == "翠湖湾畔"


def test_a_database_fault_keeps_the_names_in_use(caplog):
    answers = [["翠湖湾", "翠湖"], RuntimeError("database is down"), RuntimeError("still down"), []]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = Clock()
    locations = DirectoryLocations(read, fallback=["金御城"], every=5, clock=clock)
    assert locations.fields("翠湖3栋电梯坏了")["compound"] == "翠湖"
    with caplog.at_level(logging.WARNING, logger="bot.locations"):
        for _ in range(2):
            clock.now += 5
            assert locations.fields("翠湖3栋电梯坏了")["compound"] == "翠湖"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1  # logged once, not every check
    clock.now += 5
    assert locations.fields("金御城停电了") == {"compound": "金御城"}  # emptied: the training names again


def test_the_rasa_component_reads_the_directory_in_database_url(tmp_path, monkeypatch):
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.db import make_engine, shared_engine
    from bot.migrate import upgrade
    from nlu.location_extractor import LocationExtractor

    url = f"sqlite:///{tmp_path / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_org_file(engine, write_site(tmp_path, [{"name": "翠湖湾", "aliases": ["翠湖"]}]))
    monkeypatch.setenv("DATABASE_URL", url)
    shared_engine.cache_clear()
    try:
        component = LocationExtractor({}, None, None, ["金御城"])
        message = Message(data={TEXT: "翠湖3栋电梯坏了"})
        component.process([message])
        assert {(e["entity"], e["value"]) for e in message.get(ENTITIES)} == {("compound", "翠湖"), ("building", "3")}
    finally:
        shared_engine().dispose()
        shared_engine.cache_clear()
        engine.dispose()


def test_the_rasa_component_parses_when_the_database_has_no_directory(tmp_path, monkeypatch):
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.db import shared_engine
    from nlu.location_extractor import LocationExtractor

    never_migrated, absent = tmp_path / "never_migrated.db", tmp_path / "absent.db"
    sqlite3.connect(never_migrated).close()
    for path in (never_migrated, absent):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
        shared_engine.cache_clear()
        try:
            message = Message(data={TEXT: "金御城停电了"})
            LocationExtractor({}, None, None, ["金御城"]).process([message])
            assert [(e["entity"], e["value"]) for e in message.get(ENTITIES)] == [("compound", "金御城")]
        finally:
            shared_engine().dispose()
            shared_engine.cache_clear()
    assert not absent.exists()  # looking for a directory creates no database


@pytest.mark.parametrize("written, name", [
    ("翠湖", "翠湖湾"), ("翠湖小区", "翠湖湾"), ("翠湖湾小区", "翠湖湾"), (" 翠湖湾 ", "翠湖湾"),
    ("新华·悦府", "新华悦府"), ("新华・悦府小区", "新华悦府"), ("ＸＨ悦府", "新华悦府"), ("湖滨", None),
])
def test_a_compound_is_found_by_its_name_or_alias_as_written(engine, tmp_path, written, name):
    import_org_file(engine, write_site(tmp_path, [{"name": "翠湖湾", "aliases": ["翠湖"]},
                                                  {"name": "新华悦府", "aliases": ["xh悦府"]}]))
    with Session(engine, future=True) as session:
        found = find_compound(session, written)
        assert (found.name if found else None) == name
