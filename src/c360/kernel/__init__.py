"""Value types, ids and the clock: no I/O, used by every other area."""
