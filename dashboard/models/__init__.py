"""SQLAlchemy models; importing this package registers every table."""

from .audit import AuditEntry
from .catalog import Product, StockMovement
from .closings import Closing
from .devices import Device
from .duplicates import DuplicateGroup, DuplicateGroupMember, DuplicateScan
from .fixes import Fix, FixGroup, FixPlan
from .invoices import InvoiceSeries
from .legacy import LegacyImport
from .maintenance import MaintenanceRun
from .orders import Order, OrderLine, Payment
from .refusals import RefusedCalls
from .stores import StockLevel, Store
from .sync_log import SyncAttempt, SyncLog
from .users import User, UserStore

__all__ = [
    "AuditEntry",
    "Closing",
    "Device",
    "DuplicateGroup",
    "DuplicateGroupMember",
    "DuplicateScan",
    "Fix",
    "FixGroup",
    "FixPlan",
    "InvoiceSeries",
    "LegacyImport",
    "MaintenanceRun",
    "Order",
    "OrderLine",
    "Payment",
    "Product",
    "RefusedCalls",
    "StockLevel",
    "StockMovement",
    "Store",
    "SyncAttempt",
    "SyncLog",
    "User",
    "UserStore",
]
