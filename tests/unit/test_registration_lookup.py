"""The DNS lookup at callback registration is bounded and never asked of names no
resolver answers (events/sender.py resolve_addresses)."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from pss_ordering.events import sender


def test_a_lookup_that_never_answers_is_left_to_the_send_time_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = threading.Event()

    def hanging(*_args: Any, **_kwargs: Any) -> Any:
        released.wait(10)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    monkeypatch.setattr(sender, "REGISTRATION_LOOKUP_SECONDS", 0.05)
    try:
        assert sender.resolve_addresses("slow.example.org", 443) == []
    finally:
        released.set()


@pytest.mark.parametrize("host", ["hooks.test", "a.b.invalid", "www.example", "X.TEST."])
def test_special_use_names_are_not_looked_up(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    def asked(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("no lookup for a name no resolver answers")

    monkeypatch.setattr(socket, "getaddrinfo", asked)
    assert sender.resolve_addresses(host, 443) == []


def test_other_names_are_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: answer)
    assert sender.resolve_addresses("hooks.partner.example.com", 443) == ["10.0.0.7"]
