"""Silence native libraries that write straight to file descriptor 2.

MediaPipe and TensorFlow Lite print INFO/W0000 lines on stderr when a task is created; a
user's terminal should show neither. Python-level ``sys.stderr`` redirection cannot catch
them, so the descriptor itself is pointed at /dev/null for the duration.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM")
                     if hasattr(signal, name))


@contextlib.contextmanager
def interrupts_held():
    """Ctrl-C and SIGTERM wait until the block ends (blocked for the calling thread).

    MediaPipe creates a task on a thread of its own while the caller waits for it: an
    interrupt raised in that wait would end the block while the native thread still runs
    and writes (a W0000 line on the terminal after Ctrl-C in ``batch``). Held, the signal is
    taken when the block ends, once the native work is done. Where the platform has no
    per-thread signal mask (Windows) nothing is held.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def native_stderr_silenced():
    """Point fd 2 at /dev/null inside the block (only around model loading: not per frame);
    interrupts wait for the block's end (``interrupts_held``)."""
    with contextlib.suppress(AttributeError, ValueError):
        sys.stderr.flush()
    with interrupts_held():
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
