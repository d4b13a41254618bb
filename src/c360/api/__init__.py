"""The HTTP entry point: the tracking API under /v1, the management API under /api."""

from c360.api.app import build_app

__all__ = ["build_app"]
