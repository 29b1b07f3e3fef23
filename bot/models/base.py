"""The declarative base every model derives from: its `metadata` is the schema Alembic compares
the revisions with (migrations/env.py, tests/test_migrations.py)."""
from sqlalchemy.orm import declarative_base

Base = declarative_base()
