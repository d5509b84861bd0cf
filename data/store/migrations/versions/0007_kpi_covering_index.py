"""A covering index of what the KPI dashboard reads of a stored shipment (issue 10: KPI dashboard).

SQLite keeps a row's columns together, documents and feature rows included; with this index the KPI query reads only
the index pages (bench/kpi.py measures the difference).

Revision ID: 0007
Revises: 0002
Created: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = ['declared_at', 'shipment_id', 'export_port', 'carrier', 'channel', 'hs_chapter', 'n_error_findings',
           'n_three_document_findings', 'order_created_at']


def upgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index('ix_shipments_kpi', COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_shipments_kpi')
