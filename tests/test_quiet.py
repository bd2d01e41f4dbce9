"""Native stderr silencing around model loading, and signals that come while it lasts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from livebokeh.quiet import native_stderr_silenced

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


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


@pytest.mark.parametrize("target", ["process", "another thread"])
def test_ctrl_c_while_the_caller_waits_for_native_work_comes_after_it(capfd, target):
    """The caller waits for a thread's native work, as MediaPipe's task creation does; a
    Ctrl-C in that wait used to end the block first, and the late write reached the
    terminal. Now the interrupt is raised when the block ends, after the work, whichever
    thread the signal reaches (Python runs the handler on the main thread either way)."""
    finished = []
    with pytest.raises(KeyboardInterrupt), native_stderr_silenced():
        worker = threading.Thread(target=lambda: (_native_write(0.3), finished.append(1)))
        worker.start()
        if target == "process":
            os.kill(os.getpid(), signal.SIGINT)
        else:
            signal.pthread_kill(worker.ident, signal.SIGINT)
        worker.join()
    assert finished == [1]
    assert "native noise" not in capfd.readouterr().err
    os.write(2, b"stderr is back\n")
    assert "stderr is back" in capfd.readouterr().err


def test_a_held_signal_reaches_its_own_handler_once_after_the_block():
    calls = []

    def handler(signum, frame):
        calls.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with native_stderr_silenced():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert calls == []
        assert calls == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is handler  # restored after the block
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_held_sigterm_with_the_default_action_still_ends_the_process():
    code = ("import os, signal, sys\n"
            "from livebokeh.quiet import native_stderr_silenced\n"
            "with native_stderr_silenced():\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    print('inside', flush=True)\n"
            "print('after', flush=True)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == -signal.SIGTERM
    assert result.stdout == "inside\n"


def test_the_block_works_off_the_main_thread():
    errors = []

    def silenced():
        try:
            with native_stderr_silenced():
                _native_write(0.0)
        except Exception as error:  # signal handlers can only be set on the main thread
            errors.append(error)

    thread = threading.Thread(target=silenced)
    thread.start()
    thread.join()
    assert errors == []
