"""Use cases: each is one transaction, and the events it causes commit with it."""
