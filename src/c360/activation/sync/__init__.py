"""Two-way sync with business apps: golden-record changes out to another application's table
or REST API (upserted by that app's key, found through the identity crosswalk), and that app's
changes back in as its source, with per-field ownership deciding which side wins.

Sits after profiles and the change feed in the data flow: it follows the feed, reads golden
records and the crosswalk, and logs what the app changed like any source's rows. The apps are
reached through the ``SyncTarget`` protocol, implemented in ``c360.connectors.destinations``;
``c360.workers.sync`` runs the cycles. See ``docs/sync.md``.
"""

from c360.activation.sync.config import DestinationConfig, parse_destination
from c360.activation.sync.model import (
    Conflict,
    ConflictOutcome,
    DeadLetter,
    Decide,
    Destination,
    FieldRule,
    Ownership,
    QueueItem,
    RestSpec,
    SyncFailed,
    SyncState,
    SyncTarget,
    TableSpec,
    Upserted,
)
from c360.activation.sync.service import (
    DestinationStatus,
    RetryPolicy,
    add_destination,
    conflicts,
    dead_letters,
    destination_status,
    get_destination,
    list_destinations,
    redrive,
    remove_destination,
)

__all__ = [
    "Conflict",
    "ConflictOutcome",
    "DeadLetter",
    "Decide",
    "Destination",
    "DestinationConfig",
    "DestinationStatus",
    "FieldRule",
    "Ownership",
    "QueueItem",
    "RestSpec",
    "RetryPolicy",
    "SyncFailed",
    "SyncState",
    "SyncTarget",
    "TableSpec",
    "Upserted",
    "add_destination",
    "conflicts",
    "dead_letters",
    "destination_status",
    "get_destination",
    "list_destinations",
    "parse_destination",
    "redrive",
    "remove_destination",
]
