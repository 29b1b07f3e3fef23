"""Staff text that reaches residents is masked like every message in a group: a resolution
note's personal mobile is masked, the directory's public numbers stay whole (隐私保护)."""
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import tickets
from bot.models import Compound, Hotline, Ticket
from bot.privacy import mask_sensitive, public_numbers
from test_tickets import T0, file, outbox, report, site  # noqa: F401 - the site fixture

PERSONAL = "13911110013"  # 石书记's own mobile: not in the directory as a service number
OFFICE = "13911110020"    # 光明社区服务站's duty mobile, a community hotline in the directory


def add_office_hotline(engine) -> None:
    with Session(engine, future=True) as s, s.begin():
        s.add(Hotline(scope="community", scope_name="光明社区", kind="property", name="光明社区服务站",
                      number=OFFICE))


def resolve(engine, ticket_id, note) -> None:
    with Session(engine, future=True) as s, s.begin():
        tickets.resolve(s, s.get(Ticket, ticket_id), T0 + timedelta(hours=5), note, "张书记")


def test_a_resolution_note_reaches_the_group_with_the_personal_mobile_masked(engine, site):  # noqa: F811
    ticket_id, *_ = file(engine, report(site))
    resolve(engine, ticket_id, f"已联系石书记{PERSONAL}上门更换循环泵")
    [(_, said)] = [(r, text) for r, text in outbox(engine) if r == "wecom:g1:alice"]
    assert "石书记139****0013" in said and PERSONAL not in said
    with Session(engine, future=True) as s:  # staff still read the note as written
        assert PERSONAL in s.get(Ticket, ticket_id).timeline[-1].reason


def test_the_community_offices_number_in_a_note_stays_whole(engine, site):  # noqa: F811
    add_office_hotline(engine)
    ticket_id, *_ = file(engine, report(site))
    resolve(engine, ticket_id, f"再有问题请打社区服务站{OFFICE}，或找石书记{PERSONAL}")
    [said] = [text for r, text in outbox(engine) if r == "wecom:g1:alice"]
    assert f"社区服务站{OFFICE}" in said and "石书记139****0013" in said


def test_the_public_numbers_are_the_directorys_hotlines_not_its_people(engine, site):  # noqa: F811
    add_office_hotline(engine)
    with Session(engine, future=True) as s, s.begin():
        s.scalars(select(Compound)).one().property_hotline = "139-1111-0021"
    with Session(engine, future=True) as s:
        numbers = public_numbers(s)
    assert numbers == {OFFICE, "13911110021"}  # not the secretaries' 138000000xx
    assert mask_sensitive("物业13911110021，张书记13812345678", numbers) == "物业13911110021，张书记138****5678"
