"""Native stderr silencing around model loading, and Ctrl-C while the native work runs."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from livebokeh.quiet import native_stderr_silenced

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"),
                                reason="no per-thread signal mask on this platform")


def _native_write(delay: float) -> None:
    """Stands in for MediaPipe's creation thread: writes to fd 2 after ``delay`` s."""
    time.sleep(delay)
    os.write(2, b"W0000 native noise\n")


def test_native_writes_inside_the_block_are_silenced(capfd):
    with native_stderr_silenced():
        _native_write(0.0)
    os.write(2, b"after the block\n")
    err = capfd.readouterr().err
    assert "native noise" not in err and "after the block" in err


def test_ctrl_c_while_the_caller_waits_for_native_work_comes_after_it(capfd):
    """The caller waits for a thread's native work, as MediaPipe's task creation does; a
    Ctrl-C in that wait used to end the block first, and the late write reached the
    terminal. Now the interrupt is raised when the block ends, after the work."""
    finished = []
    with pytest.raises(KeyboardInterrupt), native_stderr_silenced():
        worker = threading.Thread(target=lambda: (_native_write(0.3), finished.append(1)))
        worker.start()
        os.kill(os.getpid(), signal.SIGINT)
        worker.join()
    assert finished == [1]
    assert "native noise" not in capfd.readouterr().err
    os.write(2, b"stderr is back\n")
    assert "stderr is back" in capfd.readouterr().err
