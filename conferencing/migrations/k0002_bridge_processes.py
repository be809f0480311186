"""conferencing: registry of bridge processes (scale-out trunks between processes)

Revision ID: k0002_bridge_processes
Revises: k0001_conferences
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "k0002_bridge_processes"
down_revision = "k0001_conferences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conference_bridge_processes",
        sa.Column("claim", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("process", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("claim", name=op.f("pk_conference_bridge_processes")),
    )


def downgrade() -> None:
    op.drop_table("conference_bridge_processes")
