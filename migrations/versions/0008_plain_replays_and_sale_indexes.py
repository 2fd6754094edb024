"""sync_logs.plain_replays; sale-path indexes that no query reads, or that held only NULLs, trimmed

Revision ID: 0008
Revises: 0007

A replay (a sale answered `duplicate`) changed nothing and needs no one, yet
each left a sync_attempts row holding the whole payload the till sent: most of
the cost of answering a replayed batch, and most of the rows the table grows
by. From this revision on they are only counted, on the call's log row.
Calls logged before keep their replay rows; their count here is 0.

Every stored sale line also wrote index entries no query reads:
- ix_order_lines_product_id: no query looks lines up by product (the pages
  join lines to products through products' key); dropped.
- uq_stock_movements_fix_compensates and ix_stock_movements_compensates hold
  an entry for every sale movement, all NULL: only a fix's movements have a
  fix and a movement they cancel, and only those are looked up. Both become
  partial (IS NOT NULL); uniqueness is unchanged, as NULLs never conflicted.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


FIX = "fix_id IS NOT NULL"
COMPENSATES = "compensates_movement_id IS NOT NULL"


def upgrade():
    with op.batch_alter_table('sync_logs') as batch:
        batch.add_column(sa.Column('plain_replays', sa.Integer(), nullable=False, server_default='0'))
    op.drop_index('ix_order_lines_product_id', table_name='order_lines')
    op.drop_index('uq_stock_movements_fix_compensates', table_name='stock_movements')
    op.create_index('uq_stock_movements_fix_compensates', 'stock_movements', ['fix_id', 'compensates_movement_id'],
                    unique=True, sqlite_where=sa.text(FIX), postgresql_where=sa.text(FIX))
    op.drop_index('ix_stock_movements_compensates', table_name='stock_movements')
    op.create_index('ix_stock_movements_compensates', 'stock_movements', ['compensates_movement_id'],
                    sqlite_where=sa.text(COMPENSATES), postgresql_where=sa.text(COMPENSATES))


def downgrade():
    op.drop_index('ix_stock_movements_compensates', table_name='stock_movements')
    op.create_index('ix_stock_movements_compensates', 'stock_movements', ['compensates_movement_id'])
    op.drop_index('uq_stock_movements_fix_compensates', table_name='stock_movements')
    op.create_index('uq_stock_movements_fix_compensates', 'stock_movements', ['fix_id', 'compensates_movement_id'],
                    unique=True)
    op.create_index('ix_order_lines_product_id', 'order_lines', ['product_id'])
    with op.batch_alter_table('sync_logs') as batch:
        batch.drop_column('plain_replays')
