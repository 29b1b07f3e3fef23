"""Which compounds a staff member may see (权限范围): every view and export filters by it.

- admin: everything (`None` stands for "no limit").
- community staff: every compound of their communities (and any compound given to them).
- branch secretary: their compounds.

`compound_ids_for(session_or_engine, user) -> set[int] | None` asks the database;
`can_see_compound(user, compound_id)` answers from a user loaded by `console.auth.current_user`
(its communities and compounds are loaded with it); `limit_to(query, column, ids)` adds the
scope to a query on any column holding a compound id. What is kept per community by name (the
FAQ) asks `covered_communities(user)`.
"""
from sqlalchemy import Column, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Select

from bot.models import Community, Compound, Grid, User


def load_user(session: Session, user_id: int) -> User | None:
    """A user with its scope loaded: its communities with their compounds, and its compounds
    with their communities."""
    return session.scalars(select(User).where(User.id == user_id).options(
        selectinload(User.communities).selectinload(Community.grids).selectinload(Grid.compounds),
        selectinload(User.compounds).selectinload(Compound.grid).selectinload(Grid.community))).first()


def covered_compound_ids(user: User) -> set[int] | None:
    """The compounds a loaded user covers; None for an admin (all)."""
    if user.role == "admin":
        return None
    ids = {compound.id for compound in user.compounds}
    for community in user.communities:
        ids |= {compound.id for grid in community.grids for compound in grid.compounds}
    return ids


def covered_communities(user: User) -> set[str] | None:
    """The names of the communities a loaded user covers, a secretary's through their compounds;
    None for an admin (all)."""
    if user.role == "admin":
        return None
    return {community.name for community in user.communities} | {
        compound.grid.community.name for compound in user.compounds}


def compound_ids_for(session_or_engine: Session | Engine, user: User) -> set[int] | None:
    """The compound ids `user` may see, read from the database; None means all (admin)."""
    if user.role == "admin":
        return None
    if isinstance(session_or_engine, Session):
        return covered_compound_ids(load_user(session_or_engine, user.id))
    with Session(session_or_engine, future=True) as session:
        return covered_compound_ids(load_user(session, user.id))


def can_see_compound(user: User, compound_id: int | None) -> bool:
    """Whether `user` (as `current_user` returns it) may see what belongs to `compound_id`."""
    ids = covered_compound_ids(user)
    return ids is None or compound_id in ids


def limit_to(query: Select, column: Column, ids: set[int] | None) -> Select:
    """`query` restricted to the compounds in `ids` (unchanged when `ids` is None)."""
    return query if ids is None else query.where(column.in_(sorted(ids)))
