"""Another street office's directory, never trained on: once `python -m bot org import` has put it
in the database, `python -m bot eval-locations` (the live bot's parsing) finds its compounds,
by full name and by the aliases residents use, with the address around them; before the import
the same messages name no compound the bot knows.

The data: tests/data/other_site_org.yml (桐江街道, 10 compounds, none in nlu_data/) and
tests/data/other_site_locations.tsv (60 resident messages written for it).
"""
import json
import subprocess
import sys

import pytest
from sqlalchemy.orm import Session

from bot.db import make_engine
from bot.evaluation import read_rows
from bot.org import find_compound
from conftest import ROOT, project_env

DATA = ROOT / "tests" / "data"
MESSAGES = DATA / "other_site_locations.tsv"

# (message, the compound as the resident wrote it, the directory's name for it)
SHORT_ALIASES = [  # no ending (…苑, …小区, …公寓) the rules for unlisted compounds could go by
    ("翠湖那边5号楼门口堆了好多装修垃圾", "翠湖", "翠湖湾"),
    ("锦绣三栋楼下的路灯坏了一个礼拜了", "锦绣", "锦绣江南"),
    ("梧桐4号楼的垃圾桶满了好几天没人清", "梧桐", "梧桐苑"),
    ("香樟南门的道闸又抬不起来了", "香樟", "香樟里"),
    ("滨江1号 3-1802 楼上漏水", "滨江1号", "滨江一号"),
]
BY_ALIAS = SHORT_ALIASES + [
    ("幸福小区北区23号楼外墙砖掉下来了 差点砸到人", "幸福小区北区", "幸福北区"),
    ("青年汇公寓C座门禁卡刷不开", "青年汇公寓", "青年汇"),
]
# Full names with no ending the rules for unlisted compounds could go by either.
BY_NAME_ONLY = [
    ("书香门第B座1203 半夜有人唱歌", "书香门第"),
    ("青年汇A座 1506 空调外机滴水滴到我家阳台", "青年汇"),
    ("锦绣江南12号502 暖气一点都不热", "锦绣江南"),
    ("滨江一号2栋电梯有异响", "滨江一号"),
]
NO_COMPOUND = [
    "3栋2单元楼道灯坏了",
    "5-1-101 家里闻到一股煤气味",
    "12号502 马桶堵了 找谁修",
    "楼上18楼天天半夜装修 吵死了",
]


def run_bot(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT,
                          env={**project_env(), "DATABASE_URL": database_url},
                          capture_output=True, text=True)


def evaluate_with(directory, model, folder) -> tuple[dict, str]:
    """eval-locations on the other site's messages, with `directory` imported into a fresh SQLite
    database; the scores and the database URL."""
    url = f"sqlite:///{folder / 'site.db'}"
    for args in (("db", "upgrade"), ("org", "import", str(directory))):
        result = run_bot(url, *args)
        assert result.returncode == 0, result.stderr[-3000:]
    result = run_bot(url, "eval-locations", str(MESSAGES), "--json", "--model", str(model))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), url


@pytest.fixture(scope="module")
def other_site(trained_model, tmp_path_factory):
    return evaluate_with(DATA / "other_site_org.yml", trained_model, tmp_path_factory.mktemp("other_site"))


def mismatches(scores: dict, text: str) -> list[dict]:
    """The fields of the message `text` that were not read as expected (none: all of them were)."""
    assert text in {row[0] for row in read_rows(MESSAGES, 5)}, f"{text!r} is not a message of {MESSAGES.name}"
    return [e for e in scores["errors"] if e["text"] == text]


def test_every_message_is_scored(other_site):
    scores, _ = other_site
    assert scores["rows"] == 60


@pytest.mark.parametrize("text, written, name", BY_ALIAS)
def test_a_compound_named_by_its_alias_is_that_compound(other_site, text, written, name):
    scores, url = other_site
    assert mismatches(scores, text) == []  # the alias as written, and the building/unit/room with it
    engine = make_engine(url)
    try:
        with Session(engine, future=True) as session:
            assert find_compound(session, written).name == name
    finally:
        engine.dispose()


@pytest.mark.parametrize("text, name", BY_NAME_ONLY)
def test_a_name_the_rules_cannot_guess_is_found_in_the_directory(other_site, text, name):
    scores, _ = other_site
    assert mismatches(scores, text) == []


@pytest.mark.parametrize("text", NO_COMPOUND)
def test_a_message_naming_no_compound_gets_none(other_site, text):
    scores, _ = other_site
    assert mismatches(scores, text) == []


def test_without_the_directory_the_same_names_are_not_known(trained_model, tmp_path):
    # The sample site's directory instead: the other site's short aliases and names without an
    # ending are found only through its own directory, not through the model.
    scores, _ = evaluate_with(ROOT / "org" / "sample_site.yml", trained_model, tmp_path)
    for text, written in [(text, written) for text, written, _ in SHORT_ALIASES] + BY_NAME_ONLY:
        compound = [e for e in mismatches(scores, text) if e["field"] == "compound"]
        assert compound == [{"text": text, "field": "compound", "expected": written, "got": ""}]
