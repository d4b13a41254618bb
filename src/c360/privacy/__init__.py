"""Who may do what and what may be done with a person's data: API keys, users and roles, the
audit log, consent, erasure suppression and restriction of processing (requests and retention,
which reach across every part of c360, are in :mod:`c360.compliance`).

Cuts across the data flow: ingest checks write keys, the management API checks admin keys.
"""

from c360.privacy.keys import ApiKey, KeyCache, Role

__all__ = ["ApiKey", "KeyCache", "Role"]
