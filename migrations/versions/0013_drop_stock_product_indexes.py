"""stock_movements: drop the two indexes that lead with product_id / (store_id, product_id)

Revision ID: 0013
Revises: 0012

Each stored sale line wrote an entry into both, at one insertion point per
(store, product): with a million stored orders every batch of 100 sales dirtied
about a hundred scattered leaf pages per index (SQLite: ~250 more WAL pages per
batch than on an empty database, the main part of ingest being 24 % slower at
1,000,000 stored orders). The only query that read them, the stock drift check,
sums every movement per (store, product); it is faster as one pass over the
table (SQLite: 1.5 s instead of 4 s at a million movements; PostgreSQL reads the
whole table for it anyway). No stored row changes.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_stock_movements_store_product', table_name='stock_movements')
    op.drop_index('ix_stock_movements_product_id', table_name='stock_movements')


def downgrade():
    op.create_index('ix_stock_movements_product_id', 'stock_movements', ['product_id'], unique=False)
    op.create_index('ix_stock_movements_store_product', 'stock_movements', ['store_id', 'product_id'], unique=False)
