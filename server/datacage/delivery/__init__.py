"""Results leave the datacage one way: written into the consumers' own pods, signed, and reported.

`queue` keeps what is to be delivered in files that survive a restart, sealed; `writer` writes
one result at most once; `notify` sends the Linked Data Notification; `deliver` drives the
attempts, the backoff, the hold and the reports. See docs/delivery.md.
"""

from .deliver import NO_DESTINATION, Deliveries, DeliverySettings, resource_name
from .outbox import Outbox
from .queue import DELIVERED, DESTROYED, FAILED, PENDING, DeliveryQueue

__all__ = [
    "DELIVERED",
    "DESTROYED",
    "FAILED",
    "NO_DESTINATION",
    "PENDING",
    "Deliveries",
    "DeliveryQueue",
    "DeliverySettings",
    "Outbox",
    "resource_name",
]
