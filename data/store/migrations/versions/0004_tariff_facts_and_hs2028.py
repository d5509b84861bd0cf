"""Tariff facts on national lines, the HS 2022 → HS 2028 correlation, the tariff version of rulings (issue 11).

Revision ID: 0004
Revises: 0002
Created: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hs_correlations',
    sa.Column('to_edition', sa.String(length=16), nullable=False),
    sa.Column('from_code', sa.String(length=6), nullable=False),
    sa.Column('to_code', sa.String(length=6), nullable=False),
    sa.Column('from_edition', sa.String(length=16), nullable=False),
    sa.Column('partial', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('to_edition', 'from_code', 'to_code')
    )
    with op.batch_alter_table('nomenclature_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rebate_rate', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('vat_rate', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('supervision', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('inspection', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('valid_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('valid_to', sa.Date(), nullable=True))
    with op.batch_alter_table('rulings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tariff_version', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rulings', schema=None) as batch_op:
        batch_op.drop_column('tariff_version')
    with op.batch_alter_table('nomenclature_lines', schema=None) as batch_op:
        batch_op.drop_column('valid_to')
        batch_op.drop_column('valid_from')
        batch_op.drop_column('inspection')
        batch_op.drop_column('supervision')
        batch_op.drop_column('vat_rate')
        batch_op.drop_column('rebate_rate')
    op.drop_table('hs_correlations')
