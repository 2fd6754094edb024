"""skipped sales a manager can act on: what the till sent, as columns, and how each was resolved

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 23:30:00.000000

"""
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# A frozen copy of dashboard.models.sync_log.ATTEMPT_STATE_CONDITIONS as of this revision.
STATE_CONDITIONS = {
    "action": "status IN ('rejected', 'conflict') AND resolution IS NULL",
    "replays": "status = 'duplicate'",
    "handled": "resolution IS NOT NULL",
}
BACKFILL_CHUNK = 1000


def upgrade():
    with op.batch_alter_table('sync_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cashier', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('sold_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('retry_reason', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('retry_message', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('retried_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint('resolution', "resolution IN ('reprocessed', 'handled')")
    for state, condition in STATE_CONDITIONS.items():
        op.create_index(f'ix_sync_attempts_{state}_time', 'sync_attempts', ['received_at'], unique=False,
                        sqlite_where=sa.text(condition), postgresql_where=sa.text(condition))
    _backfill_shown_fields()


def downgrade():
    for state in STATE_CONDITIONS:
        op.drop_index(f'ix_sync_attempts_{state}_time', table_name='sync_attempts')
    with op.batch_alter_table('sync_attempts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_sync_attempts_resolution'), type_='check')
        for column in ('retried_at', 'retry_message', 'retry_reason', 'resolution_note', 'resolved_by',
                       'resolved_at', 'resolution', 'sold_at', 'total', 'cashier', 'receipt_number'):
            batch_op.drop_column(column)


def _text(sale: dict, key: str, max_len: int):
    value = sale.get(key)
    if not isinstance(value, str) or "\x00" in value:
        return None
    return value.strip()[:max_len] or None


def _total(value):
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or number.copy_abs() > 1000000000 or number != number.quantize(Decimal("0.01")):
        return None
    return number.quantize(Decimal("0.01"))


def _sold_at(value, naive: bool):
    try:
        moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        moment = moment.astimezone(timezone.utc) if moment and moment.tzinfo else None
    except (ValueError, OverflowError):
        return None
    return moment.replace(tzinfo=None) if moment and naive else moment


def _shown_fields(payload: str, naive: bool) -> dict:
    """Receipt, cashier, total and sale time from a stored payload, whatever of them is well-formed.

    A frozen, forgiving copy of dashboard.domain.sales.shown_fields as of this revision.
    """
    try:
        sale = json.loads(payload, parse_float=Decimal)
    except (ValueError, RecursionError):
        sale = None
    if not isinstance(sale, dict):
        sale = {}
    return {"receipt_number": _text(sale, "receipt_number", 64), "cashier": _text(sale, "cashier", 100),
            "total": _total(sale.get("total")), "sold_at": _sold_at(sale.get("created_at"), naive)}


def _backfill_shown_fields():
    """Attempts stored before this revision get the columns ingestion now fills, a chunk at a time."""
    conn = op.get_bind()
    naive = conn.dialect.name == "sqlite"
    attempts = sa.table('sync_attempts', sa.column('id', sa.Integer), sa.column('payload', sa.Text),
                        sa.column('receipt_number', sa.String), sa.column('cashier', sa.String),
                        sa.column('total', sa.Numeric(14, 2)), sa.column('sold_at', sa.DateTime(timezone=True)))
    columns = ("receipt_number", "cashier", "total", "sold_at")
    update = attempts.update().where(attempts.c.id == sa.bindparam('attempt_id')).values(
        {column: sa.bindparam(f'new_{column}') for column in columns})
    last = 0
    while True:
        rows = conn.execute(sa.select(attempts.c.id, attempts.c.payload).where(attempts.c.id > last)
                            .order_by(attempts.c.id).limit(BACKFILL_CHUNK)).all()
        if not rows:
            return
        values = [(attempt_id, _shown_fields(payload, naive)) for attempt_id, payload in rows]
        values = [{"attempt_id": attempt_id, **{f"new_{column}": shown[column] for column in columns}}
                  for attempt_id, shown in values if any(value is not None for value in shown.values())]
        if values:
            conn.execute(update, values)
        last = rows[-1][0]
