"""collectors: service check status

Revision ID: c0003_services
Revises: c0002_napalm
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "c0003_services"
down_revision = "c0002_napalm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_status",
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("behind", sa.String(length=256), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_service_status")),
    )


def downgrade() -> None:
    op.drop_table("service_status")
