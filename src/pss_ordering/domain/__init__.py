"""The rules of ordering: pure Python, standard library only, no I/O."""
