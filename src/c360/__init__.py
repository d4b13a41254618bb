"""c360: an open-source Customer Data Platform.

Data flows left to right: sources -> ingest -> event log -> standardize -> identity -> profiles
-> segments -> activation. See ``docs/architecture.md``.
"""

__version__ = "0.1.0"
