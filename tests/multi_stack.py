"""Several Rasa servers on shared stores, for the several-servers and the fault tests.

Two Rasa servers and one action server share a PostgreSQL database (tickets, outbox, Rasa's
tracker store) and Rasa's `RedisLockStore`. The PostgreSQL is a throwaway cluster of its own
(initdb in a temporary directory), so the fault tests can restart it without disturbing anyone
else using the machine's PostgreSQL. The stack is started once per test run, by whichever test
module asks first, and stopped when the run ends.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from running_stack import Stack, free_port

STASH = pytest.StashKey["Servers"]()
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PrivatePostgres:
    """A PostgreSQL cluster of our own on a free port, trusting local connections."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
        # the server refuses to run as root: run it as the postgres user then
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.directory = Path(tempfile.mkdtemp(prefix="pg-faults-"))
        if self.as_owner:
            shutil.chown(self.directory, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/bot"

    def start(self) -> None:
        self._run(self.initdb, "-D", str(self.directory / "data"), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C.UTF-8")
        self._pg_ctl("start")
        admin = create_engine(self.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE bot"))
        admin.dispose()

    def restart(self, down_for: float) -> None:
        """A real restart: every connection is cut, and the server is down for `down_for` seconds."""
        self._pg_ctl("stop")
        time.sleep(down_for)
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _pg_ctl(self, action: str, check: bool = True) -> None:
        self._run(self.pg_ctl, action, "-D", str(self.directory / "data"), "-m", "fast", "-w",
                  "-l", str(self.directory / "server.log"),
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1", check=check)

    def _run(self, *command: str, check: bool = True) -> None:
        subprocess.run([*self.as_owner, *command], check=check, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=self.directory)


def redis_reachable(url: str) -> bool:
    import redis
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@dataclass
class Servers:
    """The stack (action server and server 0) and the URL of every Rasa server."""
    stack: Stack
    postgres: PrivatePostgres
    urls: list

    def at(self, index: int) -> Stack:
        """The stack as seen through Rasa server `index`: its post, get and rest go there."""
        return replace(self.stack, rasa_url=self.urls[index % len(self.urls)])

    def stop(self) -> None:
        self.stack.stop()
        self.postgres.stop()


def shared_servers(config: pytest.Config, model: Path, fake_base_url: str, count: int = 2) -> Servers:
    """The run's several-servers stack, started on first use and stopped when the run ends."""
    if STASH in config.stash:
        return config.stash[STASH]
    if not redis_reachable(REDIS_URL):
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    postgres = PrivatePostgres()
    try:
        postgres.start()
        # a key prefix of our own: other runs may use the same Redis at the same time
        redis_url = f"{REDIS_URL}?key_prefix=t{uuid.uuid4().hex[:10]}"
        stack = Stack.start(model, Path(tempfile.mkdtemp(prefix="servers-")), fake_base_url,
                            database=postgres.url, redis_url=redis_url)
    except Exception:
        postgres.stop()
        raise
    servers = Servers(stack, postgres, [stack.rasa_url])
    config.stash[STASH] = servers
    config.add_cleanup(servers.stop)
    servers.urls += [stack.add_rasa_server() for _ in range(count - 1)]
    return servers


def answer_like_dingtalk(fake_platform) -> None:
    """The fake platform answering DingTalk's session webhooks, token and robot APIs."""
    fake_platform.routes.update({
        "/dingtalk/robot/sendBySession": lambda *_: (200, {"errcode": 0, "errmsg": "ok"}),
        "/dingtalk/v1.0/oauth2/accessToken": lambda *_: (200, {"accessToken": "servers-token", "expireIn": 7200}),
        "/dingtalk/v1.0/robot/oToMessages/batchSend": lambda *_: (200, {"processQueryKey": "q"}),
        "/dingtalk/v1.0/robot/groupMessages/send": lambda *_: (200, {"processQueryKey": "q"}),
    })
