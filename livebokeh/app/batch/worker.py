"""The batch worker: runs tasks in a pool process or a Ray actor, one at a time.

A worker lives for the whole batch, so MediaPipe's runtime loads once per worker: the
first ``BokehProcessor`` of a process takes about 1 s to its first frame, later ones 15-20 ms
(measured at 640x360 on this 2-core machine). Each input still gets a fresh processor, the
same as ``livebokeh photo``/``video`` make, so its output does not depend on what the worker
did before (the grain's random state carries over from photo to photo in one processor) and
equals theirs exactly; reusing one would save 8-35 ms of a 160 ms 1280x960 photo. Every task
ends as a ``TaskResult``: a failing input is an error string, never an exception that would
stop the worker. Only KeyboardInterrupt ends a task early, after ``io.atomic`` has removed
its temp file.

Threads: a worker is given ``threads`` cores. OpenCV's pool, the decoder and the encoder
are held to it, so ``workers x threads`` never exceeds the machine's cores.
"""

from __future__ import annotations

import copy
import os
import socket
import time

import cv2
import numpy as np

from livebokeh.app.batch.jobs import PHOTO
from livebokeh.app.batch.plan import JOIN, SEGMENT, Task, TaskResult
from livebokeh.app.batch.segments import encode_segment, join_segments
from livebokeh.app.photo import process_photo
from livebokeh.app.video import process_video
from livebokeh.errors import LivebokehError
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the CPU count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Cores for each of ``workers`` so that together they use the machine once: at least 1."""
    return max(1, (cores or machine_cores()) // max(1, workers))


def one_line(exc: BaseException) -> str:
    """An exception as one line: a LivebokehError's message, else its type and message."""
    text = str(exc) if isinstance(exc, LivebokehError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


class Worker:
    """Runs tasks, one at a time, on ``threads`` cores; warmed up once when it starts."""

    def __init__(self, threads: int):
        self.threads = threads
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        cv2.setNumThreads(threads)
        self._warm_up()

    @staticmethod
    def _warm_up() -> None:
        """Load MediaPipe's runtime and the selfie models now, once, not in the first task."""
        frame = np.zeros((144, 256, 3), np.uint8)
        for video in (True, False):
            with BokehProcessor(BokehSettings(backend="cpu"), video=video) as processor:
                processor.process(frame, 0)

    def run(self, task: Task, progress=None) -> TaskResult:
        """Run ``task``; its outcome (never an exception but KeyboardInterrupt) as a result.

        ``progress.update(n)`` is called as frames are written.
        """
        started = time.perf_counter()
        try:
            frames = self._execute(task, progress)
            error = None
        except Exception as exc:  # one bad input must not stop the batch
            frames, error = 0, one_line(exc)
        return TaskResult(error, frames, time.perf_counter() - started, self.name)

    def _execute(self, task: Task, progress) -> int:
        job = task.job
        if task.kind == JOIN:
            return join_segments(job.input, list(task.parts), job.output)
        settings = copy.deepcopy(job.settings)  # still inputs are loaded into it
        stills = dict(mask_path=job.mask, matte_path=job.matte, depth_map_path=job.depth_map,
                      depth_kind=job.depth_kind)
        if task.kind == SEGMENT:
            return encode_segment(job.input, task.part, settings, task.segment, job.crf,
                                  self.threads, progress, **stills)
        if job.kind == PHOTO:
            process_photo(job.input, job.output, settings, quality=job.quality, **stills)
            if progress is not None:
                progress.update(1)
            return 1
        counter = _Counter(progress)
        process_video(job.input, job.output, settings, crf=job.crf, threads=self.threads,
                      progress=counter, **stills)
        return counter.frames


class _Counter:
    """Counts the frames a video job writes and passes them on to the batch's progress."""

    def __init__(self, progress):
        self.progress = progress
        self.frames = 0

    def update(self, frames: int) -> None:
        self.frames += frames
        if self.progress is not None:
            self.progress.update(frames)
