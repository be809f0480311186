"""collectors: interface traffic samples (raw polls and 5-minute/hourly rollups) for the device charts

Revision ID: c0004_interface_samples
Revises: c0003_services
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "c0004_interface_samples"
down_revision = "c0003_services"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interface_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("ifname", sa.String(length=64), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("in_bps", sa.Float(), nullable=True),
        sa.Column("out_bps", sa.Float(), nullable=True),
        sa.Column("in_max", sa.Float(), nullable=True),
        sa.Column("out_max", sa.Float(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interface_samples")),
    )
    op.create_index("ix_interface_samples_series", "interface_samples", ["device", "ifname", "resolution", "ts"])
    op.create_index("ix_interface_samples_resolution_ts", "interface_samples", ["resolution", "ts"])


def downgrade() -> None:
    op.drop_index("ix_interface_samples_resolution_ts", table_name="interface_samples")
    op.drop_index("ix_interface_samples_series", table_name="interface_samples")
    op.drop_table("interface_samples")
