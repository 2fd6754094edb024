"""sync_logs.plain_replays: replays counted on the call instead of kept as a payload row each

Revision ID: 0008
Revises: 0006

A replay (a sale answered `duplicate`) changed nothing and needs no one, yet
each left a sync_attempts row holding the whole payload the till sent: most of
the cost of answering a replayed batch, and most of the rows the table grows
by. From this revision on they are only counted, on the call's log row.
Calls logged before keep their replay rows; their count here is 0.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_logs') as batch:
        batch.add_column(sa.Column('plain_replays', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('sync_logs') as batch:
        batch.drop_column('plain_replays')
