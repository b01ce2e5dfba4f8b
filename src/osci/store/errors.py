"""Errors the store raises: clear messages for callers to show, never a raw driver traceback."""


class StoreError(Exception):
    """Something about the store went wrong: a bad URL, an unreachable database, bad input."""


class NotFound(StoreError):
    """A record asked for by uuid, id or name does not exist."""
