"""A real Matrix homeserver for the end-to-end test: Synapse on 127.0.0.1 with SQLite.

Synapse and matrix-nio (the residents' Matrix client) live in a virtual environment of their
own, built with the machine's Python 3 (not the project's 3.10 venv, whose aiohttp nio cannot
share) and cached under `.cache/` by version, so only the first run installs them. The residents
act through `tests/matrix_residents.py`, which runs in that environment.
"""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from conftest import ROOT
from running_stack import free_port

SYNAPSE, NIO = "matrix-synapse==1.163.2", "matrix-nio==0.26.0"
VENV = ROOT / ".cache" / f"synapse-venv-{SYNAPSE.split('==')[1]}-nio-{NIO.split('==')[1]}"
SERVER_NAME = "localhost"
RELAXED = {"per_second": 1000, "burst_count": 1000}
OVERRIDES = {  # on top of Synapse's generated config: loopback only, no federation, no rate limits to speak of
    "report_stats": False, "trusted_key_servers": [], "suppress_key_server_warning": True,
    "enable_registration": False, "presence": {"enabled": False}, "url_preview_enabled": False,
    "rc_message": RELAXED, "rc_registration": RELAXED, "rc_admin_redaction": RELAXED,
    "rc_login": {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED},
    "rc_joins": {"local": RELAXED, "remote": RELAXED}, "rc_joins_per_room": RELAXED,
    "rc_invites": {"per_room": RELAXED, "per_user": RELAXED, "per_issuer": RELAXED},
    "rc_3pid_validation": RELAXED, "rc_presence": {"per_user": RELAXED},
}


def base_python() -> str:
    """The machine's own Python 3 (3.10 or newer, as Synapse needs), never the project's venv."""
    for name in ("python3.11", "python3.12", "python3.13", "python3"):
        found = shutil.which(name, path=os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                                        if not p.startswith(str(ROOT))))
        if found and subprocess.run([found, "-c", "import sys, venv; assert sys.version_info >= (3, 10)"],
                                    capture_output=True).returncode == 0:
            return found
    raise RuntimeError("no Python 3.10+ outside the project's venv to install Synapse with")


def synapse_python() -> Path:
    """The Python of the cached Synapse + matrix-nio environment, built on first use."""
    if not (VENV / ".complete").exists():
        VENV.parent.mkdir(exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=VENV.name + ".", dir=VENV.parent))
        subprocess.run([base_python(), "-m", "venv", str(building)], check=True)
        subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", SYNAPSE, NIO], check=True)
        (building / ".complete").touch()
        try:
            building.rename(VENV)  # a concurrent run may have finished first: keep theirs
        except OSError:
            shutil.rmtree(building)
    return VENV / "bin" / "python"


@dataclass
class Homeserver:
    """One Synapse process; `register` makes accounts through the shared-secret admin API."""
    url: str
    work: Path
    secret: str
    process: subprocess.Popen | None = None
    logs: list = field(default_factory=list)

    @classmethod
    def start(cls, work: Path) -> "Homeserver":
        python, port, secret = synapse_python(), free_port(), os.urandom(16).hex()
        config = work / "homeserver.yaml"
        subprocess.run([str(python), "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
                        "--config-path", str(config), "--generate-config", "--report-stats=no",
                        "--data-directory", str(work / "data"), "--config-directory", str(work)],
                       cwd=work, check=True, capture_output=True)
        overrides = {**OVERRIDES, "registration_shared_secret": secret, "pid_file": str(work / "synapse.pid"),
                     "database": {"name": "sqlite3", "args": {"database": str(work / "data" / "homeserver.db")}},
                     "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                                    "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}]}
        (work / "overrides.yaml").write_text(yaml.safe_dump(overrides), encoding="utf-8")
        server = cls(f"http://127.0.0.1:{port}", work, secret)
        log = open(work / "synapse.out", "w")
        server.logs.append(log)
        server.process = subprocess.Popen(
            [str(python), "-m", "synapse.app.homeserver", "-c", str(config), "-c", str(work / "overrides.yaml")],
            cwd=work, stdout=log, stderr=subprocess.STDOUT)
        try:
            server.wait_until_up()
        except Exception:
            server.stop()
            raise
        return server

    def wait_until_up(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.process.returncode}; see {self.work / 'synapse.out'}")
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError("synapse did not come up")

    def register(self, localpart: str, password: str) -> str:
        """A new account (not an admin); returns its user id."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        with urllib.request.urlopen(endpoint, timeout=10) as answer:
            nonce = json.load(answer)["nonce"]
        mac = hmac.new(self.secret.encode(), b"\x00".join(
            part.encode() for part in (nonce, localpart, password, "notadmin")), hashlib.sha1).hexdigest()
        body = json.dumps({"nonce": nonce, "username": localpart, "password": password, "admin": False,
                           "mac": mac}).encode()
        request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)["user_id"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for log in self.logs:
            log.close()


@dataclass
class Resident:
    """A Matrix account driven through matrix-nio (tests/matrix_residents.py, in Synapse's venv)."""
    homeserver: str
    user_id: str
    password: str
    token: str = ""

    def do(self, action: str, **arguments) -> dict:
        request = {"homeserver": self.homeserver, "user_id": self.user_id, "password": self.password,
                   "token": self.token, "action": action, **arguments}
        done = subprocess.run([str(synapse_python()), str(ROOT / "tests" / "matrix_residents.py")],
                              input=json.dumps(request), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{action} as {self.user_id} failed: {done.stderr[-2000:]}")
        answer = json.loads(done.stdout)
        self.token = answer.pop("token", self.token)
        return answer

