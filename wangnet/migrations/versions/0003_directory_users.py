"""accounts: where a user's password is checked ("local" here, or "directory" by an LDAP bind)

Revision ID: 0003_directory_users
Revises: 0002_contacts
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_directory_users"
down_revision = "0002_contacts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), server_default="local", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("source")
