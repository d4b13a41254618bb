"""Identity resolution: which records and tracked identities are one person.

Deterministic rules and identifiers, a Fellegi-Sunter model trained on the data, constrained
clustering, households, merges and splits with their evidence; one code path for a single
new record and for ``c360 resolve`` over everything.
"""

from c360.identity.config import DEFAULT_CONFIG, IdentityConfig, load_config, parse_config

__all__ = ["DEFAULT_CONFIG", "IdentityConfig", "load_config", "parse_config"]
