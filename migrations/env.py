"""Alembic environment: the URL comes from the caller or DATABASE_URL (see bot/settings.py)."""
from alembic import context

from bot.db import make_engine
from bot.models import Base
from bot.settings import database_url

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or database_url())
    with engine.connect() as connection:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `python -m bot db upgrade`")
run_migrations()
