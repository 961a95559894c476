"""The bare ASGI baseline: no framework, no database, no auth; only JSON in and out.

* ``POST`` (any path): read the whole body, parse it with orjson, serialise it
  again and answer ``201`` with it.
* ``GET /health``: ``{"status":"ok"}``.
* ``GET`` (any other path): a fixed ProductOrder document of the size of a real
  one (about 0.6 kB), serialised with orjson on every request.

It is served by uvicorn with the same settings as ``pss-ordering serve``
(default loop and HTTP implementation, log level warning, no access log), so the
ratio service/baseline shows what the service costs on top of the HTTP stack::

    python bench/baseline_app.py --host 127.0.0.1 --port 8124
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_ORDER_ID = "3f1c2b7e-8a4d-4c59-9e1f-5b6a7c8d9e0f"
FIXED_ORDER: dict[str, Any] = {
    "id": _ORDER_ID,
    "href": "http://127.0.0.1:8080/psi-api/productOrdering/v2/productOrder/" + _ORDER_ID,
    "productOrderItem": [
        {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "leo-broadband"},
            "state": "pending",
        },
        {"id": "2", "action": "add", "productOffering": {"id": "geo-backup"}, "state": "pending"},
    ],
    "@type": "ProductOrder",
    "creationDate": "2026-11-24T14:13:06.674Z",
    "state": "pending",
    "relatedParty": [
        {
            "@type": "RelatedPartyRefOrPartyRoleRef",
            "role": "customer",
            "partyOrPartyRole": {"@type": "PartyRef", "id": "alice"},
        },
    ],
}
_JSON_HEADERS = [(b"content-type", b"application/json")]


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        try:
            parsed = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            await _respond(send, 400, b'{"code":"400","reason":"invalid JSON"}')
            return
        await _respond(send, 201, orjson.dumps(parsed))
        return
    if scope["path"] == "/health":
        await _respond(send, 200, b'{"status":"ok"}')
        return
    await _respond(send, 200, orjson.dumps(FIXED_ORDER))


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8124)
    args = parser.parse_args()
    # The same call as ``pss-ordering serve`` makes.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
