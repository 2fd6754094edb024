"""duplicate_group_members: an order is a member of a group once

Revision ID: 0006
Revises: 0005

The unique key (group_id, order_id, order_line_id) let an order-level member
(order_line_id NULL) be added again by every rescan, since NULLs never
conflict. A partial unique index on (group_id, order_id) where the line is
NULL closes that; the copies earlier scans added are removed first.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

WHERE = "order_line_id IS NULL"


def upgrade():
    op.execute(
        "DELETE FROM duplicate_group_members WHERE order_line_id IS NULL AND id NOT IN ("
        " SELECT min(id) FROM duplicate_group_members WHERE order_line_id IS NULL GROUP BY group_id, order_id)")
    op.create_index('uq_duplicate_group_members_order', 'duplicate_group_members', ['group_id', 'order_id'],
                    unique=True, sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def downgrade():
    op.drop_index('uq_duplicate_group_members_order', table_name='duplicate_group_members')
