"""The stack the load benchmark plays against: the real Rasa server and action server of the
tests (tests/running_stack.py), the fake platform receiving the replies (tests/fake_platform.py),
on SQLite or on PostgreSQL + Redis, with the bench's groups bound to compounds."""
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from bot.db import make_engine  # noqa: E402
from bot.models import Compound, GroupBinding  # noqa: E402
from fake_platform import FakePlatform  # noqa: E402
from running_stack import Stack  # noqa: E402

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/1"
SESSION_PATH = "/dingtalk/robot/sendBySession"


class Replies:
    """The fake DingTalk's session webhooks: when each session's replies arrived, and what they said."""

    def __init__(self, platform: FakePlatform) -> None:
        self.arrived: dict[str, list[tuple[float, str]]] = {}
        platform.routes[SESSION_PATH] = self._receive
        platform.routes.update({
            "/dingtalk/v1.0/oauth2/accessToken": lambda *_: (200, {"accessToken": "bench", "expireIn": 7200}),
            "/dingtalk/v1.0/robot/oToMessages/batchSend": lambda *_: (200, {"processQueryKey": "q"}),
            "/dingtalk/v1.0/robot/groupMessages/send": lambda *_: (200, {"processQueryKey": "q"}),
        })

    def _receive(self, _method: str, _path: str, query: dict, body: dict) -> tuple[int, dict]:
        content = (body.get("text") or {}).get("content", "")
        self.arrived.setdefault(query.get("session", ""), []).append((time.perf_counter(), content))
        return 200, {"errcode": 0, "errmsg": "ok"}


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A schema of its own on the machine's PostgreSQL, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextlib.contextmanager
def running(store: str, model: Path, groups: dict[str, str]) -> Iterator[tuple[Stack, Replies, FakePlatform]]:
    """The stack on `store` ("sqlite" or "postgres"), the groups bound, stopped afterwards."""
    platform = FakePlatform()
    replies = Replies(platform)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{store}-"))
    with contextlib.ExitStack() as cleanup:
        database = cleanup.enter_context(postgres_schema()) if store == "postgres" else None
        redis_url = f"{REDIS_URL}?key_prefix=bench{uuid.uuid4().hex[:8]}" if store == "postgres" else None
        stack = Stack.start(model, work, platform.base_url, database=database, redis_url=redis_url)
        cleanup.callback(stack.stop)
        bind(stack, groups)
        yield stack, replies, platform


def bind(stack: Stack, groups: dict[str, str]) -> None:
    with Session(stack.engine, future=True) as session, session.begin():
        for group_id, compound in groups.items():
            compound_id = session.scalar(select(Compound.id).where(Compound.name == compound))
            session.add(GroupBinding(platform="dingtalk", group_id=group_id, compound_id=compound_id))
