"""Edits: each one a frozen request dataclass plus a generator `run(request, ctx)`."""
