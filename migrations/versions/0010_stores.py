"""stores: every till, sale and stock movement belongs to a store; stock per store; money to 3 decimals

Revision ID: 0010
Revises: 0009

Existing data moves into the default store ('MAIN'), which follows the
settings (DASHBOARD_TIMEZONE, DASHBOARD_CURRENCY, SERVER_INVOICE_PREFIX) while
its own columns are empty, so a single shop behaves exactly as before: every
device, order and stock movement gets its id, and its stock level of each
product is the product's opening stock and stock. Money columns widen to 3
decimals (KWD, JOD, BHD); no stored value changes.

SQLite rebuilds a table to change a column. The indexes of the rebuilt tables
are kept as SQL text and created again afterwards, because reflection drops
expression indexes (the exactly-once keys on orders) and partial indexes' WHERE.
Downgrading rounds 3-decimal amounts to 2 and forgets the stores.
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_MONEY = sa.Numeric(precision=14, scale=2)
NEW_MONEY = sa.Numeric(precision=14, scale=3)
# table -> its money columns (name, nullable)
MONEY = {
    'orders': [('total', False)], 'order_lines': [('unit_price', False)], 'payments': [('amount', False)],
    'products': [('price', False)], 'sync_attempts': [('total', True)],
}
# table -> the index on its store_id
STORE_INDEXES = {
    'devices': ('ix_devices_store_id', ['store_id']),
    'orders': ('ix_orders_store_created', ['store_id', 'created_at']),
    'stock_movements': ('ix_stock_movements_store_product', ['store_id', 'product_id']),
}


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _set_aside_indexes(table: str) -> list[str]:
    """SQLite: drop the table's indexes before a rebuild and return their SQL to create them again."""
    if not _is_sqlite():
        return []
    rows = op.get_bind().exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table,)).all()
    for name, _sql in rows:
        op.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in rows]


def _check_foreign_keys() -> None:
    """SQLite rebuilds run with foreign keys off (migrations/env.py): prove nothing points nowhere."""
    if _is_sqlite():
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")


def upgrade():
    op.create_table('stores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('invoice_prefix', sa.String(length=16), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('invoice_prefix')
    )
    op.create_index('uq_stores_default', 'stores', ['is_default'], unique=True,
                    sqlite_where=sa.text('is_default = 1'), postgresql_where=sa.text('is_default'))
    now = datetime.now(timezone.utc)
    stores = sa.table('stores', sa.column('code'), sa.column('name'), sa.column('is_default', sa.Boolean()),
                      sa.column('created_at', sa.DateTime(timezone=True)))
    op.bulk_insert(stores, [{'code': 'MAIN', 'name': 'Main store', 'is_default': True,
                             'created_at': now.replace(tzinfo=None) if _is_sqlite() else now}])
    default_id = op.get_bind().execute(sa.text("SELECT id FROM stores WHERE code = 'MAIN'")).scalar_one()

    op.create_table('stock_levels',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('opening_quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('store_id', 'product_id')
    )
    op.create_index('ix_stock_levels_product_id', 'stock_levels', ['product_id'], unique=False)
    op.create_index('ix_stock_levels_negative', 'stock_levels', ['store_id', 'quantity'], unique=False,
                    sqlite_where=sa.text('quantity < 0'), postgresql_where=sa.text('quantity < 0'))
    op.execute(sa.text("INSERT INTO stock_levels (store_id, product_id, opening_quantity, quantity) "
                       "SELECT :store, id, opening_stock, stock_quantity FROM products").bindparams(store=default_id))

    for table in ('devices', 'orders', 'stock_movements', 'order_lines', 'payments', 'products', 'sync_attempts'):
        with_store = table in STORE_INDEXES
        if with_store:
            op.add_column(table, sa.Column('store_id', sa.Integer(), nullable=True))
            # table: one of this migration's own names, never input.
            op.execute(sa.text(f"UPDATE {table} SET store_id = :store").bindparams(store=default_id))  # noqa: S608
        saved = _set_aside_indexes(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            if with_store:
                batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=False)
                batch_op.create_foreign_key(f'fk_{table}_store_id', 'stores', ['store_id'], ['id'])
            for column, nullable in MONEY.get(table, []):
                batch_op.alter_column(column, existing_type=OLD_MONEY, type_=NEW_MONEY, existing_nullable=nullable)
        for sql in saved:
            op.execute(sql)
        if with_store:
            name, columns = STORE_INDEXES[table]
            op.create_index(name, table, columns, unique=False)
    _check_foreign_keys()


def downgrade():
    for table in ('devices', 'orders', 'stock_movements', 'order_lines', 'payments', 'products', 'sync_attempts'):
        with_store = table in STORE_INDEXES
        if with_store:
            op.drop_index(STORE_INDEXES[table][0], table_name=table)
        saved = _set_aside_indexes(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            if with_store:
                batch_op.drop_constraint(f'fk_{table}_store_id', type_='foreignkey')
                batch_op.drop_column('store_id')
            for column, nullable in MONEY.get(table, []):
                batch_op.alter_column(column, existing_type=NEW_MONEY, type_=OLD_MONEY, existing_nullable=nullable)
        for sql in saved:
            op.execute(sql)
    op.drop_index('ix_stock_levels_negative', table_name='stock_levels',
                  sqlite_where=sa.text('quantity < 0'), postgresql_where=sa.text('quantity < 0'))
    op.drop_index('ix_stock_levels_product_id', table_name='stock_levels')
    op.drop_table('stock_levels')
    op.drop_index('uq_stores_default', table_name='stores',
                  sqlite_where=sa.text('is_default = 1'), postgresql_where=sa.text('is_default'))
    op.drop_table('stores')
    _check_foreign_keys()
