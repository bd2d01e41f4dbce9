"""User-facing errors: anything the user can fix is raised as ``LivebokehError``.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; any other
exception is a bug and keeps its traceback. A failed write (full disk, file too large, I/O
error, read-only or forbidden folder) is one of these too: ``writing(path)`` turns the OS
error into a line naming the path and the cause (``livebokeh.io.atomic`` re-exports it for
the writers).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator


class LivebokehError(Exception):
    """An expected fault (bad input, missing model, bad option) with a one-line message."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


# The causes users meet, in their words; any other OS error keeps the system's own text.
WRITE_FAULTS = {
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file system's or the process's file size limit)",
    errno.EIO: "input/output error (the disk or its connection failed)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "the folder no longer exists",
}


def write_error(path: str | os.PathLike, exc: OSError) -> LivebokehError:
    """The one-line error for an OSError raised while writing ``path``: the path and cause."""
    reason = WRITE_FAULTS.get(exc.errno) or exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno, "")
    return LivebokehError(f"cannot write {path}: {reason}" + (f" [{name}]" if name else ""))


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OS error raised inside the block into ``write_error(path, ...)``.

    For every writer (the photo and video jobs, ``models fetch``, a batch manifest): wrap the
    code that writes ``path`` (or its temp file) and the user gets one line, not a traceback.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno is None:  # not from the OS (e.g. a network library's error)
            raise
        raise write_error(path, exc) from None
