"""Errors the domain raises; each carries the HTTP status and TMF code it maps to.

One handler at the HTTP edge renders them as TMF ``Error`` bodies, so no route
builds an error by hand and the status a rule implies is decided where the rule is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Detail:
    """One problem of a request: where (a JSON path, ``$`` the body), why, and a short code.

    Rendered in the TMF Error's ``details`` extension (see :mod:`.problems`).
    """

    path: str
    reason: str
    code: str

    def text(self) -> str:
        where = self.path[2:] if self.path.startswith("$.") else self.path[1:]
        return f"{where}: {self.reason}" if where else self.reason

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "code": self.code}


class PssError(Exception):
    """Base of every client-visible error; ``details`` lists each problem when there are
    several (:class:`..problems.Problems`)."""

    status: int = 400
    code: str = "BAD_REQUEST"
    reason: str = "Bad request"

    def __init__(self, message: str, details: tuple[Detail, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(PssError):
    status, code, reason = 400, "BAD_REQUEST", "Malformed request"


class InvalidBody(PssError):
    """The body does not match the contract's schema (names the field path)."""

    status, code, reason = 400, "INVALID_BODY", "Request body does not match the schema"


class InvalidQuery(PssError):
    status, code, reason = 400, "INVALID_QUERY", "Query parameters are not valid"


class Unauthorized(PssError):
    status, code, reason = 401, "UNAUTHORIZED", "Authentication required"


class Forbidden(PssError):
    status, code, reason = 403, "FORBIDDEN", "Operation not allowed for this caller"


class NotFound(PssError):
    status, code, reason = 404, "NOT_FOUND", "Resource not found"


class Conflict(PssError):
    status, code, reason = 409, "CONFLICT", "Conflict with the resource's current state"


class PreconditionFailed(PssError):
    status, code, reason = 412, "PRECONDITION_FAILED", "The resource has changed (If-Match)"


class PayloadTooLarge(PssError):
    status, code, reason = 413, "PAYLOAD_TOO_LARGE", "Request body too large"


class UnsupportedMediaType(PssError):
    status, code, reason = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported content type"


class BusinessRuleViolation(PssError):
    """Valid JSON and schema, but a business rule refuses it."""

    status, code, reason = 422, "BUSINESS_RULE", "Business rule violated"


class RequestTimeout(PssError):
    """The request (its headers or its body) did not arrive in time."""

    status, code, reason = 408, "REQUEST_TIMEOUT", "Request not received in time"


class HeadersTooLarge(PssError):
    status, code, reason = 431, "HEADERS_TOO_LARGE", "Request header fields too large"


class ServiceUnavailable(PssError):
    """A dependency the request needs (e.g. the JWKS endpoint) cannot be reached now,
    or the server is at its connection limit."""

    status, code, reason = 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"


class NotReady(PssError):
    """``/ready``: the database, its schema or the background workers are not there yet."""

    status, code, reason = 503, "NOT_READY", "Service not ready"
