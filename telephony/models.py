"""Tables of the IP-phone trial: phones (with digest HA1s, never passwords) and their bindings.

Bindings are written behind from the registrar's in-memory table so that the
database is not on the REGISTER hot path, yet a restart finds them again.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wangnet.accounts import utcnow
from wangnet.store import Base


class Phone(Base):
    __tablename__ = "phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    extension: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(128), default="", nullable=False)
    site_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    department: Mapped[str] = mapped_column(String(128), default="", nullable=False)
    mac: Mapped[str | None] = mapped_column(String(17), unique=True, nullable=True)
    model: Mapped[str] = mapped_column(String(128), default="", nullable=False)
    owner: Mapped[str] = mapped_column(String(128), default="", nullable=False)
    # digest credentials: HA1 = H(username:realm:password) per algorithm; the username is the extension
    realm: Mapped[str] = mapped_column(String(64), nullable=False)
    ha1_md5: Mapped[str] = mapped_column(String(32), nullable=False)
    ha1_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    enabled: Mapped[bool] = mapped_column(default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    last_registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_user_agent: Mapped[str] = mapped_column(String(256), default="", nullable=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    bindings: Mapped[list["Binding"]] = relationship(
        back_populates="phone", cascade="all, delete-orphan", lazy="selectin"
    )


class Binding(Base):
    """One registered contact of a phone (a phone may have several)."""

    __tablename__ = "sip_bindings"
    __table_args__ = (UniqueConstraint("phone_id", "contact", name="uq_sip_bindings_phone_contact"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone_id: Mapped[int] = mapped_column(ForeignKey("phones.id", ondelete="CASCADE"), nullable=False, index=True)
    contact: Mapped[str] = mapped_column(String(512), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    call_id: Mapped[str] = mapped_column(String(256), nullable=False)
    cseq: Mapped[int] = mapped_column(Integer, nullable=False)
    user_agent: Mapped[str] = mapped_column(String(256), default="", nullable=False)
    source: Mapped[str] = mapped_column(String(80), default="", nullable=False)  # e.g. "udp:127.0.0.1:5062"
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    phone: Mapped[Phone] = relationship(back_populates="bindings")
