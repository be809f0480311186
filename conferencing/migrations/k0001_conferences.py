"""conferencing: conferences, invited sites, participation events

Revision ID: k0001_conferences
Revises: 0001_accounts
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "k0001_conferences"
down_revision = "0001_accounts"
branch_labels = ("conferencing",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("host_site", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("focus", sa.String(length=64), nullable=True),
        sa.Column("muted", sa.Text(), nullable=False),
        sa.Column("rotate_seconds", sa.Float(), nullable=False),
        sa.Column("grid", sa.Boolean(), nullable=False),
        sa.Column("speaker", sa.String(length=64), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conferences")),
    )
    op.create_index(op.f("ix_conferences_state"), "conferences", ["state"])
    op.create_table(
        "conference_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=64), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conferences.id"],
                                name=op.f("fk_conference_sites_conference_id_conferences"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_sites")),
        sa.UniqueConstraint("conference_id", "site_id", name="uq_conference_sites_conference_site"),
    )
    op.create_index(op.f("ix_conference_sites_conference_id"), "conference_sites", ["conference_id"])
    op.create_table(
        "conference_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("resource", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conference_id"], ["conferences.id"],
                                name=op.f("fk_conference_events_conference_id_conferences"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_events")),
    )
    op.create_index(op.f("ix_conference_events_conference_id"), "conference_events", ["conference_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_conference_events_conference_id"), table_name="conference_events")
    op.drop_table("conference_events")
    op.drop_index(op.f("ix_conference_sites_conference_id"), table_name="conference_sites")
    op.drop_table("conference_sites")
    op.drop_index(op.f("ix_conferences_state"), table_name="conferences")
    op.drop_table("conferences")
