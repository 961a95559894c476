"""The HTTP edge: translate requests into use-case calls and results into responses."""
