"""Management API routes: consent (filled in by the privacy work)."""

from fastapi import APIRouter
from sqlalchemy import Engine


def add_consent_routes(router: APIRouter, engine: Engine, read_engine: Engine) -> None:
    """Add the consent routes to the management router."""
