"""The embedded runner: a pool of local worker processes, one task each at a time.

Each worker is a spawned process with a ``Worker`` (models loaded once) and a pipe to the
parent, over which it gets tasks and sends back progress and results. The parent waits on
the pipes and on the processes themselves, so a worker that dies (a crash in a native
library, the out-of-memory killer) is noticed at once: it is replaced and its task runs
once more, then counts as failed.

Ctrl-C: the workers ignore SIGINT (the terminal sends it to all of them); the parent asks
each to stop with SIGTERM, which ends its task as KeyboardInterrupt, so the task removes its
temp file itself; the parent then removes anything a worker could not (one killed after
``STOP_SECONDS``) and every segment folder.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from multiprocessing.connection import Connection, wait

from livebokeh.app.batch.plan import Plan, Task
from livebokeh.app.batch.worker import Worker, threads_per_worker

STOP_SECONDS = 20.0  # a worker asked to stop has this long to clean up before it is killed
PROGRESS_SECONDS = 0.2  # a worker reports written frames at most this often


class PipeProgress:
    """A worker's progress: frame counts sent to the parent, batched every PROGRESS_SECONDS."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.pending = 0
        self.sent_at = time.monotonic()

    def update(self, frames: int) -> None:
        self.pending += frames
        if time.monotonic() - self.sent_at >= PROGRESS_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.conn.send(("progress", self.pending))
            self.pending = 0
        self.sent_at = time.monotonic()


def _interrupt(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: cleanup must not be interrupted
    raise KeyboardInterrupt


def worker_main(conn: Connection, threads: int) -> None:
    """A pool process: run the tasks the parent sends until it sends None or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        worker = Worker(threads)
        while (task := conn.recv()) is not None:
            progress = PipeProgress(conn)
            result = worker.run(task, progress)
            progress.flush()
            conn.send(("done", result))
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass


class _Slot:
    """One worker process, its pipe, and the task it is running (None: idle)."""

    def __init__(self, context, threads: int):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker_main, args=(child, threads), daemon=True,
                                       name="livebokeh-batch-worker")
        self.process.start()
        child.close()
        self.task: Task | None = None
        self.frames = 0  # frames reported for the current task


class ProcessPool:
    """Runs a ``Plan`` on up to ``workers`` local processes of ``threads`` cores each.

    No more processes start than there are tasks; ``threads`` None shares the cores among
    those that do (``threads_per_worker``), so one worker alone gets them all.
    """

    def __init__(self, workers: int, threads: int | None = None):
        self.workers, self.threads = workers, threads
        self.context = multiprocessing.get_context("spawn")  # no fork of a threaded parent

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, plan: Plan, on_frames, on_row) -> None:
        """Run every task of ``plan``; ``on_frames(n)`` for progress, ``on_row(row)`` per input."""
        running = max(1, min(self.workers, len(plan.queue)))
        self._threads = self.threads or threads_per_worker(running)
        slots = [_Slot(self.context, self._threads) for _ in range(running)]
        try:
            while not plan.finished:
                self._hand_out(plan, slots)
                self._collect(plan, slots, on_frames, on_row)
        except BaseException:
            self._stop(slots)
            plan.abandon([slot.task for slot in slots if slot.task is not None])
            raise
        self._close(slots)

    def _hand_out(self, plan: Plan, slots: list[_Slot]) -> None:
        for number, slot in enumerate(slots):
            if slot.task is not None:
                continue
            if not slot.process.is_alive():  # died while idle: nothing to retry
                slot.conn.close()
                slot = slots[number] = _Slot(self.context, self._threads)
            if (task := plan.next_task()) is None:
                return
            slot.task, slot.frames = task, 0
            slot.conn.send(task)

    def _collect(self, plan: Plan, slots: list[_Slot], on_frames, on_row) -> None:
        busy = [slot for slot in slots if slot.task is not None]
        waiting = {slot.conn: slot for slot in busy}
        waiting.update({slot.process.sentinel: slot for slot in busy})
        for ready in wait(list(waiting), timeout=1.0):
            slot = waiting[ready]
            if slot.task is None:
                continue
            if ready is slot.conn:
                try:
                    kind, value = slot.conn.recv()
                except (EOFError, OSError):
                    continue  # it died: its sentinel says so
                if kind == "progress":
                    slot.frames += value
                    on_frames(value)
                else:
                    task, slot.task = slot.task, None
                    if (row := plan.finish(task, value)) is not None:
                        on_row(row)
            elif not slot.process.is_alive():
                self._replace(plan, slots, slot, on_frames, on_row)

    def _replace(self, plan: Plan, slots: list[_Slot], dead: _Slot, on_frames, on_row) -> None:
        task, code = dead.task, dead.process.exitcode
        on_frames(-dead.frames)  # its frames will be written again, or not at all
        slots[slots.index(dead)] = _Slot(self.context, self._threads)
        dead.conn.close()
        cause = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        if (row := plan.worker_died(task, cause)) is not None:
            on_row(row)

    def _stop(self, slots: list[_Slot]) -> None:
        for slot in slots:
            if slot.process.is_alive():
                slot.process.terminate()  # SIGTERM: the task ends as KeyboardInterrupt
        deadline = time.monotonic() + STOP_SECONDS
        for slot in slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()

    def _close(self, slots: list[_Slot]) -> None:
        for slot in slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
        for slot in slots:
            slot.process.join(STOP_SECONDS)
            if slot.process.is_alive():
                slot.process.kill()
