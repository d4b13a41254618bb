"""Management API routes: privacy (filled in by the privacy work)."""

from fastapi import APIRouter
from sqlalchemy import Engine


def add_privacy_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """Add the privacy routes to the management router."""
