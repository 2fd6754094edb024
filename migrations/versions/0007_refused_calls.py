"""refused_calls: sync calls refused as a whole are counted per minute, not logged one row each

Revision ID: 0007
Revises: 0006

A flood of refused calls (unknown tokens, over a limit) wrote one sync_logs row
each and slowed every till's sync. They are now counted per (minute, source,
error code). The refused calls already in sync_logs are moved into the counts
(grouped by their minute, till and code) and removed from the log, together
with the partial index that served their filter.
"""
from collections import Counter
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    refused_calls = op.create_table(
        'refused_calls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=60), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=True),
        sa.Column('address', sa.String(length=45), nullable=True),
        sa.Column('http_status', sa.Integer(), nullable=False),
        sa.Column('error_code', sa.String(length=40), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_refused_calls_device_id_devices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refused_calls')),
        sa.UniqueConstraint('minute', 'source', 'error_code', name='uq_refused_calls_minute_source_code'),
    )
    op.create_index('ix_refused_calls_device_minute', 'refused_calls', ['device_id', 'minute'], unique=False)

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT device_id, started_at, http_status, error_code FROM sync_logs WHERE http_status <> 200")).all()
    counts = Counter()
    for device_id, started_at, http_status, error_code in rows:
        if isinstance(started_at, str):  # SQLite hands back text
            started_at = datetime.fromisoformat(started_at)
        if started_at.tzinfo is not None:
            started_at = started_at.astimezone(timezone.utc).replace(tzinfo=None)
        minute = started_at.replace(second=0, microsecond=0)
        source = f"device:{device_id}" if device_id is not None else "address:unknown"
        counts[(minute, source, device_id, http_status, error_code or "http_error")] += 1
    if counts:
        utc = (lambda m: m) if bind.dialect.name == "sqlite" else (lambda m: m.replace(tzinfo=timezone.utc))
        op.bulk_insert(refused_calls, [
            {"minute": utc(minute), "source": source, "device_id": device_id, "address": None,
             "http_status": status, "error_code": code, "count": n}
            for (minute, source, device_id, status, code), n in counts.items()])
    op.execute("DELETE FROM sync_logs WHERE http_status <> 200")
    op.drop_index('ix_sync_logs_refused_started', table_name='sync_logs')


def downgrade():
    op.create_index('ix_sync_logs_refused_started', 'sync_logs', ['started_at'], unique=False,
                    sqlite_where=sa.text('http_status <> 200'), postgresql_where=sa.text('http_status <> 200'))
    op.drop_index('ix_refused_calls_device_minute', table_name='refused_calls')
    op.drop_table('refused_calls')
