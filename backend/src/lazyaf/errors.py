"""Domain errors and their HTTP answers.

The tree::

    * LazyAFError            500  (unexpected; never raised on purpose)
      x NotFound             404  a repo, card or branch that does not exist
      x Conflict             409  the request clashes with current state
        x InvalidTransition  409  a card move its status does not allow
        x BranchMissing      409  the card has no branch (yet, or any more) for this request
      x InvalidInput         422  well-formed but unacceptable input
      x Unauthorized         401  a token is required and missing or wrong
      x Forbidden            403  the credential is valid but does not allow this

Every answer has the body ``{"detail": "<a sentence saying what to do>", "code": "<snake>"}``.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

log = structlog.get_logger(__name__)


class LazyAFError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(LazyAFError):
    status_code = 404
    code = "not_found"


class Conflict(LazyAFError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class BranchMissing(Conflict):
    """The card exists but its branch does not: a 409, not a 404, which clients take to mean the
    card itself is gone (the board closes it, the CLI says there is no such card)."""

    code = "branch_missing"


class InvalidInput(LazyAFError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(LazyAFError):
    status_code = 401
    code = "unauthorized"


class Forbidden(LazyAFError):
    status_code = 403
    code = "forbidden"


class ErrorRead(BaseModel):
    """The body of every error answer."""

    detail: str
    code: str


def error_response(status_code: int, detail: str, code: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status_code, headers=headers or None)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error status codes."""
    return {code: {"model": ErrorRead} for code in codes}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = tuple(err.get("loc", ()))
        if where and where[0] in ("body", "query", "path", "header"):
            where = where[1:]  # where it came from; a field may be called "body" too (comments)
        loc = ".".join(str(p) for p in where)
        msg = err.get("msg", "invalid value")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "Invalid request: " + "; ".join(parts) + "."


def install_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and crashes to JSON answers."""

    @app.exception_handler(LazyAFError)
    async def _domain(request: Request, exc: LazyAFError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
        return error_response(exc.status_code, exc.detail, exc.code, **headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _describe_validation(exc), "invalid_input")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return error_response(500, "Internal error; see the server log for the request id.", "internal_error")
