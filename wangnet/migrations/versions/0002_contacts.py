"""accounts: e-mail and mobile number for alert notifications

Revision ID: 0002_contacts
Revises: 0001_accounts
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_contacts"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("mobile", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("mobile")
        batch.drop_column("email")
