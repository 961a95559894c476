"""What every route needs: the caller, thread hand-off, ETags, hrefs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from prometheus_client.registry import CollectorRegistry
from starlette.requests import Request

from .. import correlation
from ..clock import Clock
from ..config import Settings
from ..domain.errors import BadRequest
from ..domain.identity import Caller
from ..events.intake import IntakeService
from ..events.registrations import HubService
from ..hrefs import OrderHrefs
from ..response_time.figures import FiguresService
from ..service.execution import Executor
from ..service.offerings import OfferingService
from ..service.orders import OrderService
from ..service.parties import PartyService
from ..service.retention import RetentionService
from ..service.timers import TimerService
from ..service.unit_of_work import Database
from .auth import Authenticator
from .bounds import check_party_id, shown

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Services:
    """What the routes call; built once by ``bootstrap``."""

    settings: Settings
    database: Database
    clock: Clock
    hrefs: OrderHrefs
    auth: Authenticator
    orders: OrderService
    parties: PartyService
    offerings: OfferingService
    timers: TimerService
    hub: HubService
    intake: IntakeService
    figures: FiguresService
    metrics: CollectorRegistry
    executor: Executor
    retention: RetentionService


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def caller_of(request: Request) -> Caller:
    """The verified caller, whose party id is bounded like every id (see :mod:`.bounds`)."""
    caller = services(request).auth.authenticate(request.headers.get("authorization"))
    check_party_id(caller.party_id)
    correlation.set_party(caller.party_id)  # for the request's access record
    return caller


async def reading(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a read-only use case off the event loop (its cost may grow with the data)."""
    return await services(request).executor.scan(fn, *args, **kwargs)


async def looking_up(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a read by primary key, whose cost is bounded (inline on SQLite; see Executor)."""
    return await services(request).executor.read(fn, *args, **kwargs)


async def writing(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a use case that writes where the database's executor says writes run."""
    return await services(request).executor.write(fn, *args, **kwargs)


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request: Request) -> int | None:
    """The version an If-Match header names; None when absent or ``*``."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    # ASCII digits only: str.isdigit() also accepts '²' or '٣', which int() refuses.
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadRequest(f"If-Match '{shown(raw)}' is not an ETag this service issued")
    return int(text)


def with_href(doc: dict[str, Any], base: str) -> dict[str, Any]:
    out = {"id": doc["id"], "href": f"{base}/{doc['id']}"}
    out.update((k, v) for k, v in doc.items() if k not in out)
    return out
