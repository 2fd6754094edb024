"""SQLAlchemy models; importing this package registers every table."""
from .audit import AuditEntry
from .catalog import Product, StockMovement
from .devices import Device
from .duplicates import DuplicateGroup, DuplicateGroupMember, DuplicateScan
from .fixes import Fix, FixGroup, FixPlan
from .invoices import InvoiceSeries
from .legacy import LegacyImport
from .orders import Order, OrderLine, Payment
from .stores import StockLevel, Store
from .sync_log import SyncAttempt, SyncLog
from .users import User

__all__ = [
    "AuditEntry", "Device", "DuplicateGroup", "DuplicateGroupMember", "DuplicateScan", "Fix", "FixGroup",
    "FixPlan", "InvoiceSeries", "LegacyImport", "Order", "OrderLine", "Payment", "Product", "StockLevel", "StockMovement",
    "Store", "SyncAttempt", "SyncLog", "User",
]
