"""The control plane's side of result delivery: where consumers want results, and how
each delivery went.

`store` records the container a data consumer designated in their pod for a space's
results and what their pod granted the datacage there (set up through the consumer's own pod
session, `setup`); the claim hands these to the datacage with the job. `status` records what the
datacage reports about each delivery, for the run page. Neither is part of a space's terms: a
consumer moving their results elsewhere voids no approval.
"""

from .setup import designate, remove_designation
from .status import DELIVERY_STATES, DeliveryStatus, record_delivery, statuses_of
from .store import Destination, DestinationStore

__all__ = [
    "DELIVERY_STATES",
    "DeliveryStatus",
    "Destination",
    "DestinationStore",
    "designate",
    "record_delivery",
    "remove_designation",
    "statuses_of",
]
