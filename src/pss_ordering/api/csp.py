"""The Content-Security-Policy of every HTML page the service serves (/docs, /console).

Scripts and styles come from this origin only, and never inline: the pages load
their scripts as files (``script-src 'self'``), so an injected ``<script>`` or
``onclick=`` does not run. Images may be ``data:`` URLs (Swagger UI's icons).
"""

from __future__ import annotations

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
