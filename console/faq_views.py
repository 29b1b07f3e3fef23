"""常见问题 (FAQ) in the console: the entries with a search, residents' unanswered questions to add
to an entry in one click, one entry's questions, answer and timeline, a new entry, and the FAQ
exported and imported as a FAQ file (YAML) or an Excel workbook. Every change goes through
`bot.faq_store`, which records who made it; the bot answers from it at the next question.

Scope (`console.scope.covered_communities`): an entry of a community is seen and kept only by
those who cover that community; an entry for every community is seen by all staff and kept by
admins and community staff, who alone may import (non-admins only their communities' entries).
Residents' questions of an unknown community are for admins only.
"""
from pathlib import Path
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import faq, faq_store, faq_xlsx
from bot.clock import utc_now
from bot.faq import Entry, FaqFileError
from bot.models import Community, FaqAsked, FaqEntry, User
from console.auth import cookie_session, current_user
from console.keys import ENGINE
from console.metrics import local_day
from console.scope import covered_communities

routes = web.RouteTableDef()
KEEPERS_OF_ALL = ("admin", "community_staff")  # keep the entries for every community, and import
EVERY_COMMUNITY = "全部社区"
SOURCE_ZH = {"file": "文件", "console": "工作台", "resident": "居民"}
OUTCOME_ZH = {"suggested": "给了猜你想问", "not_sure": "没答上", "picked": "给了猜你想问，居民选了"}
ACTION_ZH = {"imported": "导入", "entry_added": "新增条目", "answer_edited": "修改答案",
             "question_added": "添加问法", "question_removed": "删除问法", "entry_removed": "删除条目"}
NEW_ENTRY_FIELDS = ("key", "community", "questions", "answer", "contact", "link")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def can_see(user: User, community: str | None) -> bool:
    communities = covered_communities(user)
    return communities is None or community is None or community in communities


def can_edit(user: User, community: str | None) -> bool:
    if community is None:
        return user.role in KEEPERS_OF_ALL
    communities = covered_communities(user)
    return communities is None or community in communities


def _entry_of(request: web.Request, session: Session, key: str, edit: bool = False) -> FaqEntry:
    """Entry `key`: 404 when there is none, 403 when the user may not see (or change) it."""
    row = faq_store.entry_row(session, key)
    if row is None:
        raise web.HTTPNotFound(text="没有这个条目。")
    user = current_user(request)
    if not can_see(user, row.community):
        raise web.HTTPForbidden(text="您无权查看其他社区的常见问题。")
    if edit and not can_edit(user, row.community):
        raise web.HTTPForbidden(text="您无权修改这个条目。")
    return row


def _back(request: web.Request, message: str, name: str = "faq", error: bool = False, **parts) -> web.HTTPFound:
    cookie_session(request)["flash_error" if error else "flash"] = message
    return web.HTTPFound(request.app.router[name].url_for(**parts))


def _flashes(request: web.Request) -> dict:
    session = cookie_session(request)
    return {"flash": session.pop("flash", None), "flash_error": session.pop("flash_error", None)}


def _matches(row: FaqEntry, words: str) -> bool:
    words = words.casefold()
    return words in row.answer.casefold() or any(words in question.text.casefold() for question in row.questions)


@routes.get("/faq", name="faq")
async def overview(request: web.Request) -> web.Response:
    """The entries (searched with `q`), the unanswered questions, export and import."""
    user, words = current_user(request), request.query.get("q", "").strip()
    with Session(request.app[ENGINE], future=True) as session:
        rows = [row for row in faq_store.entry_rows(session) if can_see(user, row.community)]
        editable = [row for row in rows if can_edit(user, row.community)]
        asked = faq_store.asked(session, covered_communities(user))
        return aiohttp_jinja2.render_template("faq.html", request, {
            "rows": [row for row in rows if _matches(row, words)] if words else rows, "q": words,
            "asked": asked, "choices": {a.id: _entries_for(a, editable) for a in asked},
            "outcome_zh": OUTCOME_ZH, "every_community": EVERY_COMMUNITY,
            "may_add": bool(_communities_for_new(session, user)), "may_import": user.role in KEEPERS_OF_ALL,
            **_flashes(request)})


def _entries_for(asked: FaqAsked, editable: list[FaqEntry]) -> list[FaqEntry]:
    """The entries a resident's question may join: those that answer residents of its community,
    the suggestion the resident chose first (the form's default)."""
    rows = [row for row in editable if not asked.community or row.community in (None, asked.community)]
    return sorted(rows, key=lambda row: row.id != asked.picked_id)


@routes.post(r"/faq/asked/{id:\d+}", name="faq_asked_add")
async def add_asked(request: web.Request) -> web.Response:
    """一键加为问法: a resident's unanswered question becomes a way of asking the chosen entry."""
    form = await request.post()
    user = current_user(request)
    with Session(request.app[ENGINE], future=True) as session, session.begin():
        asked = session.get(FaqAsked, int(request.match_info["id"]))
        if asked is None:
            raise web.HTTPNotFound(text="没有这个问题。")
        communities = covered_communities(user)
        if communities is not None and asked.community not in communities:
            raise web.HTTPForbidden(text="您无权处理其他社区居民的问题。")
        row = _entry_of(request, session, str(form.get("entry", "")), edit=True)
        try:
            faq_store.add_question(session, row.key, asked.text, user.username, utc_now(), source="resident")
        except FaqFileError as error:
            raise _back(request, str(error), error=True) from None
        message = f"已把“{asked.text}”加为条目 {row.key} 的问法。"
    raise _back(request, message)


def _communities_for_new(session: Session, user: User) -> list[str]:
    """The communities the user may add an entry for ("": every community, admins only)."""
    communities = covered_communities(user)
    if communities is None:
        return [""] + list(session.scalars(select(Community.name).order_by(Community.name)))
    return sorted(communities)


def _render_new(request: web.Request, session: Session, values: dict[str, str], error: str | None = None,
                status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template("faq_new.html", request, {
        "communities": _communities_for_new(session, current_user(request)), "values": values,
        "every_community": EVERY_COMMUNITY, "error": error}, status=status)


# /faq/new, the exports and the import come before /faq/{key}, which would take "new" for a key.
@routes.get("/faq/new", name="faq_new")
async def new_entry_form(request: web.Request) -> web.Response:
    with Session(request.app[ENGINE], future=True) as session:
        return _render_new(request, session, dict.fromkeys(NEW_ENTRY_FIELDS, ""))


@routes.post("/faq/new", name="faq_new")
async def new_entry(request: web.Request) -> web.Response:
    form = await request.post()
    user = current_user(request)
    values = {name: str(form.get(name, "")).strip() for name in NEW_ENTRY_FIELDS}
    try:
        with Session(request.app[ENGINE], future=True) as session, session.begin():
            if values["community"] not in _communities_for_new(session, user):
                raise web.HTTPForbidden(text="您只能为本社区新增条目。")
            faq_store.check_lengths(key=values["key"], contact=values["contact"], link=values["link"])
            faq_store.add_entry(session, values["key"], values["questions"].splitlines(), values["answer"],
                                values["community"] or None, user.username, utc_now(),
                                contact=values["contact"], link=values["link"])
    except FaqFileError as error:  # the form again, as filled in, with what to correct
        with Session(request.app[ENGINE], future=True) as session:
            return _render_new(request, session, values, str(error), status=400)
    raise _back(request, f"已新增条目 {values['key']}。", "faq_entry", key=values["key"])


def _download(body: bytes, content_type: str, suffix: str) -> web.Response:
    name = f"常见问题_{local_day(utc_now()):%Y%m%d}.{suffix}"
    return web.Response(body=body, content_type=content_type, headers={
        "Content-Disposition": f"attachment; filename=\"faq.{suffix}\"; filename*=UTF-8''{quote(name)}"})


def _visible_entries(request: web.Request) -> list[Entry]:
    user = current_user(request)
    with Session(request.app[ENGINE], future=True) as session:
        return [entry for entry in faq_store.entries(session) if can_see(user, entry.community)]


@routes.get("/faq/export.yml", name="faq_export_yml")
async def export_yml(request: web.Request) -> web.Response:
    """The entries the user sees as a FAQ file, which `python -m bot faq` and the import read."""
    return _download(faq.dump(_visible_entries(request)).encode("utf-8"), "application/yaml", "yml")


@routes.get("/faq/export.xlsx", name="faq_export_xlsx")
async def export_xlsx(request: web.Request) -> web.Response:
    return _download(faq_xlsx.write(_visible_entries(request)), XLSX, "xlsx")


def _read_upload(filename: str, data: bytes) -> list[Entry]:
    """The entries of an uploaded FAQ file (.yml/.yaml) or workbook (.xlsx), checked."""
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return faq_xlsx.read(data)
    if suffix not in (".yml", ".yaml"):
        raise FaqFileError("只能导入 .yml、.yaml 或 .xlsx 文件")
    try:
        return faq.loads(data.decode("utf-8"), name)
    except UnicodeDecodeError:
        raise FaqFileError(f"{name}: 不是 UTF-8 编码的文本 (not UTF-8 text)") from None


def _check_import_scope(session: Session, user: User, imported: list[Entry]) -> None:
    """Non-admins import only entries of their communities, and replace only entries they keep."""
    communities = covered_communities(user)
    if communities is None:
        return
    existing = {row.key: row.community for row in faq_store.entry_rows(session)}
    outside = [entry.id for entry in imported if entry.community not in communities
               or (entry.id in existing and existing[entry.id] not in communities)]
    if outside:
        raise FaqFileError(f"您只能导入本社区（{'、'.join(sorted(communities))}）的条目，"
                           f"这些条目不在范围内：{'、'.join(outside)}")


@routes.post("/faq/import", name="faq_import")
async def import_file(request: web.Request) -> web.Response:
    """导入: a FAQ file or workbook adds its new entries and updates the others; a bad one changes nothing."""
    user = current_user(request)
    if user.role not in KEEPERS_OF_ALL:
        raise web.HTTPForbidden(text="只有管理员和社区工作者可以导入常见问题。")
    upload = (await request.post()).get("file")
    if not isinstance(upload, web.FileField) or not upload.filename:
        raise _back(request, "请选择要导入的文件。", error=True)
    try:
        imported = _read_upload(upload.filename, upload.file.read())
        for entry in imported:
            faq_store.check_fits(entry)
        with Session(request.app[ENGINE], future=True) as session, session.begin():
            _check_import_scope(session, user, imported)
            added, updated = faq_store.import_entries(session, imported, user.username, utc_now(), source="file")
    except FaqFileError as error:
        raise _back(request, f"导入失败，常见问题没有改动：{error}", error=True) from None
    raise _back(request, f"已导入{len(imported)}条：新增{added}条，更新{updated}条。")


@routes.get("/faq/{key}", name="faq_entry")
async def entry_page(request: web.Request) -> web.Response:
    """One entry: its questions and where they came from, its answer, its timeline."""
    with Session(request.app[ENGINE], future=True) as session:
        row = _entry_of(request, session, request.match_info["key"])
        return aiohttp_jinja2.render_template("faq_entry.html", request, {
            "entry": row, "editable": can_edit(current_user(request), row.community),
            "changes": faq_store.changes(session, row.key), "source_zh": SOURCE_ZH, "action_zh": ACTION_ZH,
            "every_community": EVERY_COMMUNITY, **_flashes(request)})


def _edit_answer(session: Session, key: str, form: MultiMapping, actor: str) -> str:
    contact, link = str(form.get("contact", "")).strip(), str(form.get("link", "")).strip()
    faq_store.check_lengths(contact=contact, link=link)
    faq_store.edit_answer(session, key, str(form.get("answer", "")), contact, link, actor, utc_now())
    return "答案已保存，居民下一次问就按新答案回答。"


def _add_question(session: Session, key: str, form: MultiMapping, actor: str) -> str:
    faq_store.add_question(session, key, str(form.get("text", "")), actor, utc_now())
    return "问法已添加。"


def _remove_question(session: Session, key: str, form: MultiMapping, actor: str) -> str:
    faq_store.remove_question(session, key, str(form.get("text", "")), actor, utc_now())
    return "问法已删除。"


ACTIONS = {"answer": _edit_answer, "question": _add_question, "remove": _remove_question}


@routes.post("/faq/{key}/{action}", name="faq_action")
async def entry_action(request: web.Request) -> web.Response:
    """One of the entry page's forms; back to the page with what happened."""
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise web.HTTPNotFound(text="没有这个操作。")
    form = await request.post()
    key = request.match_info["key"]
    try:
        with Session(request.app[ENGINE], future=True) as session, session.begin():
            _entry_of(request, session, key, edit=True)
            message = action(session, key, form, current_user(request).username)
    except FaqFileError as error:
        raise _back(request, str(error), "faq_entry", error=True, key=key) from None
    raise _back(request, message, "faq_entry", key=key)


def setup(app: web.Application) -> None:
    app.add_routes(routes)
