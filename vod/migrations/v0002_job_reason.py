"""vod: ingest jobs keep their refusal as a code and parameters (translated by the web pages)

Revision ID: v0002_job_reason
Revises: v0001_catalogue
Create Date: 2026-11-25

``error`` stays the English text the command line prints; ``error_code`` and
``error_params`` (JSON) are what ``web/vod_reasons.py`` translates. Rows from
before this revision have an empty code and are shown in English.
"""
import sqlalchemy as sa
from alembic import op

revision = 'v0002_job_reason'
down_revision = 'v0001_catalogue'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vod_ingest_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('error_params', sa.Text(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('vod_ingest_jobs', schema=None) as batch_op:
        batch_op.drop_column('error_params')
        batch_op.drop_column('error_code')
