"""What each provider wrote on an order that is its own: its notes, its expected completion.

What one provider writes on an order is for the customer, governance, the creating
PSS and that provider only (PSI-03-02-03-02, need-to-know). The order document
holds every note, and the order-level ``expectedCompletionDate`` that the full
view shows: the latest of the dates the providers expect. This record says which
notes are whose and what each provider expects, so that ``visibility.provider_view``
can show each provider its own. It is kept by the server (the order's meta, and
the snapshot each event keeps), never read from the document: a note's ``author``
as a client wrote it decides nothing.

The rules:

* Every note's ``author`` is set by the server to the party id of whoever wrote it
  (customer, organisation, PSS or provider), so no note can pass for another's.
* A note appended by a provider is that provider's: it is shown to the customer
  side, governance, the creating PSS and that provider, never to the order's other
  providers. Notes written by the customer, its organisation or the creating PSS
  are addressed to all the order's providers, and every provider sees them.
* Each provider sets (and removes) its own ``expectedCompletionDate``; one
  provider can never overwrite another's. A provider sees its own date as the
  order's; the full view shows the latest date any provider expects (the order
  is complete when its last item is), and none when no provider gave one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import BusinessRuleViolation
from .timestamps import parse_instant

NOTE = "note"
EXPECTED = "expectedCompletionDate"
#: Order fields each provider has its own value or entries of.
PER_PROVIDER_FIELDS = frozenset({NOTE, EXPECTED})


@dataclass(slots=True)
class Authorship:
    """``notes``: position in the order's ``note`` list -> the provider that wrote it
    (positions are stable: notes are append-only); ``expected``: provider -> its
    ``expectedCompletionDate`` as it wrote it."""

    notes: dict[int, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "notes": {str(position): owner for position, owner in sorted(self.notes.items())},
            "expected": dict(self.expected),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Authorship:
        raw = raw or {}
        notes = raw.get("notes") or {}
        return cls(
            notes={int(position): str(owner) for position, owner in notes.items()},
            expected={str(k): str(v) for k, v in (raw.get("expected") or {}).items()},
        )

    def notes_for(self, notes: list[Any], provider_id: str) -> list[Any]:
        """The notes a provider sees: the customer side's and its own."""
        return [
            note
            for position, note in enumerate(notes)
            if self.notes.get(position, provider_id) == provider_id
        ]

    def add_notes(self, doc: dict[str, Any], provider_id: str, notes: list[Any]) -> None:
        """Append a provider's notes to the order, as that provider's."""
        if not notes:
            return
        existing = list(doc.get(NOTE) or [])
        for note in authored(notes, provider_id):
            self.notes[len(existing)] = provider_id
            existing.append(note)
        doc[NOTE] = existing

    def expect(self, doc: dict[str, Any], provider_id: str, value: Any) -> None:
        """Set (None: remove) a provider's own expected completion date, and the order's."""
        if value is None:
            self.expected.pop(provider_id, None)
        elif isinstance(value, str) and _instant(value) is not None:
            self.expected[provider_id] = value
        else:
            raise BusinessRuleViolation(f"'{EXPECTED}' must be a date-time, not {value!r}")
        latest = self.latest_expected()
        if latest is None:
            doc.pop(EXPECTED, None)
        else:
            doc[EXPECTED] = latest

    def latest_expected(self) -> str | None:
        """The order-level expected completion: the latest date any provider expects."""
        dated = [
            (instant, provider, value)
            for provider, value in self.expected.items()
            if (instant := _instant(value)) is not None
        ]
        return max(dated)[2] if dated else None


def authored(notes: Any, author: str) -> list[Any]:
    """Notes as ``author`` wrote them: the server, never the client, names a note's author,
    so no party can write a note that reads as another's."""
    if not isinstance(notes, list) or not all(isinstance(note, Mapping) for note in notes):
        raise BusinessRuleViolation("'note' entries are objects")
    return [{**note, "author": author} for note in notes]


def _instant(value: str) -> datetime | None:
    try:
        return parse_instant(value)
    except ValueError:
        return None
