"""TMF622 v4: the v4 representation of the same orders, translated at the edge.

Pure functions (no I/O): v4 documents to and from the v5 (PSID622) documents the
use cases work on (:mod:`.documents`), v4 list queries (:mod:`.queries`) and v4
event envelopes (:mod:`.events`). No rule is decided here.
"""
