"""Hub rules: callback hosts, filter query syntax and matching (TOD-01-02-02)."""

from __future__ import annotations

import pytest

from pss_ordering.domain.errors import BusinessRuleViolation
from pss_ordering.domain.hub import FilterQuery, callback_target, check_allowed_host

EVENT = {
    "eventType": "orderStateChangeNotification",
    "event": {
        "productOrder": {
            "state": "inProgress",
            "productOrderItem": [
                {"productOffering": {"id": "abcd"}},
                {"productOffering": {"id": "efgh"}},
            ],
        }
    },
}


def test_default_ports() -> None:
    assert callback_target("https://Receiver.Test/x") == ("https", "receiver.test", 443)
    assert callback_target("http://h:8080/x") == ("http", "h", 8080)


def test_allowed_hosts_compare_host_and_port() -> None:
    check_allowed_host("https://receiver.test/x", ["receiver.test:443"])
    with pytest.raises(BusinessRuleViolation, match=r"receiver\.test:80"):
        check_allowed_host("http://receiver.test/x", ["receiver.test:443"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", True),
        ("eventType=orderStateChangeNotification", True),
        ("eventType=ProductOrderStateChangeEvent", True),
        ("eventType=orderCreationNotification", False),
        ("event.productOrder.productOrderItem.productOffering.id=efgh", True),
        ("event.productOrder.productOrderItem.productOffering.id=zzzz", False),
        ("event.productOrder.state=inProgress&eventType=orderStateChangeNotification", True),
        ("event.productOrder.state=inProgress&eventType=orderCreationNotification", False),
    ],
)
def test_filter_matching_PSI_01_02_03_05(query: str, expected: bool) -> None:
    assert FilterQuery.parse(query).matches(EVENT) is expected
