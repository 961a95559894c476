"""The console commands (``pss-ordering ...``): thin wrappers over bootstrap and services."""
