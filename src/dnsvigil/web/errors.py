"""The one JSON error shape of the web API, and the handlers that turn every failure into it.

Every error, whatever raised it (a bad parameter, a missing login, an unknown path, a bug), answers::

    {"error": {"status": 400, "code": "invalid_parameter", "message": "...", "detail": ...}}

`status` repeats the HTTP status, `code` is a stable machine-readable word, `message` says what was wrong
and what to do, `detail` is structured context or null. A 500 never carries a traceback or data.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from dnsvigil.errors import DnsvigilError, UsageError

_log = logging.getLogger(__name__)


class ErrorInfo(BaseModel):
    """What went wrong, in the fields every error carries."""

    model_config = ConfigDict(frozen=True)

    status: int
    code: str
    message: str
    detail: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(frozen=True)

    error: ErrorInfo


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "The request was refused; the body says why."},
    "5XX": {"model": ErrorBody, "description": "The server failed; the body says so, without detail."},
}
"""Documented on every route, so the OpenAPI document states the one error shape."""


class ApiError(Exception):
    """An error the API answers on purpose, with its status and stable code.

    Args:
        status: the HTTP status.
        code: a stable word clients can branch on, e.g. `invalid_cursor`.
        message: what was wrong and what to do.
        detail: structured context (a parameter name, allowed values), or None.
        headers: extra response headers, e.g. `WWW-Authenticate` on a 401.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers


def bad_parameter(name: str, message: str) -> ApiError:
    """A 400 about one query parameter, naming it in `detail`."""
    return ApiError(400, "invalid_parameter", message, detail={"parameter": name})


def error_response(error: ApiError) -> JSONResponse:
    """The JSON response for `error`, in the one shape."""
    info = ErrorInfo(status=error.status, code=error.code, message=error.message, detail=error.detail)
    return JSONResponse(
        ErrorBody(error=info).model_dump(mode="json"), status_code=error.status, headers=error.headers
    )


_CODES_BY_STATUS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def _from_http(error: HTTPException) -> ApiError:
    status = error.status_code
    code = _CODES_BY_STATUS.get(status, "bad_request" if status < 500 else "server_error")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    message = error.detail if isinstance(error.detail, str) and error.detail != phrase else phrase.lower()
    return ApiError(status, code, message, headers=dict(error.headers or {}) or None)


def _from_validation(error: RequestValidationError) -> ApiError:
    # Pydantic's own entries hold the rejected input and exception objects: keep where and what only.
    problems = [
        {"location": ".".join(str(part) for part in problem["loc"]), "message": problem["msg"]}
        for problem in error.errors()
    ]
    summary = "; ".join(f"{problem['location']}: {problem['message']}" for problem in problems)
    return ApiError(400, "invalid_parameter", f"invalid request: {summary}", detail=problems)


def install_error_handlers(app: FastAPI) -> None:
    """Make every failure of `app` answer in the one error shape."""

    async def on_api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(error)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return error_response(_from_http(error))

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return error_response(_from_validation(error))

    async def on_dnsvigil(request: Request, error: Exception) -> JSONResponse:
        # A UsageError here is a value the caller gave that an analyzer refused; anything else is ours.
        if isinstance(error, UsageError):
            return error_response(ApiError(400, "invalid_parameter", str(error)))
        return await on_unexpected(request, error)

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        _log.exception("unexpected error answering %s %s", request.method, request.url.path, exc_info=error)
        return error_response(
            ApiError(500, "server_error", "the server failed to answer; the log says why, please report it")
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DnsvigilError, on_dnsvigil)
    app.add_exception_handler(Exception, on_unexpected)
