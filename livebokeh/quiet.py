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
import threading

HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM")
                     if hasattr(signal, name))


@contextlib.contextmanager
def interrupts_held():
    """Ctrl-C and SIGTERM wait until the block ends, then go to their handlers as before.

    MediaPipe creates a task on a thread of its own while the caller waits for it: an
    interrupt raised in that wait would end the block while the native thread still runs
    and writes (a W0000 line on the terminal after Ctrl-C in ``batch``). Python runs signal
    handlers on the main thread, whichever thread the signal reached, so there the handlers
    are swapped for one that only notes the signal; on any other thread nothing can
    interrupt the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: caught.append(signum))
                for signum in HELD_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            _deliver(signum, previous[signum])


def _deliver(signum: int, handler) -> None:
    """Hand a held signal to the handler it would have reached (the default: sent again)."""
    if callable(handler):
        handler(signum, None)
    elif handler != signal.SIG_IGN:
        os.kill(os.getpid(), signum)


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
