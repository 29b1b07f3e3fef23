"""Starting the real Rasa server and action server for end-to-end tests."""
import importlib
import json
import pkgutil
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import stack as stack_credentials
from bot.db import make_engine
from bot.endpoints import write_endpoints
from bot.migrate import upgrade
from bot.models import Ticket
from bot.org import import_org_file
from conftest import BIN, ROOT, project_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(url)


def all_credentials(fake_base_url: str) -> dict:
    merged = {}
    for module in pkgutil.iter_modules(stack_credentials.__path__):
        merged.update(importlib.import_module(f"stack.{module.name}").credentials(fake_base_url))
    return merged


@dataclass
class Stack:
    rasa_url: str
    engine: Engine
    work: Path
    processes: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    model: Path | None = None
    env: dict = field(default_factory=dict)
    actions_port: int = 0
    actions: subprocess.Popen | None = None
    rasa_servers: dict = field(default_factory=dict)  # port → process
    # every server's --auth-token; starting with "-" as token_urlsafe's may, which `rasa run` takes
    # for an option unless given as --auth-token=…
    rasa_token: str = field(default_factory=lambda: "-" + secrets.token_urlsafe(16))

    @classmethod
    def start(cls, model: Path, work: Path, fake_base_url: str, database: str | None = None,
              redis_url: str | None = None) -> "Stack":
        """The action server and a Rasa server on `database` (default: an SQLite file in `work`),
        with Rasa's Redis lock store when `redis_url` is given."""
        database = database or f"sqlite:///{work / 'bot.db'}"
        engine = make_engine(database)
        upgrade(engine)
        import_org_file(engine, ROOT / "org" / "sample_site.yml")
        actions_port, rasa_port = free_port(), free_port()
        write_endpoints(work / "endpoints.yml", database, f"http://127.0.0.1:{actions_port}/webhook", redis_url)
        (work / "credentials.yml").write_text(yaml.safe_dump(all_credentials(fake_base_url), allow_unicode=True),
                                              encoding="utf-8")
        env = {**project_env(), "DATABASE_URL": database}
        stack = cls(f"http://127.0.0.1:{rasa_port}", engine, work, model=model, env=env, actions_port=actions_port)
        try:  # both start at once: loading the model is the long part
            stack._spawn_actions()
            rasa = stack._spawn_rasa(rasa_port, "rasa.log")
            wait_for(f"http://127.0.0.1:{actions_port}/health", stack.actions)
            wait_for(stack.api("/status"), rasa)
        except Exception:
            stack.stop()
            raise
        return stack

    def start_actions(self) -> None:
        """Start the action server again and wait until it answers."""
        self._spawn_actions()
        wait_for(f"http://127.0.0.1:{self.actions_port}/health", self.actions)

    def stop_actions(self) -> None:
        """Stop the action server, as a crash or a deployment would."""
        self.actions.terminate()
        self.actions.wait(timeout=30)

    def add_rasa_server(self) -> str:
        """One more Rasa server on the same stores and action server; returns its URL."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        wait_for(self.api("/status", url), self._spawn_rasa(port, f"rasa-{port}.log"))
        return url

    def _spawn_actions(self) -> None:
        self.actions = self._spawn("actions.log", [str(BIN / "rasa"), "run", "actions", "--actions", "actions",
                                                   "--port", str(self.actions_port)],
                                   {**self.env, "SANIC_HOST": "127.0.0.1"})  # as `make run` starts it

    def restart_rasa_server(self, url: str) -> None:
        """Kill the Rasa server at `url` as a crash would (no clean shutdown) and start it again."""
        port = int(url.rsplit(":", 1)[1])
        process = self.rasa_servers[port]
        process.kill()
        process.wait(timeout=30)
        wait_for(self.api("/status", url), self._spawn_rasa(port, f"rasa-{port}.log"))

    def _spawn_rasa(self, port: int, log_name: str) -> subprocess.Popen:
        self.rasa_servers[port] = self._spawn(log_name, [str(BIN / "rasa"), "run", "--enable-api", "--model", str(self.model),
                                      f"--auth-token={self.rasa_token}", "--interface", "127.0.0.1",
                                      "--port", str(port), "--endpoints", str(self.work / "endpoints.yml"),
                                      "--credentials", str(self.work / "credentials.yml")], self.env)
        return self.rasa_servers[port]

    def _spawn(self, log_name: str, command: list[str], env: dict) -> subprocess.Popen:
        log = open(self.work / log_name, "a")
        self.logs.append(log)
        self.processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        return self.processes[-1]

    def post(self, path: str, body: bytes, headers: dict | None = None, query: str = "",
             timeout: float = 60) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.rasa_url}{path}{query}", data=body, method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def api(self, path: str, url: str | None = None) -> str:
        """`path` of the HTTP API of the Rasa server at `url` (default: this one's), with the token."""
        return f"{url or self.rasa_url}{path}{'&' if '?' in path else '?'}token={self.rasa_token}"

    def get(self, path: str, authenticated: bool = True) -> tuple[int, bytes]:
        """GET `path` of the Rasa server's HTTP API, with its token unless told otherwise."""
        try:
            with urllib.request.urlopen(self.api(path) if authenticated else f"{self.rasa_url}{path}",
                                        timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def rest(self, sender: str, text: str) -> list[str]:
        status, body = self.post("/webhooks/rest/webhook", json.dumps({"sender": sender, "message": text}).encode())
        assert status == 200, body
        return [m.get("text", "") for m in json.loads(body)]

    def tickets(self) -> list[tuple]:
        """(id, category, compound, sorted reporter user ids) of every ticket."""
        with Session(self.engine, future=True) as s:
            return [(t.id, t.category, t.compound.name, sorted(r.user_id for r in t.reporters))
                    for t in s.scalars(select(Ticket).order_by(Ticket.id))]

    def log_text(self) -> str:
        return (self.work / "rasa.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()
        self.engine.dispose()
