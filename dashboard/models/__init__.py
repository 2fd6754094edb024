"""SQLAlchemy models; importing this package registers every table."""
from .catalog import Product, StockMovement
from .devices import Device
from .invoices import InvoiceSeries
from .orders import Order, OrderLine, Payment
from .sync_log import SyncAttempt, SyncLog
from .users import User

__all__ = [
    "Device", "InvoiceSeries", "Order", "OrderLine", "Payment", "Product",
    "StockMovement", "SyncAttempt", "SyncLog", "User",
]
