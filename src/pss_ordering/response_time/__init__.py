"""Provider response time, the feature: what governance and providers read of it.

* ``figures.py``    the use cases: per-provider figures and the breaches, who may read them
* ``repository.py`` their SQL over the ``response_deadlines`` projection (and /metrics'
                    delivery gauges); built with the others by ``store/repositories.py``
* ``metrics.py``    the figures (and delivery health) as Prometheus metrics at ``/metrics``
* ``routes.py``     ``/psi-api/orderMonitoring/v1`` and ``/metrics``

What keeps the deadlines is not here, on purpose: a deadline is part of the order
(its bookkeeping, its milestone, its jeopardy alert), so the pure rules that
start, answer, breach and close it are order rules in ``domain/deadlines.py``
(``domain/response_deadline.py`` is the record the aggregate holds), applied by
the order use cases with every change (``service/orders.py``) and fired by the
durable timers like every other deadline. Moving them here would make the order
aggregate import a feature folder, against the rule that ``domain/`` depends on
nothing (docs/ARCHITECTURE.md, "Feature folders").
"""
