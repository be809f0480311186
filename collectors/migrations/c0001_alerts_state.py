"""collectors: alerts, device and interface status

Revision ID: c0001_alerts_state
Revises: 0001_accounts
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "c0001_alerts_state"
down_revision = "0001_accounts"
branch_labels = ("collectors",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cut_off_sites", sa.Text(), nullable=False),
        sa.Column("cut_off_devices", sa.Text(), nullable=False),
        sa.Column("flaps", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("ack_comment", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_key"), "alerts", ["key"])
    op.create_index(op.f("ix_alerts_state"), "alerts", ["state"])
    op.create_table(
        "device_status",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("behind", sa.String(length=256), nullable=True),
        sa.Column("uptime_ticks", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("poll_seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device", name=op.f("pk_device_status")),
    )
    op.create_table(
        "interface_status",
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("ifname", sa.String(length=64), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=False),
        sa.Column("oper_up", sa.Boolean(), nullable=True),
        sa.Column("admin_up", sa.Boolean(), nullable=True),
        sa.Column("speed_mbps", sa.Integer(), nullable=True),
        sa.Column("in_bps", sa.Float(), nullable=True),
        sa.Column("out_bps", sa.Float(), nullable=True),
        sa.Column("in_errors_per_s", sa.Float(), nullable=True),
        sa.Column("out_errors_per_s", sa.Float(), nullable=True),
        sa.Column("counters", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device", "ifname", name=op.f("pk_interface_status")),
    )


def downgrade() -> None:
    op.drop_table("interface_status")
    op.drop_table("device_status")
    op.drop_index(op.f("ix_alerts_state"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_key"), table_name="alerts")
    op.drop_table("alerts")
