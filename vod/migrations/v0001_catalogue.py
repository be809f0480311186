"""vod: programmes, episodes, ingest jobs, viewing statistics

Revision ID: v0001_catalogue
Revises: 0001_accounts
Create Date: 2026-11-25

The programmes staff asked for are seeded here. On PostgreSQL a pg_trgm GIN index
gives the catalogue search what SQLite's FTS5 trigram table gives it (see vod/search.py).
"""
import sqlalchemy as sa
from alembic import op

PROGRAMMES = [
    ("xwlb", "新闻联播", "Xinwen Lianbo (CCTV news)", 1),
    ("jdft", "焦点访谈", "Focus Report", 2),
    ("nmgxw", "内蒙古新闻", "Inner Mongolia News", 3),
    ("ordosxw", "鄂尔多斯新闻", "Ordos News", 4),
    ("events", "重大活动", "Major events (recordings)", 5),
]


revision = 'v0001_catalogue'
down_revision = '0001_accounts'
branch_labels = ('vod',)
depends_on = None


def upgrade() -> None:
    op.create_table('vod_programmes',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vod_programmes'))
    )
    op.create_table('vod_episodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.String(length=64), nullable=False),
    sa.Column('air_date', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('tags', sa.String(length=512), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('renditions', sa.String(length=256), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['vod_programmes.id'], name=op.f('fk_vod_episodes_programme_id_vod_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vod_episodes'))
    )
    with op.batch_alter_table('vod_episodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vod_episodes_air_date'), ['air_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_vod_episodes_programme_id'), ['programme_id'], unique=False)

    op.create_table('vod_ingest_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('source_path', sa.String(length=1024), nullable=False),
    sa.Column('delete_source', sa.Boolean(), nullable=False),
    sa.Column('publish', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_segment_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['episode_id'], ['vod_episodes.id'], name=op.f('fk_vod_ingest_jobs_episode_id_vod_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vod_ingest_jobs'))
    )
    with op.batch_alter_table('vod_ingest_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vod_ingest_jobs_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vod_ingest_jobs_state'), ['state'], unique=False)

    op.create_table('vod_resume_positions',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('position_s', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['episode_id'], ['vod_episodes.id'], name=op.f('fk_vod_resume_positions_episode_id_vod_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('username', 'episode_id', name=op.f('pk_vod_resume_positions'))
    )
    op.create_table('vod_view_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('watched_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['episode_id'], ['vod_episodes.id'], name=op.f('fk_vod_view_sessions_episode_id_vod_episodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vod_view_sessions'))
    )
    with op.batch_alter_table('vod_view_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vod_view_sessions_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vod_view_sessions_last_seen_at'), ['last_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vod_view_sessions_site_id'), ['site_id'], unique=False)

    programmes = sa.table(
        "vod_programmes", sa.column("id"), sa.column("name"), sa.column("name_en"), sa.column("position")
    )
    op.bulk_insert(programmes, [dict(zip(("id", "name", "name_en", "position"), p)) for p in PROGRAMMES])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_vod_episodes_search_trgm ON vod_episodes USING gin "
            "((title || ' ' || description || ' ' || tags) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_vod_episodes_search_trgm")
    with op.batch_alter_table('vod_view_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vod_view_sessions_site_id'))
        batch_op.drop_index(batch_op.f('ix_vod_view_sessions_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_vod_view_sessions_episode_id'))

    op.drop_table('vod_view_sessions')
    op.drop_table('vod_resume_positions')
    with op.batch_alter_table('vod_ingest_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vod_ingest_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_vod_ingest_jobs_episode_id'))

    op.drop_table('vod_ingest_jobs')
    with op.batch_alter_table('vod_episodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vod_episodes_programme_id'))
        batch_op.drop_index(batch_op.f('ix_vod_episodes_air_date'))

    op.drop_table('vod_episodes')
    op.drop_table('vod_programmes')
