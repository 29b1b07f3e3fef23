"""Shared fixtures: one model trained per test run, and the paths the tests use."""
import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RASA_TELEMETRY_ENABLED"] = "false"


def project_env() -> dict:
    """The environment the project's commands run in (the Makefile sets the same)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> Path:
    """The project's model, trained once for the whole run from config.yml and nlu_data/.

    TEST_MODEL=path reuses a model trained beforehand (`make test` passes the one `make train`
    keeps, trained from nothing on a fresh clone).
    A test asking for it is marked `model`, which `make test-fast` leaves out."""
    if os.environ.get("TEST_MODEL"):
        return Path(os.environ["TEST_MODEL"])
    out = tmp_path_factory.mktemp("model")
    subprocess.run(
        [str(BIN / "rasa"), "train", "--data", "nlu_data", "--config", "config.yml",
         "--domain", "domain.yml", "--out", str(out), "--fixed-model-name", "test"],
        cwd=ROOT, env=project_env(), check=True, stdout=subprocess.DEVNULL,
    )
    return out / "test.tar.gz"


# Tiers (markers in pytest.ini): a test is marked by the fixtures it asks for and by the name of
# its file, so a new test that needs the model, the running servers or a browser is left out of
# `make test-fast` without anyone marking it. Files that start servers of their own say so with
# `pytestmark = pytest.mark.servers`.
MARKED_BY_FIXTURE = {"trained_model": ("model",), "stack": ("servers",)}
MARKED_BY_FILE = {"_browser.py": "browser", "_fuzz.py": "fuzz", "test_fuzz.py": "fuzz"}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in item.fixturenames:
            for marker in MARKED_BY_FIXTURE.get(fixture, ()):
                item.add_marker(marker)
        for ending, marker in MARKED_BY_FILE.items():
            if item.path.name.endswith(ending):
                item.add_marker(marker)
        callspec = getattr(item, "callspec", None)
        if callspec and "postgresql" in callspec.params.values():
            item.add_marker("postgres")


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _fresh_postgres():
    """An engine on a new schema of its own, so concurrent test runs never meet."""
    import uuid

    from sqlalchemy import text

    from bot.db import make_engine
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means "absent"
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error.__class__.__name__}")
    finally:
        admin.dispose()
    return make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"), schema


def _drop_schema(schema: str) -> None:
    from sqlalchemy import text

    from bot.db import make_engine
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@functools.lru_cache(maxsize=None)
def _migrated_sqlite_file() -> Path:
    """One SQLite file migrated by Alembic per run, copied for each test: running every revision
    again for each of hundreds of database tests would be most of the fast tier's time."""
    from bot.db import make_engine
    from bot.migrate import upgrade
    path = Path(tempfile.mkdtemp(prefix="migrated_sqlite_")) / "migrated.db"
    atexit.register(shutil.rmtree, path.parent, True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@contextmanager
def migrated_engine(kind: str, folder: Path):
    """A migrated, empty database: an SQLite file in `folder` (kind "sqlite"), or a schema of its
    own on the real PostgreSQL on 127.0.0.1 (kind "postgresql"), dropped afterwards."""
    from bot.db import make_engine
    from bot.migrate import upgrade
    schema = None
    if kind == "sqlite":
        shutil.copyfile(_migrated_sqlite_file(), folder / "test.db")
        engine = make_engine(f"sqlite:///{folder / 'test.db'}")
    else:
        engine, schema = _fresh_postgres()
        upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        if schema:
            _drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A migrated, empty database: an SQLite file, and the real PostgreSQL on 127.0.0.1."""
    with migrated_engine(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture(scope="session")
def fake_platform():
    from fake_platform import FakePlatform
    return FakePlatform()


@pytest.fixture(scope="session")
def stack(trained_model, fake_platform, tmp_path_factory):
    """The real Rasa server (every connector of tests/stack/, pointed at the fake platform) and
    action server, with the sample site in an SQLite database."""
    from running_stack import Stack
    stack = Stack.start(trained_model, tmp_path_factory.mktemp("stack"), fake_platform.base_url)
    yield stack
    stack.stop()


@pytest.fixture(autouse=True)
def cheap_password_hashing(request, monkeypatch):
    """Argon2id at its real cost (64 MiB, a quarter of a second a hash) for every account and
    login the tests make would add minutes; a test marked `real_password_cost` checks the real one."""
    if request.node.get_closest_marker("real_password_cost") is None:
        from argon2 import PasswordHasher

        from bot import users
        monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))

