"""Management API routes: audit (filled in by the privacy work)."""

from fastapi import APIRouter
from sqlalchemy import Engine


def add_audit_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """Add the audit routes to the management router."""
