"""The cluster runner: the same tasks on Ray Core actors (``pip install "livebokeh[ray]"``).

Imported only for ``--ray``/``run_batch(ray=...)``, so Ray stays optional. Each actor is a
``Worker`` with an explicit ``num_cpus`` (its threads), which loads the models once and
runs one task at a time; a task's failure comes back as its ``TaskResult``, never as an
exception. An actor that dies (its node lost, the process killed) is replaced and its task
runs once more; Ray's own restarts and retries are off so that this happens exactly once.
Ray Data is not used: its batches drop failed blocks and lose which file failed.

Files travel by path, not through the object store: inputs and OUTDIR must be on a
filesystem every node mounts at the same path. Progress comes back through a Ray queue.
Ctrl-C cancels the running tasks (each actor checks for it at every frame and ends its task
as KeyboardInterrupt, removing its temp file), then the actors are killed and any file a
killed one left is removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass

import ray
from ray.util.queue import Queue

from livebokeh.app.batch.plan import Plan, Task
from livebokeh.app.batch.worker import Worker, machine_cores
from livebokeh.errors import LivebokehError

# An actor reports written frames at most every PROGRESS_SECONDS, or more seldom on a large
# cluster, so that the driver's queue gets at most PROGRESS_MESSAGES_PER_SECOND in all.
PROGRESS_SECONDS = 0.5
PROGRESS_MESSAGES_PER_SECOND = 200
STOP_SECONDS = 20.0  # cancelled tasks have this long to clean up before the actors are killed


class QueueProgress:
    """An actor's progress: (token, frames) put on the driver's queue, batched.

    Also where a task notices that the driver cancelled it (Ctrl-C): it raises
    KeyboardInterrupt, so the job's temp file is removed as on a local Ctrl-C.
    """

    def __init__(self, queue: Queue, token: int, interval: float):
        self.queue, self.token, self.interval = queue, token, interval
        self.pending = 0
        self.sent_at = time.monotonic()

    def update(self, frames: int) -> None:
        if ray.get_runtime_context().is_canceled():
            raise KeyboardInterrupt
        self.pending += frames
        if time.monotonic() - self.sent_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.queue.put_nowait((self.token, self.pending))
            self.pending = 0
        self.sent_at = time.monotonic()


class BatchActor:
    """A Ray actor around one ``Worker``: models load once, tasks run one at a time."""

    def __init__(self, threads: int, queue: Queue, interval: float):
        self.worker = Worker(threads)
        self.queue, self.interval = queue, interval

    def run(self, task: Task, token: int):
        progress = QueueProgress(self.queue, token, self.interval)
        result = self.worker.run(task, progress)
        progress.flush()
        return result


@dataclass
class _Slot:
    actor: object
    task: Task | None = None
    ref: object = None
    frames: int = 0


def connect(address: str | None) -> bool:
    """Connect to Ray (``address`` None/"local": start a local one); True if we started it.

    An already connected session (a caller's own ``ray.init``) is used as it is.
    """
    if ray.is_initialized():
        return False
    try:
        if address in (None, "", "local"):
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(num_cpus=machine_cores(), include_dashboard=False,
                     logging_level=logging.WARNING)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise LivebokehError(f"cannot reach Ray at {address}: {exc}") from None
    return True


class RayRunner:
    """Runs a ``Plan`` on ``workers`` actors of ``threads`` CPUs each (a context manager).

    ``workers`` None: as many as the cluster's CPUs allow.
    """

    def __init__(self, address: str | None, workers: int | None, threads: int):
        self.address, self.threads = address, threads
        self._requested = workers
        self._started = False
        self.workers = workers or 1

    def __enter__(self) -> RayRunner:
        self._started = connect(self.address)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = self._requested or max(1, cpus // self.threads)
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            ray.shutdown()

    def _actor(self, queue: Queue):
        remote = ray.remote(num_cpus=self.threads, max_restarts=0, max_task_retries=0)
        interval = max(PROGRESS_SECONDS, self.workers / PROGRESS_MESSAGES_PER_SECOND)
        return remote(BatchActor).remote(self.threads, queue, interval)

    def run(self, plan: Plan, on_frames, on_row) -> None:
        """Run every task of ``plan``; ``on_frames(n)`` for progress, ``on_row(row)`` per input."""
        queue = Queue(actor_options={"num_cpus": 0})
        slots = [_Slot(self._actor(queue))
                 for _ in range(max(1, min(self.workers, len(plan.queue))))]
        try:
            while not plan.finished:
                self._hand_out(plan, slots)
                self._collect(plan, slots, queue, on_frames, on_row)
        except BaseException:
            self._stop(plan, slots)
            raise
        finally:
            for slot in slots:
                with contextlib.suppress(Exception):
                    ray.kill(slot.actor)
            queue.shutdown()

    @staticmethod
    def _hand_out(plan: Plan, slots: list[_Slot]) -> None:
        for token, slot in enumerate(slots):
            if slot.task is None and (task := plan.next_task()) is not None:
                slot.task, slot.frames = task, 0
                slot.ref = slot.actor.run.remote(task.absolute(), token)

    def _collect(self, plan: Plan, slots: list[_Slot], queue: Queue, on_frames,
                 on_row) -> None:
        busy = {slot.ref: slot for slot in slots if slot.task is not None}
        if not busy:
            return
        ready, _ = ray.wait(list(busy), num_returns=1, timeout=PROGRESS_SECONDS)
        for token, frames in queue.get_nowait_batch(queue.qsize()):
            if slots[token].task is not None:
                slots[token].frames += frames
                on_frames(frames)
        for ref in ready:
            slot = busy[ref]
            task, slot.task = slot.task, None
            try:
                result = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                on_frames(-slot.frames)
                with contextlib.suppress(Exception):
                    ray.kill(slot.actor)
                slot.actor = self._actor(queue)
                cause = type(exc).__name__
                if (row := plan.worker_died(task, cause)) is not None:
                    on_row(row)
                continue
            if (row := plan.finish(task, result)) is not None:
                on_row(row)

    @staticmethod
    def _stop(plan: Plan, slots: list[_Slot]) -> None:
        running = [slot for slot in slots if slot.task is not None]
        for slot in running:
            ray.cancel(slot.ref)
        with contextlib.suppress(Exception):
            ray.wait([slot.ref for slot in running], num_returns=len(running),
                     timeout=STOP_SECONDS)
        for slot in slots:
            with contextlib.suppress(Exception):
                ray.kill(slot.actor)
        plan.abandon([slot.task for slot in running])
