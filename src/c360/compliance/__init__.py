"""Data protection duties that reach across every part of c360: data subject requests
(access, erasure, rectification, restriction) and retention.

Sits above the workers because erasure and retention touch every table and rebuild what they
remove from; the primitives they rest on (keys, roles, the audit log, consent, suppression,
restriction) live in :mod:`c360.privacy`, low enough for ingest to use."""
