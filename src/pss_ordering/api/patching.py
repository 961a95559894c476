"""PATCH bodies: JSON Merge Patch (RFC 7386, also for plain JSON) and JSON Patch (RFC 6902)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonpatch

from ..domain.errors import InvalidBody
from .contract import BodySchema
from .jsonio import JSON, JSON_PATCH, MERGE_PATCH

PATCH_TYPES = (MERGE_PATCH, JSON, JSON_PATCH)
Patcher = Callable[[dict[str, Any]], dict[str, Any]]


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


def make_patcher(body: Any, kind: str, schema: BodySchema) -> Patcher:
    """Check the patch document's shape now; return the function that applies it."""
    if kind == JSON_PATCH:
        if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
            raise InvalidBody("a JSON Patch body must be an array of operation objects")
        try:
            patch = jsonpatch.JsonPatch(body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise InvalidBody(f"invalid JSON Patch: {exc}") from None
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise InvalidBody(f"invalid JSON Patch: {exc}") from None

        def apply_json_patch(doc: dict[str, Any]) -> dict[str, Any]:
            try:
                result = patch.apply(doc)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise InvalidBody(f"JSON Patch cannot be applied: {exc}") from None
            except (TypeError, KeyError, IndexError, ValueError) as exc:
                raise InvalidBody(f"JSON Patch cannot be applied: {exc!r}") from None
            if not isinstance(result, dict):
                raise InvalidBody("the patched document must remain a JSON object")
            return result

        return apply_json_patch
    if not isinstance(body, dict):
        raise InvalidBody("a merge-patch body must be a JSON object")
    schema.validate({k: v for k, v in body.items() if v is not None}, fill_type=False)
    return lambda doc: merge_patch(doc, body)


def result_validator(schema: BodySchema) -> Callable[[dict[str, Any]], None]:
    """Validate a patched document on the fields the modification schema knows."""

    def validate(doc: dict[str, Any]) -> None:
        schema.validate({k: v for k, v in doc.items() if k in schema.fields}, fill_type=False)

    return validate
