"""PATCH bodies: JSON Merge Patch (RFC 7386, also for plain JSON), JSON Patch (RFC 6902)
and TMF630 JSON Patch Query (``patch_query.py``: translated to JSON Patch as it applies).

A JSON Patch is bounded before it can cost more than its body: at most
``max_operations`` operations (checked when the body is read, before anything
is loaded), and while it is applied, operation by operation, neither the
document's growth nor the bytes its ``copy`` operations duplicate may exceed
``max_bytes`` (the body limit) — so ``copy /zz -> /zz/-`` repeated, which
doubles the document each time, stops at the budget instead of after seconds
and gigabytes, before any validation or authorisation work sees the result.
A merge patch cannot grow a document by more than its own size. A JSON Patch
Query operation that selects several elements counts as that many operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer
import orjson

from ..config import Settings
from ..domain.errors import InvalidBody, PayloadTooLarge
from ..domain.inbound import merge_items_by_id
from . import patch_query
from .contract import BodySchema, ShapeRules
from .jsonio import JSON, JSON_PATCH, JSON_PATCH_QUERY, MERGE_PATCH

PATCH_TYPES = (MERGE_PATCH, JSON, JSON_PATCH, JSON_PATCH_QUERY)
Patcher = Callable[[dict[str, Any]], dict[str, Any]]
_GROWING = frozenset({"add", "replace", "copy"})


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_patch_order(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386, except that ``productOrderItem`` is merged item by item: each entry is
    a merge patch of the item with its ``id`` (as received events are merged), so a
    customer supplying one characteristic of one item need not resend the others."""
    items = patch.get("productOrderItem")
    if not isinstance(items, list) or not isinstance(target.get("productOrderItem"), list):
        return dict(merge_patch(target, patch))
    rest = {key: value for key, value in patch.items() if key != "productOrderItem"}
    result: dict[str, Any] = merge_patch(target, rest)
    result["productOrderItem"] = merge_items_by_id(
        target["productOrderItem"], items, merge_patch, "productOrderItem"
    )
    return result


@dataclass(frozen=True, slots=True)
class PatchLimits:
    """What a JSON Patch may cost: its length, and the bytes it may add or copy."""

    max_bytes: int = 1_000_000
    max_operations: int = 100


def patch_limits(settings: Settings) -> PatchLimits:
    return PatchLimits(settings.max_body_bytes, settings.max_patch_operations)


def make_patcher(
    body: Any,
    kind: str,
    schema: BodySchema,
    limits: PatchLimits = PatchLimits(),
    rules: ShapeRules | None = None,
    merge: Callable[[dict[str, Any], dict[str, Any]], Any] = merge_patch,
) -> Patcher:
    """Check the patch document's shape (and a JSON Patch's length) now; return the
    function that applies it (a merge patch with ``merge``). The function may change
    the document it is given: callers hand in their own copy. ``rules``: the body's
    own shape rules (see ``BodySchema.validate``)."""
    if kind in (JSON_PATCH, JSON_PATCH_QUERY):
        return _json_patcher(body, limits, selectors=kind == JSON_PATCH_QUERY)
    if not isinstance(body, dict):
        raise InvalidBody("a merge-patch body must be a JSON object")
    schema.validate({k: v for k, v in body.items() if v is not None}, fill_type=False, rules=rules)
    return lambda doc: dict(merge(doc, body))


def _json_patcher(body: Any, limits: PatchLimits, *, selectors: bool) -> Patcher:
    max_bytes, max_operations = limits.max_bytes, limits.max_operations
    if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
        raise InvalidBody("a JSON Patch body must be an array of operation objects")
    if len(body) > max_operations:
        raise PayloadTooLarge(
            f"the JSON Patch has {len(body)} operations; at most {max_operations} are accepted"
        )
    queries = [patch_query.parse(op) if selectors else None for op in body]
    # A query's operation is checked for its shape now, on a plain path, like any other.
    steps = [
        _step(op if query is None else {**op, "path": "/"})
        for op, query in zip(body, queries, strict=True)
    ]

    def apply_json_patch(doc: dict[str, Any]) -> dict[str, Any]:
        """Apply one operation at a time, in place: callers hand in their own copy."""
        result: Any = doc
        estimate = _size(doc)
        limit = estimate + max_bytes
        copied = applied = 0
        try:
            for given, query, planned in zip(body, queries, steps, strict=True):
                plain = [(given, planned)] if query is None else []
                if query is not None:
                    plain = [(op, _step(op)) for op in patch_query.expand(given, query, result)]
                applied += len(plain)
                if applied > max_operations:
                    raise PayloadTooLarge(
                        f"the JSON Patch Query selects more than {max_operations} operations"
                    )
                for op, step in plain:
                    grows = _growth(op, result) if op.get("op") in _GROWING else 0
                    if op.get("op") == "copy":
                        copied += grows
                        if copied > max_bytes:
                            raise PayloadTooLarge(
                                f"the JSON Patch copies more than {max_bytes} bytes"
                            )
                    result = step.apply(result, in_place=True)
                    estimate += grows
                    if estimate > limit:
                        estimate = _size(result)
                        if estimate > limit:
                            raise PayloadTooLarge(
                                f"the JSON Patch grows the document by more than {max_bytes} bytes"
                            )
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise InvalidBody(f"JSON Patch cannot be applied: {exc}") from None
        except (TypeError, KeyError, IndexError, ValueError) as exc:
            raise InvalidBody(f"JSON Patch cannot be applied: {exc!r}") from None
        if not isinstance(result, dict):
            raise InvalidBody("the patched document must remain a JSON object")
        return result

    return apply_json_patch


def _step(op: dict[str, Any]) -> jsonpatch.JsonPatch:
    """One operation, checked for its shape."""
    try:
        return jsonpatch.JsonPatch([op])
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise InvalidBody(f"invalid JSON Patch: {exc}") from None
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise InvalidBody(f"invalid JSON Patch: {exc}") from None


def _growth(op: dict[str, Any], doc: Any) -> int:
    """At most how many bytes ``op`` adds: the size of the value it writes."""
    if op["op"] == "copy":
        value = jsonpointer.JsonPointer(op["from"]).resolve(doc)
    else:
        value = op.get("value")
    return _size(value)


def _size(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        raise InvalidBody("the patched document is nested too deeply") from None


def result_validator(
    schema: BodySchema, rules: ShapeRules | None = None
) -> Callable[[dict[str, Any]], None]:
    """Validate a patched document on the fields the modification schema knows."""

    def validate(doc: dict[str, Any]) -> None:
        known = {k: v for k, v in doc.items() if k in schema.fields}
        schema.validate(known, fill_type=False, rules=rules)

    return validate
