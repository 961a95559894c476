"""Provider response-time monitoring: figures for governance, metrics, the sla command.

The deadlines themselves are order rules (``domain/deadlines.py``) kept by the
order use cases and fired by the durable timers (``service/timers.py``).
"""
