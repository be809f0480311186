"""collectors: device facts, configuration versions, drift findings

Revision ID: c0002_napalm
Revises: c0001_alerts_state
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "c0002_napalm"
down_revision = "c0001_alerts_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_facts",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("os_version", sa.String(length=256), nullable=False),
        sa.Column("serial_number", sa.String(length=128), nullable=False),
        sa.Column("hostname", sa.String(length=128), nullable=False),
        sa.Column("uptime_seconds", sa.Float(), nullable=True),
        sa.Column("interfaces", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("host_key_type", sa.String(length=64), nullable=True),
        sa.Column("host_key", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device", name=op.f("pk_device_facts")),
    )
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_versions")),
    )
    op.create_index(op.f("ix_config_versions_device"), "config_versions", ["device"])
    op.create_table(
        "drift_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("link", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_findings")),
    )
    op.create_index(op.f("ix_drift_findings_link"), "drift_findings", ["link"])


def downgrade() -> None:
    op.drop_index(op.f("ix_drift_findings_link"), table_name="drift_findings")
    op.drop_table("drift_findings")
    op.drop_index(op.f("ix_config_versions_device"), table_name="config_versions")
    op.drop_table("config_versions")
    op.drop_table("device_facts")
