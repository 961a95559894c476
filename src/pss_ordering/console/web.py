"""What every console page needs: the signed-in caller, CSRF, templates, error pages.

The session is Starlette's signed cookie (``itsdangerous``): it holds the party,
its roles and the CSRF token, nothing else. Every POST must carry that token in
its form (a synchroniser token), so another site cannot make a signed-in browser
act. Every page is sent with the service's Content-Security-Policy (``api/csp.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ..api.bounds import MAX_ID_LENGTH, check_request
from ..api.common import services
from ..api.csp import HEADERS
from ..domain.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    PreconditionFailed,
    PssError,
    UnsupportedMediaType,
)
from ..domain.identity import Caller, Role
from ..domain.timestamps import parse_instant

PREFIX = "/console"
MAX_FORM_BYTES = 64_000
CHANGED_MEANWHILE = (
    "This order changed meanwhile (someone else updated it). "
    "Reload the page to see the current version, then try again."
)

Handler = Callable[[Request, Caller], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def session_caller(request: Request) -> Caller | None:
    """The signed-in party with its roles, or None."""
    party, roles = request.session.get("party"), request.session.get("roles")
    if not isinstance(party, str) or not isinstance(roles, list):
        return None
    known = {role.value: role for role in Role}
    return Caller(party, frozenset(known[r] for r in roles if r in known))


def sign_in(request: Request, caller: Caller) -> None:
    """A new session (a new CSRF token too) for the caller."""
    request.session.clear()
    request.session.update(
        party=caller.party_id,
        roles=sorted(role.value for role in caller.roles),
        csrf=secrets.token_urlsafe(32),
    )


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def form_of(request: Request) -> FormData:
    """The submitted form, bounded in size and type, with its CSRF token checked."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise UnsupportedMediaType("console forms are sent as application/x-www-form-urlencoded")
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise BadRequest("a console form needs a Content-Length")
    if int(length) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"a console form is at most {MAX_FORM_BYTES} bytes")
    form = await request.form(max_files=0, max_fields=500)
    expected = request.session.get("csrf")
    sent = form.get("csrf")
    if not (
        isinstance(expected, str)
        and isinstance(sent, str)
        and secrets.compare_digest(expected.encode(), sent.encode())
    ):
        raise Forbidden(
            "the form's security token is missing or out of date; reload the page and try again"
        )
    return form


def field(form: FormData, name: str, limit: int = 2000) -> str:
    """A text field, stripped and bounded."""
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise BadRequest(f"'{name}' is at most {limit} characters")
    return text


def query_id(request: Request, name: str) -> str | None:
    """An id from the query string, bounded like every id the API takes."""
    value = request.query_params.get(name)
    if value is not None and len(value) > MAX_ID_LENGTH:
        raise BadRequest(f"'{name}' is at most {MAX_ID_LENGTH} characters")
    return value or None


def render(
    request: Request,
    name: str,
    caller: Caller | None,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """A page, with the navigation for the caller's roles and the security headers."""
    flash = request.session.pop("flash", None) if "session" in request.scope else None
    settings = services(request).settings
    full = {
        "caller": caller,
        "roles": sorted(r.value for r in caller.roles) if caller else [],
        "csrf": csrf_token(request) if "session" in request.scope else "",
        "flash": flash,
        "prefix": PREFIX,
        "refresh": settings.console_refresh_seconds,
        "now": services(request).clock.now(),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, full, status_code=status, headers=HEADERS)


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def redirect(path: str) -> Response:
    return RedirectResponse(PREFIX + path, status_code=303, headers=HEADERS)


def error_page(request: Request, caller: Caller | None, exc: PssError) -> Response:
    message = CHANGED_MEANWHILE if isinstance(exc, PreconditionFailed) else exc.message
    return render(
        request, "error.html", caller, {"status": exc.status, "message": message}, exc.status
    )


def page(*roles: Role) -> Callable[[Handler], Endpoint]:
    """A console endpoint: bounds checked, signed in (else to the sign-in page), one of
    ``roles`` (any role when none), and a domain error shown as a page with its status."""

    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            caller = session_caller(request)
            try:
                check_request(request)
                if caller is None:
                    if request.method != "GET":
                        raise Forbidden("sign in first")
                    return redirect("/login")
                if roles and not any(caller.has(role) for role in roles):
                    raise Forbidden("this page is not for your role")
                return await handler(request, caller)
            except PssError as exc:
                return error_page(request, caller, exc)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def time_left(now: datetime, instant: str | None) -> str:
    """'3h 20m left' / '1d 2h overdue' for a deadline, as a person reads it."""
    if not instant:
        return ""
    try:
        seconds = int((parse_instant(instant) - now).total_seconds())
    except ValueError:
        return ""
    word = "left" if seconds >= 0 else "overdue"
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if not days:
        parts.append(f"{minutes}m")
    return f"{' '.join(parts)} {word}"


templates.env.globals["time_left"] = time_left
