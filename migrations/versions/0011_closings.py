"""closings: tills' daily closes, compared with the server's books per till and business day

Revision ID: 0011
Revises: 0010

A new table only; no existing row changes. Its unique indexes make a re-sent
close a replay (device, day, fingerprint) and keep one current close per till
and day (partial, where replaced_at IS NULL).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

CURRENT = "replaced_at IS NULL"
NEEDS_ACTION = "status IN ('rejected', 'conflict') AND resolution IS NULL"


def upgrade():
    op.create_table(
        'closings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('sales_count', sa.Integer(), nullable=False),
        sa.Column('sales_total', sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column('first_receipt', sa.String(length=64), nullable=True),
        sa.Column('last_receipt', sa.String(length=64), nullable=True),
        sa.Column('offline_ids', sa.Text(), nullable=True),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('replaced_by_id', sa.Integer(), nullable=True),
        sa.Column('status_at_receipt', sa.String(length=16), nullable=False),
        sa.Column('server_count_at_receipt', sa.Integer(), nullable=False),
        sa.Column('server_total_at_receipt', sa.Numeric(precision=14, scale=3), nullable=False),
        sa.CheckConstraint("status_at_receipt IN ('matched', 'differs')", name=op.f('ck_closings_status_at_receipt')),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_closings_device_id_devices')),
        sa.ForeignKeyConstraint(['replaced_by_id'], ['closings.id'], name=op.f('fk_closings_replaced_by_id_closings')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_closings')),
    )
    op.create_index('uq_closings_content', 'closings', ['device_id', 'business_day', 'fingerprint'], unique=True)
    op.create_index('uq_closings_current', 'closings', ['device_id', 'business_day'], unique=True,
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    op.create_index('ix_closings_current_day', 'closings', ['business_day', 'device_id'],
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    # A close without ids is compared with the till's refused sales of that day.
    op.create_index('ix_sync_attempts_action_device_sold', 'sync_attempts', ['device_id', 'sold_at'],
                    sqlite_where=sa.text(NEEDS_ACTION), postgresql_where=sa.text(NEEDS_ACTION))


def downgrade():
    op.drop_index('ix_sync_attempts_action_device_sold', table_name='sync_attempts')
    op.drop_index('ix_closings_current_day', table_name='closings')
    op.drop_index('uq_closings_current', table_name='closings')
    op.drop_index('uq_closings_content', table_name='closings')
    op.drop_table('closings')
