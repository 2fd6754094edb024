"""store scopes: managers limited to stores, and the store each group, plan, fix and audit entry concerns

Revision ID: 0012
Revises: 0011

`user_stores` lists the stores a person is limited to (none: every store). The
other tables get a nullable `store_id`: the one store a duplicate group, fix
plan, fix or audit entry concerns, NULL when it concerns several stores or none
(chain-wide: seen only by people not limited to stores). Existing duplicate
groups are labelled from their orders; plans, fixes and audit entries written
before stay chain-wide.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# table -> (index, its columns): each list page's scoped keyset query.
LABELLED = {
    'duplicate_groups': ('ix_duplicate_groups_store_status', ['store_id', 'status', 'id']),
    'fix_plans': ('ix_fix_plans_store_created', ['store_id', 'created_at']),
    'fixes': ('ix_fixes_store_id', ['store_id', 'id']),
    'audit_log': ('ix_audit_log_store_at', ['store_id', 'at']),
}

# The one store of a group's orders, or NULL when they are in several (the same rule as
# dashboard/domain/duplicates.label_groups_with_their_store).
GROUP_STORE = """
UPDATE duplicate_groups SET store_id = (
    SELECT CASE WHEN COUNT(DISTINCT orders.store_id) = 1 THEN MIN(orders.store_id) END
    FROM duplicate_group_members JOIN orders ON orders.id = duplicate_group_members.order_id
    WHERE duplicate_group_members.group_id = duplicate_groups.id
)
"""


def upgrade():
    op.create_table('user_stores',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'store_id')
    )
    op.create_index('ix_user_stores_store_id', 'user_stores', ['store_id'], unique=False)
    for table, (index, columns) in LABELLED.items():
        op.add_column(table, sa.Column('store_id', sa.Integer(), nullable=True))
        op.create_index(index, table, columns, unique=False)
    op.execute(sa.text(GROUP_STORE))


def downgrade():
    for table, (index, _columns) in LABELLED.items():
        op.drop_index(index, table_name=table)
        # Native DROP COLUMN (SQLite >= 3.35): no table rebuild, so partial indexes stay as they are.
        op.execute(f'ALTER TABLE {table} DROP COLUMN store_id')  # noqa: S608  (table: one of LABELLED)
    op.drop_index('ix_user_stores_store_id', table_name='user_stores')
    op.drop_table('user_stores')
