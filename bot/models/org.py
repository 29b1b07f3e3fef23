"""The org directory (组织架构): 街道 → 社区 → 网格 → 小区, buildings, hotlines, the chat groups bound
to a compound, and the compound a resident of a one-to-one channel lives in."""
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from bot.models.base import Base


class Subdistrict(Base):
    """街道, with its party working committee secretary (街道"大工委"书记)."""
    __tablename__ = "subdistricts"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    secretary_name = Column(String(50))
    secretary_phone = Column(String(30))
    secretary_ids = Column(JSON, nullable=False, default=dict)  # platform → user id
    communities = relationship("Community", back_populates="subdistrict", order_by="Community.name")


class Community(Base):
    """社区, with its party committee secretary (社区"大党委"书记)."""
    __tablename__ = "communities"
    id = Column(Integer, primary_key=True)
    subdistrict_id = Column(ForeignKey("subdistricts.id", ondelete="CASCADE"), nullable=False)
    name = Column(String(100), nullable=False, unique=True)
    secretary_name = Column(String(50))
    secretary_phone = Column(String(30))
    secretary_ids = Column(JSON, nullable=False, default=dict)
    office_hours = Column(String(100))
    subdistrict = relationship("Subdistrict", back_populates="communities")
    grids = relationship("Grid", back_populates="community", order_by="Grid.name")


class Grid(Base):
    """网格, with its grid worker (网格员)."""
    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("community_id", "name"),)
    id = Column(Integer, primary_key=True)
    community_id = Column(ForeignKey("communities.id", ondelete="CASCADE"), nullable=False)
    name = Column(String(100), nullable=False)
    worker_name = Column(String(50))
    worker_phone = Column(String(30))
    worker_ids = Column(JSON, nullable=False, default=dict)
    community = relationship("Community", back_populates="grids")
    compounds = relationship("Compound", back_populates="grid", order_by="Compound.name")


class Compound(Base):
    """小区: its party branch (党支部) and secretary, property company (物业), owners' committee (业委会)."""
    __tablename__ = "compounds"
    id = Column(Integer, primary_key=True)
    grid_id = Column(ForeignKey("grids.id", ondelete="CASCADE"), nullable=False)
    name = Column(String(100), nullable=False, unique=True)
    branch_name = Column(String(100))
    secretary_name = Column(String(50))
    secretary_phone = Column(String(30))
    secretary_ids = Column(JSON, nullable=False, default=dict)
    property_company = Column(String(100))
    property_hotline = Column(String(30))
    owners_committee_name = Column(String(50))
    owners_committee_phone = Column(String(30))
    grid = relationship("Grid", back_populates="compounds")
    aliases = relationship("CompoundAlias", back_populates="compound", cascade="all, delete-orphan")
    buildings = relationship("Building", back_populates="compound", cascade="all, delete-orphan",
                             order_by="Building.number")


class CompoundAlias(Base):
    """Another name residents use for a compound (金御城小区, 金御)."""
    __tablename__ = "compound_aliases"
    id = Column(Integer, primary_key=True)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    alias = Column(String(100), nullable=False, unique=True)
    compound = relationship("Compound", back_populates="aliases")


class Building(Base):
    """楼栋, with its building leader (楼栋长). `number` is normalised: 7, 12, B."""
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("compound_id", "number"),)
    id = Column(Integer, primary_key=True)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    number = Column(String(20), nullable=False)
    leader_name = Column(String(50))
    leader_phone = Column(String(30))
    leader_ids = Column(JSON, nullable=False, default=dict)
    compound = relationship("Compound", back_populates="buildings")


class Hotline(Base):
    """An emergency or service number (燃气抢修, 电梯维保 …) for a whole site, a community or a compound."""
    __tablename__ = "hotlines"
    __table_args__ = (UniqueConstraint("scope", "scope_name", "kind"),)
    id = Column(Integer, primary_key=True)
    scope = Column(String(20), nullable=False)  # site, community, compound
    scope_name = Column(String(100), nullable=False, default="")
    kind = Column(String(40), nullable=False)  # gas_company, lift_company, heat_company …
    name = Column(String(100))
    number = Column(String(30), nullable=False)


class GroupBinding(Base):
    """A chat group bound to the compound it serves (群绑定)."""
    __tablename__ = "group_bindings"
    __table_args__ = (UniqueConstraint("platform", "group_id"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(20), nullable=False)
    group_id = Column(String(200), nullable=False)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    compound = relationship("Compound")


class ResidentCompound(Base):
    """The compound a resident of a one-to-one channel (公众号, 微信客服, a direct chat) last filed
    in or named (常住小区): offered back when they report again (`bot.resident_compounds`)."""
    __tablename__ = "resident_compounds"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(20), nullable=False)
    user_id = Column(String(200), nullable=False)
    compound_id = Column(ForeignKey("compounds.id", ondelete="CASCADE"), nullable=False)
    confirmed_at = Column(DateTime, nullable=False)  # when the resident last filed there or named it
    compound = relationship("Compound")
