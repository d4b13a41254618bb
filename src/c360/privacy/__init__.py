"""Who may do what: API keys and roles (later: consent, retention, audit, erasure).

Cuts across the data flow: ingest checks write keys, the management API checks admin keys.
"""

from c360.privacy.keys import ApiKey, KeyCache, Role

__all__ = ["ApiKey", "KeyCache", "Role"]
