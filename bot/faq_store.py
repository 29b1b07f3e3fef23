"""The FAQ in the database: what the bot answers from once a FAQ file is imported, and what
staff change in the console (常见问题). Every change is a `FaqChange` row (who, when, what); the
latest row's id is the FAQ's version, which the bot compares before each question, so an edit
answers the very next question without training or a restart.

Residents' questions the FAQ did not answer directly (suggestions or "not sure") are counted in
`FaqAsked`, for staff to add to an entry in one click.
"""
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.faq import Entry, FaqFileError, check_entry_id
from bot.models import FaqAsked, FaqChange, FaqEntry, FaqQuestion

LONGEST_QUESTION = 500
# As a FAQ file requires (bot.faq.load), so that what the console keeps exports as a valid file;
# the matcher learns when to answer from each entry's questions asked without themselves.
LEAST_QUESTIONS = 2


def version(session: Session) -> int:
    """The FAQ's version: the id of its latest change (0: never imported)."""
    return session.scalar(select(func.max(FaqChange.id))) or 0


def entries(session: Session) -> list[Entry]:
    """The FAQ's entries in the file's order, new ones last."""
    return [as_entry(row) for row in entry_rows(session)]


def entry_rows(session: Session) -> list[FaqEntry]:
    """The entries' rows with their questions, in the order of `entries`."""
    return list(session.scalars(select(FaqEntry).options(selectinload(FaqEntry.questions))
                                .order_by(FaqEntry.position, FaqEntry.id)))


def as_entry(row: FaqEntry) -> Entry:
    return Entry(row.key, tuple(q.text for q in row.questions), row.answer, row.contact, row.link, row.community)


def entry_row(session: Session, key: str) -> FaqEntry | None:
    return session.scalars(select(FaqEntry).where(FaqEntry.key == key)
                           .options(selectinload(FaqEntry.questions))).first()


def _change(session: Session, now: datetime, actor: str | None, action: str, key: str | None, detail: str) -> None:
    session.add(FaqChange(at=now, actor=actor, entry_key=key, action=action, detail=detail))
    session.flush()


def import_entries(session: Session, imported: Iterable[Entry], actor: str | None, now: datetime,
                   source: str = "file") -> tuple[int, int]:
    """Put a FAQ file's entries in the database: new entries added, existing ones (by id) given the
    file's answer, contact, link and community, and the file's questions they lack. Nothing is
    removed (staff's and residents' questions stay). Returns (added, updated)."""
    added = updated = 0
    position = session.scalar(select(func.max(FaqEntry.position))) or 0
    for entry in imported:
        row = entry_row(session, entry.id)
        if row is None:
            position += 1
            row = FaqEntry(key=entry.id, position=position, answer=entry.answer, updated_at=now)
            session.add(row)
            added += 1
        elif (row.answer, row.contact, row.link, row.community) != (entry.answer, entry.contact, entry.link,
                                                                    entry.community) \
                or set(entry.questions) - {q.text for q in row.questions}:
            updated += 1
        row.answer, row.contact, row.link, row.community = entry.answer, entry.contact, entry.link, entry.community
        row.updated_at, row.updated_by = now, actor
        known = {q.text for q in row.questions}
        for question in set(entry.questions) - known:
            owner = session.scalars(select(FaqEntry.key).join(FaqQuestion).where(
                FaqQuestion.text == question, FaqEntry.key != entry.id)).first()
            if owner is not None:
                raise FaqFileError(f"entry {entry.id}: question {question!r} is already under {owner} "
                                   f"（问法“{question}”已在条目 {owner} 下）")
        row.questions.extend(FaqQuestion(text=q, source=source, added_at=now) for q in entry.questions if q not in known)
    _change(session, now, actor, "imported", None, f"导入{added + updated}条（新增{added}，更新{updated}）")
    return added, updated


def edit_answer(session: Session, key: str, answer: str, contact: str | None, link: str | None,
                actor: str | None, now: datetime) -> FaqEntry:
    row = _existing(session, key)
    answer = (answer or "").strip()
    if not answer:
        raise FaqFileError("答案不能为空")
    row.answer, row.contact, row.link = answer, (contact or "").strip() or None, (link or "").strip() or None
    row.updated_at, row.updated_by = now, actor
    _change(session, now, actor, "answer_edited", key, answer[:200])
    return row


def add_question(session: Session, key: str, text: str, actor: str | None, now: datetime,
                 source: str = "console") -> FaqEntry:
    """Add a way of asking entry `key` (a resident's unanswered question, `source` "resident"):
    it answers from the next question on. The asked question, if counted, is marked added."""
    row = _existing(session, key)
    text = _question(text)
    owner = session.scalars(select(FaqEntry.key).join(FaqQuestion).where(FaqQuestion.text == text)).first()
    if owner is not None:
        raise FaqFileError(f"这个问法已在条目 {owner} 下")
    row.questions.append(FaqQuestion(text=text, source=source, added_at=now))
    row.updated_at, row.updated_by = now, actor
    for asked in session.scalars(select(FaqAsked).where(FaqAsked.text == text)):
        asked.added_to = row
    _change(session, now, actor, "question_added", key, text)
    return row


def remove_question(session: Session, key: str, text: str, actor: str | None, now: datetime) -> FaqEntry:
    row = _existing(session, key)
    kept = [q for q in row.questions if q.text != text]
    if len(kept) == len(row.questions):
        raise FaqFileError(f"条目 {key} 没有这个问法")
    if len(kept) < LEAST_QUESTIONS:
        raise FaqFileError(f"每个条目至少要留{LEAST_QUESTIONS}个问法（和FAQ文件的要求一样）")
    row.questions = kept
    row.updated_at, row.updated_by = now, actor
    _change(session, now, actor, "question_removed", key, text)
    return row


def add_entry(session: Session, key: str, questions: Iterable[str], answer: str, community: str | None,
              actor: str | None, now: datetime, contact: str | None = None, link: str | None = None) -> FaqEntry:
    key = (key or "").strip()
    check_entry_id(key)
    if entry_row(session, key) is not None:
        raise FaqFileError(f"已有条目 {key}")
    texts = list(dict.fromkeys(_question(q) for q in questions if (q or "").strip()))
    if len(texts) < LEAST_QUESTIONS:
        raise FaqFileError(f"至少写{LEAST_QUESTIONS}个居民会怎么问（不同的说法，每行一个）")
    if not (answer or "").strip():
        raise FaqFileError("答案不能为空")
    position = (session.scalar(select(func.max(FaqEntry.position))) or 0) + 1
    row = FaqEntry(key=key, community=(community or "").strip() or None, answer=answer.strip(),
                   contact=(contact or "").strip() or None, link=(link or "").strip() or None,
                   position=position, updated_at=now, updated_by=actor)
    session.add(row)
    session.flush()
    for text in texts:
        add_question(session, key, text, actor, now)
    _change(session, now, actor, "entry_added", key, texts[0])
    return row


def remove_entry(session: Session, key: str, actor: str | None, now: datetime) -> None:
    session.delete(_existing(session, key))
    _change(session, now, actor, "entry_removed", key, "")


def record_asked(session: Session, text: str, community: str | None, outcome: str, now: datetime) -> None:
    """Count a resident's question the FAQ did not answer directly (`outcome`: suggested, not_sure)."""
    text = _asked_text(text)
    if not text:
        return
    row = _asked_row(session, text, community)
    if row is None:
        session.add(FaqAsked(text=text, community=community or "", outcome=outcome, count=1, first_at=now, last_at=now))
    else:
        row.count, row.outcome, row.last_at = row.count + 1, outcome, now


def record_picked(session: Session, text: str, community: str | None, key: str) -> None:
    """The resident chose the suggestion `key` for the question `text` (counted by `record_asked`
    when the suggestions were offered): the entry staff will most likely add it to."""
    row = _asked_row(session, _asked_text(text), community)
    entry = entry_row(session, key)
    if row is not None and entry is not None:
        row.outcome, row.picked_id = "picked", entry.id


def _asked_text(text: str) -> str:
    return " ".join(text.split())[:LONGEST_QUESTION]


def _asked_row(session: Session, text: str, community: str | None) -> FaqAsked | None:
    return session.scalars(select(FaqAsked).where(FaqAsked.text == text, FaqAsked.community == (community or ""))).first()


def asked(session: Session, communities: Iterable[str] | None = None, include_added: bool = False) -> list[FaqAsked]:
    """Residents' unanswered questions, the most asked first (`communities` None: all)."""
    query = select(FaqAsked).order_by(FaqAsked.count.desc(), FaqAsked.last_at.desc())
    if communities is not None:
        query = query.where(FaqAsked.community.in_(list(communities)))
    if not include_added:
        query = query.where(FaqAsked.added_to_id.is_(None))
    return list(session.scalars(query))


def changes(session: Session, key: str | None = None, limit: int = 200) -> list[FaqChange]:
    """The FAQ's timeline, the latest first (`key`: one entry's)."""
    query = select(FaqChange).order_by(FaqChange.id.desc()).limit(limit)
    if key is not None:
        query = query.where(FaqChange.entry_key == key)
    return list(session.scalars(query))


FIELD_ZH = {"key": "条目编号", "contact": "联系方式", "link": "链接", "community": "社区"}


def check_lengths(**fields: str | None) -> None:
    """Raise FaqFileError for a value longer than its column of `FaqEntry` holds (PostgreSQL
    refuses it where SQLite would keep it)."""
    for name, value in fields.items():
        most = FaqEntry.__table__.c[name].type.length
        if value and len(value) > most:
            raise FaqFileError(f"{FIELD_ZH[name]}最长{most}字")


def check_fits(entry: Entry) -> None:
    """Raise FaqFileError, naming the entry, when a file's entry does not fit the database."""
    try:
        check_lengths(key=entry.id, contact=entry.contact, link=entry.link, community=entry.community)
        for question in entry.questions:
            _question(question)
    except FaqFileError as error:
        raise FaqFileError(f"条目 {entry.id}：{error}") from None


def _existing(session: Session, key: str) -> FaqEntry:
    row = entry_row(session, key)
    if row is None:
        raise FaqFileError(f"没有条目 {key}")
    return row


def _question(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise FaqFileError("问法不能为空")
    if len(text) > LONGEST_QUESTION:
        raise FaqFileError(f"问法最长{LONGEST_QUESTION}字")
    return text
