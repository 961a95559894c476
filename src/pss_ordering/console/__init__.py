"""The console: server-rendered pages for customers, providers and governance (issue 14).

A thin edge like the HTTP API: every page reads and every form writes through the
same use cases (``service/*``, ``events/*``, ``response_time/*``) with the signed-in party as
the caller, so visibility, field rights, the lifecycle and ETags are the API's.
"""
