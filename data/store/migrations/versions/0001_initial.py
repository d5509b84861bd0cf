"""The schema as it stood before migrations existed: rulings and their import batches, national tariff lines, the
review log, API keys and the alias history.

Timestamps are plain DateTime here: ``data.store.rulings.UTCDateTime`` stores naive UTC in a DateTime column, so the
migration does not depend on that Python type.

Revision ID: 0001
Revises:
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alias_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=False),
    sa.Column('alias', sa.String(length=50), nullable=False),
    sa.Column('from_version', sa.Integer(), nullable=True),
    sa.Column('to_version', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('forced', sa.Boolean(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_alias_changes_at'), 'alias_changes', ['at'], unique=False)
    op.create_index(op.f('ix_alias_changes_model_name'), 'alias_changes', ['model_name'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_index(op.f('ix_api_keys_key_id'), 'api_keys', ['key_id'], unique=True)

    op.create_table('nomenclature_lines',
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('hs6', sa.String(length=6), nullable=False),
    sa.Column('zh', sa.Text(), nullable=True),
    sa.Column('en', sa.Text(), nullable=True),
    sa.Column('unit1', sa.String(length=32), nullable=True),
    sa.Column('unit2', sa.String(length=32), nullable=True),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_index(op.f('ix_nomenclature_lines_hs6'), 'nomenclature_lines', ['hs6'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('query_text', sa.Text(), nullable=False),
    sa.Column('declared_elements', sa.JSON(), nullable=False),
    sa.Column('suggested_code', sa.String(length=10), nullable=True),
    sa.Column('suggested_confidence', sa.Float(), nullable=True),
    sa.Column('final_code', sa.String(length=10), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('model_name', sa.String(length=200), nullable=True),
    sa.Column('model_version', sa.String(length=100), nullable=True),
    sa.Column('index_fingerprint', sa.String(length=200), nullable=True),
    sa.Column('ruling_id', sa.String(length=100), nullable=False),
    sa.Column('evidence_ids', sa.JSON(), nullable=False),
    sa.CheckConstraint("action IN ('accept', 'override')", name='ck_reviews_action'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_reviews_action'), 'reviews', ['action'], unique=False)
    op.create_index(op.f('ix_reviews_created_at'), 'reviews', ['created_at'], unique=False)
    op.create_index(op.f('ix_reviews_final_code'), 'reviews', ['final_code'], unique=False)
    op.create_index(op.f('ix_reviews_reviewer'), 'reviews', ['reviewer'], unique=False)
    op.create_index(op.f('ix_reviews_ruling_id'), 'reviews', ['ruling_id'], unique=False)

    op.create_table('ruling_import_batches',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('encoding', sa.String(length=32), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('errors_sample', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('rulings',
    sa.Column('ruling_id', sa.String(length=64), nullable=False),
    sa.Column('product_name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('declared_elements', sa.JSON(), nullable=False),
    sa.Column('hs_code', sa.String(length=10), nullable=False),
    sa.Column('hs6', sa.String(length=6), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('ruling_date', sa.Date(), nullable=True),
    sa.Column('nomenclature_version', sa.String(length=32), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('reviewer', sa.String(length=200), nullable=True),
    sa.Column('model_version', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('import_batch_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['import_batch_id'], ['ruling_import_batches.id'], ),
    sa.PrimaryKeyConstraint('ruling_id')
    )
    op.create_index(op.f('ix_rulings_created_at'), 'rulings', ['created_at'], unique=False)
    op.create_index('ix_rulings_hs6', 'rulings', ['hs6'], unique=False)
    op.create_index(op.f('ix_rulings_hs_code'), 'rulings', ['hs_code'], unique=False)
    op.create_index(op.f('ix_rulings_source'), 'rulings', ['source'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_rulings_source'), table_name='rulings')
    op.drop_index(op.f('ix_rulings_hs_code'), table_name='rulings')
    op.drop_index('ix_rulings_hs6', table_name='rulings')
    op.drop_index(op.f('ix_rulings_created_at'), table_name='rulings')

    op.drop_table('rulings')
    op.drop_table('ruling_import_batches')
    op.drop_index(op.f('ix_reviews_ruling_id'), table_name='reviews')
    op.drop_index(op.f('ix_reviews_reviewer'), table_name='reviews')
    op.drop_index(op.f('ix_reviews_final_code'), table_name='reviews')
    op.drop_index(op.f('ix_reviews_created_at'), table_name='reviews')
    op.drop_index(op.f('ix_reviews_action'), table_name='reviews')

    op.drop_table('reviews')
    op.drop_index(op.f('ix_nomenclature_lines_hs6'), table_name='nomenclature_lines')

    op.drop_table('nomenclature_lines')
    op.drop_index(op.f('ix_api_keys_key_id'), table_name='api_keys')

    op.drop_table('api_keys')
    op.drop_index(op.f('ix_alias_changes_model_name'), table_name='alias_changes')
    op.drop_index(op.f('ix_alias_changes_at'), table_name='alias_changes')

    op.drop_table('alias_changes')
