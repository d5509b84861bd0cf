"""Shipments, their predictions and clearance outcomes (issue 10: outcomes back into the product).

Revision ID: 0002
Revises: 0001
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shipment_outcomes',
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('declared_at', sa.DateTime(), nullable=False),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('delay_hours', sa.Float(), nullable=True),
    sa.Column('inspected', sa.Boolean(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('first_pass', sa.Boolean(), nullable=False),
    sa.Column('costs', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("result IN ('released', 'held', 'returned', 'rejected')", name='ck_shipment_outcomes_result'),
    sa.PrimaryKeyConstraint('shipment_id')
    )
    with op.batch_alter_table('shipment_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_outcomes_declared_at'), ['declared_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_outcomes_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_outcomes_result'), ['result'], unique=False)

    op.create_table('shipments',
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('declared_at', sa.DateTime(), nullable=False),
    sa.Column('order_created_at', sa.DateTime(), nullable=True),
    sa.Column('data_ready_at', sa.DateTime(), nullable=True),
    sa.Column('export_port', sa.String(length=8), nullable=False),
    sa.Column('destination_port', sa.String(length=8), nullable=False),
    sa.Column('destination_country', sa.String(length=2), nullable=False),
    sa.Column('carrier', sa.String(length=100), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('hs_chapter', sa.String(length=2), nullable=True),
    sa.Column('declared_value_usd', sa.Float(), nullable=True),
    sa.Column('n_error_findings', sa.Integer(), nullable=False),
    sa.Column('n_three_document_findings', sa.Integer(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('shipment_id')
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipments_carrier'), ['carrier'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_declared_at'), ['declared_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_destination_port'), ['destination_port'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_export_port'), ['export_port'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_hs_chapter'), ['hs_chapter'], unique=False)

    op.create_table('shipment_predictions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('scored_at', sa.DateTime(), nullable=False),
    sa.Column('delay_version', sa.Integer(), nullable=True),
    sa.Column('risk_version', sa.Integer(), nullable=True),
    sa.Column('p50_hours', sa.Float(), nullable=False),
    sa.Column('p90_hours', sa.Float(), nullable=False),
    sa.Column('risk_level', sa.String(length=8), nullable=False),
    sa.Column('p_low', sa.Float(), nullable=False),
    sa.Column('p_medium', sa.Float(), nullable=False),
    sa.Column('p_high', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.shipment_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('shipment_predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_predictions_scored_at'), ['scored_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_predictions_shipment_id'), ['shipment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('shipment_predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_predictions_shipment_id'))
        batch_op.drop_index(batch_op.f('ix_shipment_predictions_scored_at'))

    op.drop_table('shipment_predictions')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_hs_chapter'))
        batch_op.drop_index(batch_op.f('ix_shipments_export_port'))
        batch_op.drop_index(batch_op.f('ix_shipments_destination_port'))
        batch_op.drop_index(batch_op.f('ix_shipments_declared_at'))
        batch_op.drop_index(batch_op.f('ix_shipments_carrier'))

    op.drop_table('shipments')
    with op.batch_alter_table('shipment_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_outcomes_result'))
        batch_op.drop_index(batch_op.f('ix_shipment_outcomes_received_at'))
        batch_op.drop_index(batch_op.f('ix_shipment_outcomes_declared_at'))

    op.drop_table('shipment_outcomes')
