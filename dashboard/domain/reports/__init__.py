"""Read-only queries behind the dashboard's screens.

Every function takes plain arguments and returns plain results (dataclasses),
never touches the request, and writes nothing. Lists over tables that grow
with the business (sync logs, attempts, orders, audit entries) use keyset
pagination (`paging.newest_first`): a page costs the same on the millionth row
as on the first, and no page counts every row.
"""

from .closings import ClosingGrid, TillDay, closing_day, closing_grid, current_comparison
from .orders import OrderDetail, OrderRow, find_orders, order_detail
from .overview import ActivityBucket, Overview, open_groups_by_kind, overview
from .paging import NumberedPage, Page
from .people import AuditRow, DeviceRow, UserRow, audit_entries, device_choices, devices, users
from .refusals import RefusedRow, refused_calls
from .sync import (
    SKIPPED_STATES,
    SKIPPED_STATUSES,
    STATUS_FILTERS,
    AttemptRow,
    RejectedMoney,
    SkippedCount,
    SyncCall,
    SyncLogRow,
    iter_skipped_sales,
    rejected_money,
    skipped_counts,
    skipped_reasons,
    skipped_sale,
    skipped_sales,
    sync_call,
    sync_logs,
)

__all__ = [
    "ActivityBucket",
    "AttemptRow",
    "AuditRow",
    "ClosingGrid",
    "TillDay",
    "closing_day",
    "closing_grid",
    "current_comparison",
    "DeviceRow",
    "NumberedPage",
    "OrderDetail",
    "OrderRow",
    "Overview",
    "Page",
    "RefusedRow",
    "RejectedMoney",
    "SKIPPED_STATES",
    "SKIPPED_STATUSES",
    "STATUS_FILTERS",
    "SkippedCount",
    "SyncCall",
    "SyncLogRow",
    "UserRow",
    "audit_entries",
    "device_choices",
    "devices",
    "find_orders",
    "iter_skipped_sales",
    "open_groups_by_kind",
    "order_detail",
    "overview",
    "refused_calls",
    "rejected_money",
    "skipped_counts",
    "skipped_reasons",
    "skipped_sale",
    "skipped_sales",
    "sync_call",
    "sync_logs",
    "users",
]
