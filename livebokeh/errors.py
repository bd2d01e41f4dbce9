"""User-facing errors: anything the user can fix is raised as ``LivebokehError``.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class LivebokehError(Exception):
    """An expected fault (bad input, missing model, bad option) with a one-line message."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
