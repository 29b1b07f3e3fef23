"""Command line: `python -m bot eval-nlu FILE.tsv [--json]`, `python -m bot eval-locations FILE.tsv [--json]`,
`python -m bot db upgrade`, `python -m bot org import FILE.yml`, `python -m bot org show`,
`python -m bot faq import|export FILE`, `python -m bot eval-faq FILE.tsv`, `python -m bot endpoints FILE`,
`python -m bot rasa-token FILE`, `python -m bot worker`, `python -m bot users add NAME --role ROLE`,
`python -m bot users ensure-admin`."""
import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from bot.users import ROLES

# Each command imports what it needs inside its function: the evaluation commands reach spaCy
# and through it TensorFlow (hundreds of MB, seconds to load), which the worker and --help must
# never pay for (tests/test_cli_weight.py keeps it so).


def _load_parser(model: str):
    # The trained model is Rasa's: the command line reaches it only through `nlu/`, so the
    # domain package itself never imports Rasa.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from nlu.parser import ModelNotFound, ModelParser
    try:
        return ModelParser(model)
    except ModelNotFound as error:
        sys.exit(f"错误：{error}")


def _eval_nlu(args) -> None:
    _evaluate(args, "score_nlu", "nlu_report")


def _eval_faq(args) -> None:
    _evaluate(args, _score_faq, "faq_report")


def _eval_locations(args) -> None:
    _evaluate(args, _score_locations, "locations_report")


def _evaluate(args, score, report: str) -> None:
    """Score `args.file` with the model (`score`: a function, or its name in `bot.evaluation`)
    and print `bot.evaluation`'s `report` of it. The model is looked for first: without one the
    command says so before it loads spaCy and the rest."""
    # Libraries (jieba, Rasa) print while loading and parsing; stdout carries only the result.
    with contextlib.redirect_stdout(sys.stderr):
        parser = _load_parser(args.model)
        from bot import evaluation
        try:
            scores = (getattr(evaluation, score) if isinstance(score, str) else score)(args.file, parser)
        except (OSError, evaluation.EvalFileError) as error:
            sys.exit(f"错误：{error}")
    print(json.dumps(scores, ensure_ascii=False) if args.json else getattr(evaluation, report)(scores))


def _score_faq(path, parser):
    from bot.evaluation import score_faq
    from bot.faq import FaqFileError, load
    from bot.settings import faq_file
    try:
        entries = load(faq_file())
    except FaqFileError as error:
        sys.exit(f"错误：{error}")
    return score_faq(path, parser, entries)


def _score_locations(path, parser):
    # The model's location extractor reads the org directory in DATABASE_URL at parse time, as
    # the live bot does; without one it falls back to the training lookup table, which the
    # figures should then say.
    from sqlalchemy.exc import SQLAlchemyError

    from bot.evaluation import score_locations
    from nlu.location_extractor import directory_names
    try:
        listed = bool(directory_names())
    except SQLAlchemyError:
        listed = False
    if not listed:
        print("提示：DATABASE_URL 的数据库里没有组织架构，小区名只按训练数据的查找表匹配"
              "（先运行 python -m bot org import FILE.yml）", file=sys.stderr)
    return score_locations(path, parser)


def _faq_import(args) -> None:
    from sqlalchemy.orm import Session

    from bot import faq, faq_store
    from bot.clock import utc_now
    from bot.db import make_engine
    from bot.migrate import upgrade
    engine = make_engine()
    upgrade(engine)
    try:
        entries = faq.load(args.file)
    except faq.FaqFileError as error:
        sys.exit(f"错误：{error}")
    with Session(engine, future=True) as session, session.begin():
        if args.if_empty and faq_store.version(session):
            print(f"数据库里已有常见问题（在工作台维护），不导入 {args.file}")
            return
        added, updated = faq_store.import_entries(session, entries, f"python -m bot faq import {args.file}", utc_now())
    print(f"{args.file}：常见问题新增 {added} 条，更新 {updated} 条；机器人从现在起按它们回答")


def _faq_export(args) -> None:
    from sqlalchemy.orm import Session

    from bot import faq, faq_store
    from bot.db import make_engine
    with Session(make_engine(), future=True) as session:
        entries = faq_store.entries(session)
    Path(args.file).write_text(faq.dump(entries), encoding="utf-8")
    print(f"{args.file}：已导出 {len(entries)} 条常见问题")


def _db_upgrade(_args) -> None:
    from bot.db import make_engine
    from bot.migrate import upgrade
    engine = make_engine()
    upgrade(engine)
    print(f"数据库 {engine.url.render_as_string(hide_password=True)} 已是最新结构")


def _org_import(args) -> None:
    from bot.db import make_engine
    from bot.migrate import upgrade
    from bot.org import OrgFileError, import_org_file, summary_text
    engine = make_engine()
    upgrade(engine)
    if args.if_empty and _has_compounds(engine):
        print(f"组织架构已存在，不导入 {args.file}")
        return
    try:
        counts = import_org_file(engine, args.file)
    except OrgFileError as error:
        sys.exit(f"错误：{error}")
    print(f"已导入 {args.file}")
    print(summary_text(counts))


def _has_compounds(engine) -> bool:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from bot.models import Compound
    with Session(engine, future=True) as session:
        return session.scalar(select(func.count()).select_from(Compound)) > 0


def _endpoints(args) -> None:
    from bot.endpoints import write_endpoints
    from bot.settings import database_url
    write_endpoints(args.file, database_url(), args.action_url)


def _rasa_token(args) -> None:
    from bot.endpoints import rasa_token
    print(rasa_token(args.file))


def _worker(args) -> None:
    import asyncio
    import logging

    from bot.db import make_engine
    from bot.migrate import upgrade
    from bot.worker import run_forever
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine()
    upgrade(engine)
    asyncio.run(run_forever(engine, seconds=args.seconds))


def _users_add(args) -> None:
    import getpass

    from sqlalchemy.orm import Session

    from bot.clock import utc_now
    from bot.db import make_engine
    from bot.migrate import upgrade
    from bot.users import UserError, create_user, generate_password
    password, generated = args.password, False
    if not password and sys.stdin.isatty():
        password = getpass.getpass(f"{args.name} 的密码：")
    if not password:
        password, generated = generate_password(), True
    engine = make_engine()
    upgrade(engine)
    try:
        with Session(engine, future=True) as session, session.begin():
            create_user(session, args.name, args.role, password, utc_now(), args.community, args.compound)
    except UserError as error:
        sys.exit(f"错误：{error}")
    print(f"已创建{ROLES[args.role]}账号 {args.name}" + (f"，密码 {password}" if generated else ""))


def _users_ensure_admin(args) -> None:
    from pathlib import Path

    from bot.clock import utc_now
    from bot.db import make_engine
    from bot.migrate import upgrade
    from bot.users import ensure_admin
    engine = make_engine()
    upgrade(engine)
    credentials = Path(args.credentials_file)
    password = ensure_admin(engine, credentials, utc_now())
    if password:
        print(f"已创建工作台账号 admin，密码 {password}（也保存在 {credentials}）")


def _org_show(_args) -> None:
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    from bot.db import make_engine
    from bot.org import org_tree
    engine = make_engine()
    if not inspect(engine).has_table("compounds"):
        sys.exit("错误：数据库里还没有组织架构，请先运行 python -m bot org import FILE.yml")
    with Session(engine, future=True) as session:
        print(org_tree(session))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot", description="社区小助手 命令行")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run, help_text in (
            ("eval-nlu", _eval_nlu, "按 category<TAB>urgent<TAB>text 各行评测分类和紧急程度"),
            ("eval-locations", _eval_locations,
             "按 text<TAB>compound<TAB>building<TAB>unit<TAB>room 各行评测小区、楼、单元、室"),
            ("eval-faq", _eval_faq,
             "按 question<TAB>faq_id 各行评测常见问题的回答（none：不在常见问题里）；FAQ_FILE 指定常见问题文件")):
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(run=run)
        command.add_argument("file")
        command.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
        command.add_argument("--model", default="models", help="模型文件或目录（默认 models/）")
    db = commands.add_parser("db", help="数据库").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="把数据库（DATABASE_URL）升级到当前结构").set_defaults(run=_db_upgrade)
    org = commands.add_parser("org", help="组织架构").add_subparsers(dest="action", required=True)
    org_import = org.add_parser("import", help="检查组织架构 YAML 文件，再一次性导入")
    org_import.add_argument("file")
    org_import.add_argument("--if-empty", action="store_true", help="只在组织架构里还没有小区时导入")
    org_import.set_defaults(run=_org_import)
    org.add_parser("show", help="显示组织架构（手机号打码）").set_defaults(run=_org_show)
    faq_commands = commands.add_parser("faq", help="常见问题").add_subparsers(dest="action", required=True)
    faq_import = faq_commands.add_parser("import", help="检查常见问题文件（YAML）并导入数据库")
    faq_import.add_argument("file")
    faq_import.add_argument("--if-empty", action="store_true", help="只在数据库里还没有常见问题时导入")
    faq_import.set_defaults(run=_faq_import)
    faq_export = faq_commands.add_parser("export", help="把数据库里的常见问题导出为文件（YAML）")
    faq_export.add_argument("file")
    faq_export.set_defaults(run=_faq_export)
    endpoints = commands.add_parser("endpoints", help="按 DATABASE_URL 生成 Rasa 的 endpoints 文件")
    endpoints.add_argument("file")
    endpoints.add_argument("--action-url", default="http://127.0.0.1:5055/webhook")
    endpoints.set_defaults(run=_endpoints)
    token = commands.add_parser("rasa-token", help="输出 Rasa HTTP API 的令牌：RASA_TOKEN，否则 FILE 里的（首次生成）")
    token.add_argument("file")
    token.set_defaults(run=_rasa_token)
    worker = commands.add_parser("worker", help="运行升级时钟（工单超期升级、志愿者任务）")
    worker.add_argument("--seconds", type=float, default=30, help="每隔多少秒检查一次")
    worker.set_defaults(run=_worker)
    users = commands.add_parser("users", help="工作台账号").add_subparsers(dest="action", required=True)
    users_add = users.add_parser("add", help="创建工作台账号")
    users_add.add_argument("name")
    users_add.add_argument("--role", required=True, choices=list(ROLES))
    users_add.add_argument("--community", action="append", default=[], help="账号负责的社区（可重复）")
    users_add.add_argument("--compound", action="append", default=[], help="账号负责的小区（可重复）")
    users_add.add_argument("--password", help="不填时会询问（或自动生成并显示）")
    users_add.set_defaults(run=_users_add)
    ensure = users.add_parser("ensure-admin", help="没有管理员账号时创建 admin，并显示密码")
    ensure.add_argument("--credentials-file", default="var/console_admin.txt", help="密码保存的位置")
    ensure.set_defaults(run=_users_ensure_admin)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
