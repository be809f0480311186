"""telephony: phones and SIP bindings

Revision ID: t0001_phones
Revises: 0001_accounts
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "t0001_phones"
down_revision = "0001_accounts"
branch_labels = ("telephony",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=16), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("realm", sa.String(length=64), nullable=False),
        sa.Column("ha1_md5", sa.String(length=32), nullable=False),
        sa.Column("ha1_sha256", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_user_agent", sa.String(length=256), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phones")),
        sa.UniqueConstraint("extension", name=op.f("uq_phones_extension")),
        sa.UniqueConstraint("mac", name=op.f("uq_phones_mac")),
    )
    op.create_index(op.f("ix_phones_site_id"), "phones", ["site_id"])
    op.create_table(
        "sip_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_id", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(length=512), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.String(length=256), nullable=False),
        sa.Column("cseq", sa.Integer(), nullable=False),
        sa.Column("user_agent", sa.String(length=256), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["phone_id"], ["phones.id"], name=op.f("fk_sip_bindings_phone_id_phones"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_bindings")),
        sa.UniqueConstraint("phone_id", "contact", name="uq_sip_bindings_phone_contact"),
    )
    op.create_index(op.f("ix_sip_bindings_phone_id"), "sip_bindings", ["phone_id"])
    op.create_index(op.f("ix_sip_bindings_expires_at"), "sip_bindings", ["expires_at"])


def downgrade() -> None:
    op.drop_table("sip_bindings")
    op.drop_index(op.f("ix_phones_site_id"), table_name="phones")
    op.drop_table("phones")
