"""Where orders are on the wire: the one spelling of the order resource's path, and the
one owner of the order hrefs the service writes from ``PSS_BASE_URL``.

Answers, stored-event listings, event envelopes, relays to partners and the
served OpenAPI documents all name orders; each takes its path or href base from
here (the v4 path is the v4 surface's own, :mod:`.tmf4.events`), so none can
drift from the routes that answer at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tmf4.events import ORDER_PATH as V4_ORDER_PATH

ORDERING_API = "/psi-api/productOrdering/v2"
ORDER_PATH = ORDERING_API + "/productOrder"


@dataclass(frozen=True, slots=True)
class OrderHrefs:
    """The href bases of orders at this service: ``{v5}/{id}`` and ``{v4}/{id}``."""

    v5: str
    v4: str

    @classmethod
    def at(cls, base_url: str) -> OrderHrefs:
        root = base_url.rstrip("/")
        return cls(v5=root + ORDER_PATH, v4=root + V4_ORDER_PATH)

    def of(self, order_id: str) -> str:
        return f"{self.v5}/{order_id}"
