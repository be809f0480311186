"""Tables of the collectors: alerts (one per root cause) and the latest device/interface state."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wangnet.accounts import utcnow
from wangnet.store import Base


class Alert(Base):
    """One root cause: a failed link or device, with the sites it cuts off."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(256), nullable=False, index=True)  # RootCause.key
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # link | device
    subject: Mapped[str] = mapped_column(String(256), nullable=False)  # ids, "+"-joined
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="open", index=True)
    cut_off_sites: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    cut_off_devices: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    flaps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ack_comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DeviceStatus(Base):
    """Latest view of each device, for pages and APIs (the store, never the device, answers them)."""

    __tablename__ = "device_status"

    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # up | down | unreachable
    behind: Mapped[str | None] = mapped_column(String(256), nullable=True)
    uptime_ticks: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # sysUpTime exceeds int32
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    poll_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class InterfaceStatus(Base):
    """Latest counters and rates of each interface."""

    __tablename__ = "interface_status"

    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    ifname: Mapped[str] = mapped_column(String(64), primary_key=True)
    if_index: Mapped[int] = mapped_column(Integer, nullable=False)
    oper_up: Mapped[bool | None] = mapped_column(nullable=True)
    admin_up: Mapped[bool | None] = mapped_column(nullable=True)
    speed_mbps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    in_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    out_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    in_errors_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    out_errors_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    counters: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON of raw counters
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class DeviceFacts(Base):
    """What NAPALM last said about a device, and the SSH host key trusted on first use."""

    __tablename__ = "device_facts"

    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    model: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    os_version: Mapped[str] = mapped_column(String(256), nullable=False, default="")
    serial_number: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    hostname: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    uptime_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    interfaces: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON of get_interfaces
    errors: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON getter → reason
    host_key_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    host_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class ConfigVersion(Base):
    """A configuration backup; a new row only when the meaningful content changed."""

    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    diff: Mapped[str] = mapped_column(Text, nullable=False, default="")  # from the previous version
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class DriftFinding(Base):
    """The current planned-versus-discovered differences (replaced by each NAPALM round)."""

    __tablename__ = "drift_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # missing | miscabled | unexpected
    link: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class ServiceStatus(Base):
    """Latest check of each e-government application."""

    __tablename__ = "service_status"

    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # up | down | unreachable | unchecked
    behind: Mapped[str | None] = mapped_column(String(256), nullable=True)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class InterfaceSample(Base):
    """Traffic of one interface at one time: a raw poll (resolution 0) or a 5-minute/hourly rollup.

    ``ts`` is epoch seconds (the bucket start for rollups); ``samples`` is how
    many raw polls a row stands for, so rollups of rollups stay true averages.
    """

    __tablename__ = "interface_samples"
    __table_args__ = (
        Index("ix_interface_samples_series", "device", "ifname", "resolution", "ts"),
        Index("ix_interface_samples_resolution_ts", "resolution", "ts"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), nullable=False)
    ifname: Mapped[str] = mapped_column(String(64), nullable=False)
    resolution: Mapped[int] = mapped_column(Integer, nullable=False)  # 0 raw, 300, 3600 seconds
    ts: Mapped[int] = mapped_column(BigInteger, nullable=False)
    in_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    out_bps: Mapped[float | None] = mapped_column(Float, nullable=True)
    in_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    out_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    samples: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
