"""One table from c360's errors to HTTP answers: JSON with ``code`` and ``message``."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from c360.errors import (
    C360Error,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    Unauthorized,
)

log = logging.getLogger(__name__)

STATUS: dict[type[C360Error], int] = {
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    StoreUnavailable: 503,
}


class ErrorBody(BaseModel):
    """Every error answer."""

    code: str
    message: str
    line: int | None = Field(
        None, description="A segment condition that cannot be read: the line of the mistake"
    )
    column: int | None = Field(None, description="... and its column (both count from 1)")


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid key"},
    403: {"model": ErrorBody, "description": "The key's role may not do this"},
    404: {"model": ErrorBody, "description": "Not found"},
    422: {"model": ErrorBody, "description": "Invalid parameters"},
}


def _status_of(exc: C360Error) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def install(app: FastAPI) -> None:
    """Make every error answer of ``app`` an ``ErrorBody``."""

    @app.exception_handler(C360Error)
    async def _c360(_request: Request, exc: C360Error) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        body: dict[str, object] = {"code": exc.code, "message": str(exc)}
        for where in ("line", "column"):  # a condition's mistake (segments) says where it is
            if isinstance(getattr(exc, where, None), int):
                body[where] = getattr(exc, where)
        return JSONResponse(body, status_code=_status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()))
            parts.append(f"{where}: {error.get('msg')}")
        return JSONResponse({"code": "invalid_input", "message": "; ".join(parts)}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s answering a request", type(exc).__name__)
        return JSONResponse(
            {"code": "internal_error", "message": "the server failed; the error is logged"},
            status_code=500,
        )

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {"code": codes.get(exc.status_code, "http_error"), "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
