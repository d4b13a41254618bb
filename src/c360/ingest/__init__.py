"""Ingest: turn what sources send into log rows and quarantined items.

Sits between the edges (HTTP tracking API, later file and database imports) and the event log.
Pure functions: no I/O; the edge authenticates, appends and answers.
"""

from c360.ingest.tracking import (
    MESSAGE_TYPES,
    Envelope,
    InvalidBody,
    Limits,
    accept_items,
    decode_envelope,
)

__all__ = [
    "MESSAGE_TYPES",
    "Envelope",
    "InvalidBody",
    "Limits",
    "accept_items",
    "decode_envelope",
]
