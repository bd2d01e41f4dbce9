"""Silence native libraries that write straight to file descriptor 2.

MediaPipe and TensorFlow Lite print INFO/W0000 lines on stderr when a task is created; a
user's terminal should show neither. Python-level ``sys.stderr`` redirection cannot catch
them, so the descriptor itself is pointed at /dev/null for the duration.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Point fd 2 at /dev/null inside the block (only around model loading: not per frame)."""
    with contextlib.suppress(AttributeError, ValueError):
        sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
