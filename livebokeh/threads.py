"""How many CPU cores a job may use, and running pipeline stages ahead on threads.

A frame goes through stages that each use one core most of the time: decoding, the
segmentation model, matte and render, encoding. Run one after another they leave the other
cores idle; ``ahead`` runs a stage on its own thread, a bounded number of items ahead of its
consumer, so consecutive frames overlap (frame i+1 is segmented while frame i is rendered).
Items stay in order, at most ``depth`` wait between two stages (memory stays flat) and an
error in a stage is raised where its consumer takes the item.

``threads`` is the knob that keeps several jobs on one machine from oversubscribing it: the
number of cores this job may keep busy. 1 runs every stage on the caller's thread with
single-threaded OpenCV (for N parallel workers on N cores); the default is every core this
process may run on. OpenCV's thread count is process-wide, so a process should run jobs
with one ``threads`` value at a time.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import cv2

_END = object()  # a stage has no more items


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """The ``threads`` knob as a core count: None → every available core; at least 1."""
    if threads is None:
        return available_cores()
    if int(threads) < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    return int(threads)


def opencv_threads(cores: int) -> int:
    """OpenCV's thread count for a job on ``cores`` cores whose stages overlap.

    OpenCV spreads single calls (resize, blur) over its own pool. When the stages already
    keep about two cores busy, more OpenCV threads only add switching: ``livebokeh video``
    at 720p on 2 cores took 6.8 s with 1 OpenCV thread and 8.5 s with 2 (same run).
    """
    return max(1, cores - 2)


def limit_threads(threads: int | None, overlapped: bool = True) -> int:
    """Apply the ``threads`` knob to this process (OpenCV's pool); returns the core count.

    ``overlapped``: the job runs its stages on threads (video, camera); a single frame
    (a photo) lets OpenCV use every core it was given.
    """
    count = resolve_threads(threads)
    cv2.setNumThreads(opencv_threads(count) if overlapped and count > 1 else count)
    return count


class _Failure:
    """An exception raised in a stage thread, carried to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def ahead(items: Iterable, work: Callable[[Any], Any] | None = None, depth: int = 2,
          name: str = "stage") -> Iterator:
    """Iterate ``items`` and apply ``work`` on a thread, ``depth`` items ahead; yield in order.

    Without ``work`` the items themselves are yielded (read-ahead, e.g. decoding). The
    worker stops when the items end, when ``work`` raises (the error is raised here, in the
    consumer, after the items before it) or when the consumer stops early (the generator is
    closed or garbage-collected): it is then joined, so no thread outlives its consumer.
    """
    handoff: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(item if work is None else work(item)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put(_Failure(error))
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # an upstream stage stops with this one
                close()
        put(_END)

    thread = threading.Thread(target=run, name=f"livebokeh {name}", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
