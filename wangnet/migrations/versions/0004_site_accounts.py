"""accounts: a site account is bound to one inventory site (users.site_id) and joins conferences only as it

Revision ID: 0004_site_accounts
Revises: 0003_directory_users
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_site_accounts"
down_revision = "0003_directory_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("site_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("site_id")
