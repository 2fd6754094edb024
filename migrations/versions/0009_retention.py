"""retention: one row per maintenance task and day, and an index the prune needs

Revision ID: 0009
Revises: 0008

maintenance_runs lets RQ workers on any number of hosts start the daily prune:
the first to insert (task, day) runs it, the others find the row and skip.
duplicate_groups.last_seen_scan_id gets an index, so that pruning a scan can
ask cheaply whether any group still points at it.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'maintenance_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task', sa.String(length=40), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('summary', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_runs')),
        sa.UniqueConstraint('task', 'day', name='uq_maintenance_runs_task_day'),
    )
    op.create_index('ix_duplicate_groups_last_seen_scan_id', 'duplicate_groups', ['last_seen_scan_id'])


def downgrade():
    op.drop_index('ix_duplicate_groups_last_seen_scan_id', table_name='duplicate_groups')
    op.drop_table('maintenance_runs')
