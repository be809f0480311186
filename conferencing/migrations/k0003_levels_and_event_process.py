"""conferencing: sites' audio levels shared between bridge processes; the process a participation was on

Revision ID: k0003_levels_and_event_process
Revises: k0002_bridge_processes
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "k0003_levels_and_event_process"
down_revision = "k0002_bridge_processes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conference_site_levels",
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conferences.id"], ondelete="CASCADE",
                                name=op.f("fk_conference_site_levels_conference_id_conferences")),
        sa.PrimaryKeyConstraint("conference_id", "site_id", name=op.f("pk_conference_site_levels")),
    )
    with op.batch_alter_table("conference_events") as batch:
        batch.add_column(sa.Column("process", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conference_events") as batch:
        batch.drop_column("process")
    op.drop_table("conference_site_levels")
