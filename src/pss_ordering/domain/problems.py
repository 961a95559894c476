"""Every problem of a request in one answer (issue 11: one round trip to learn what is wrong).

A check that finds something wrong *adds* a :class:`Detail` (the JSON path of
the value, the reason, a short code) to a :class:`Problems` collector instead of
raising at the first; the collector then raises one error that lists them all
under ``details``, with ``message`` summarising. Its status is that of the most
serious kind found (403 before 400 before 409 before 422), so a single problem
answers exactly as it did when it was raised alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .errors import BusinessRuleViolation, Conflict, Detail, Forbidden, InvalidBody, PssError

#: The order in which kinds of error decide the status of a combined answer.
SEVERITY: tuple[type[PssError], ...] = (Forbidden, InvalidBody, Conflict, BusinessRuleViolation)
SHOWN_IN_MESSAGE = 3


def json_path(parts: Iterable[str | int]) -> str:
    """``["productOrderItem", 0, "@type"]`` -> ``$.productOrderItem[0]['@type']``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


@dataclass(slots=True)
class Problems:
    """What is wrong with one request, gathered by every check before answering."""

    found: list[tuple[type[PssError], Detail]] = field(default_factory=list)

    def add(
        self, kind: type[PssError], path: Sequence[str | int] | str, reason: str, code: str
    ) -> None:
        where = path if isinstance(path, str) else json_path(path)
        self.found.append((kind, Detail(where, reason, code)))

    def paths(self) -> frozenset[str]:
        return frozenset(detail.path for _, detail in self.found)

    def renamed(self, renamed: Mapping[str, str], code: str, reason: str) -> None:
        """Problems found in a body whose fields ``renamed`` (new name -> the name sent)
        were judged under their new names: each path as sent, and each renamed field
        refused first (``reason`` formats ``{old}`` and ``{new}``)."""
        found = []
        for kind, detail in self.found:
            for new, old in renamed.items():
                prefix = json_path([new])
                if within(detail.path, prefix):
                    path = json_path([old]) + detail.path[len(prefix) :]
                    detail = Detail(path, detail.reason, detail.code)
            found.append((kind, detail))
        first = [
            (InvalidBody, Detail(json_path([old]), reason.format(old=old, new=new), code))
            for new, old in renamed.items()
        ]
        self.found = first + found

    def raise_if_any(self) -> None:
        if not self.found:
            return
        kind = min((k for k, _ in self.found), key=_severity)
        details = tuple(detail for _, detail in self.found)
        raise kind(summary(details), details)


def within(path: str, outer: str) -> bool:
    """``path`` is ``outer`` or lies under it."""
    return path == outer or path.startswith((outer + ".", outer + "["))


def _severity(kind: type[PssError]) -> int:
    return next(i for i, k in enumerate(SEVERITY) if issubclass(kind, k))


def summary(details: Sequence[Detail]) -> str:
    """The ``message`` of an answer listing ``details``: the first few, then how many more."""
    lines = [d.text() for d in details[:SHOWN_IN_MESSAGE]]
    if len(details) == 1:
        return lines[0]
    more = len(details) - SHOWN_IN_MESSAGE
    tail = f"; and {more} more" if more > 0 else ""
    return f"{len(details)} problems (each in details): " + "; ".join(lines) + tail
