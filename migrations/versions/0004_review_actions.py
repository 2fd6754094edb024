"""review actions: discarded plans, one computing preview per selection

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 23:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_STATUSES = "'computing', 'ready', 'applying', 'applied', 'stale', 'failed'"


def upgrade():
    # SQLite cannot alter a check constraint: batch mode copies the table with the new one.
    with op.batch_alter_table('fix_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('selection_key', sa.String(length=64), nullable=True))
        batch_op.drop_constraint(op.f('ck_fix_plans_status'), type_='check')
        batch_op.create_check_constraint('status', sa.text(f"status IN ({_STATUSES}, 'discarded')"))
        batch_op.create_index('uq_fix_plans_computing_selection', ['selection_key'], unique=True,
                              sqlite_where=sa.text("status = 'computing'"),
                              postgresql_where=sa.text("status = 'computing'"))


def downgrade():
    op.execute("UPDATE fix_plans SET status = 'stale' WHERE status = 'discarded'")
    with op.batch_alter_table('fix_plans', schema=None) as batch_op:
        batch_op.drop_index('uq_fix_plans_computing_selection')
        batch_op.drop_constraint(op.f('ck_fix_plans_status'), type_='check')
        batch_op.create_check_constraint('status', sa.text(f"status IN ({_STATUSES})"))
        batch_op.drop_column('selection_key')
