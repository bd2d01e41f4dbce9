"""The batch's work list: which tasks run, in what order, and what each input's row says.

Photos and short videos are one task each. A long video becomes one task per segment
(``segments.plan_segments``) and a join task that runs once every segment is done; if a
segment fails (a damaged stretch, say), its siblings are dropped and the video runs again
as a single pass, which keeps every frame that can be decoded. Tasks are handed out
longest first, so the last ones to finish are short. The runners (``pool``, ``ray_runner``)
only move tasks to workers and results back; everything else is decided here.
"""

from __future__ import annotations

import contextlib
import glob
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import av

from livebokeh.app.batch.jobs import PHOTO, BatchJob
from livebokeh.app.batch.manifest import FAILED, OK, BatchRow
from livebokeh.app.batch.segments import Segment, index_video, plan_segments

# Auto split: pieces of at most 1/PIECES_PER_WORKER of a worker's share, so that, handed out
# longest first, the last ones to finish are short; never shorter than
# AUTO_MIN_SEGMENT_SECONDS, whose warm-up and seek cost (about 40 frames' worth per segment,
# measured: README "Batch") stays under 3 % of it.
PIECES_PER_WORKER = 4
AUTO_MIN_SEGMENT_SECONDS = 60.0
WHOLE, SEGMENT, JOIN = "whole", "segment", "join"


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker: a whole input, a segment of a video, or a join.

    ``frames``: output frames it writes (for the progress bar). ``part``: the file a
    segment writes; ``parts``: the files a join reads. ``attempt``: 2 after a worker died.
    """

    job_id: int
    kind: str
    job: BatchJob
    frames: int
    segment: Segment | None = None
    part: Path | None = None
    parts: tuple[Path, ...] = ()
    attempt: int = 1

    @property
    def target(self) -> Path:
        """The file this task writes."""
        return self.part if self.kind == SEGMENT else self.job.output

    def absolute(self) -> Task:
        """This task with absolute paths, for a worker in another folder or on another node."""
        def full(path: Path | None) -> Path | None:
            return None if path is None else Path(path).absolute()

        job = replace(self.job, input=full(self.job.input), output=full(self.job.output),
                      mask=full(self.job.mask), matte=full(self.job.matte),
                      depth_map=full(self.job.depth_map))
        return replace(self, job=job, part=full(self.part),
                       parts=tuple(full(part) for part in self.parts))


@dataclass
class TaskResult:
    """What a worker reports for a task: ``error`` None when it succeeded."""

    error: str | None
    frames: int
    seconds: float
    worker: str


@dataclass
class _JobState:
    job: BatchJob
    parts_dir: Path | None = None
    results: list[TaskResult] = field(default_factory=list)
    outstanding: int = 0
    split_failed: bool = False


def video_frames(path: Path) -> tuple[int, float]:
    """(frame count, duration in seconds) from the header; (0, 0.0) if unreadable."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            seconds = float(stream.duration * stream.time_base) if stream.duration else (
                container.duration / av.time_base if container.duration else 0.0)
            rate = float(stream.average_rate or stream.guessed_rate or 30)
            return int(stream.frames or round(seconds * rate)), seconds
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return 0, 0.0


def remove_partials(target: Path) -> None:
    """Delete temp files ``io.atomic.atomic_output`` left for ``target`` (a killed worker)."""
    pattern = f".{glob.escape(target.stem)}.*.partial{glob.escape(target.suffix)}"
    for leftover in target.parent.glob(pattern):
        with contextlib.suppress(OSError):
            leftover.unlink()


def parts_folder(output: Path) -> Path:
    """Where the segments of ``output`` are kept until joined: a hidden folder beside it."""
    return output.parent / f".{output.name}.livebokeh-parts"


class Plan:
    """The tasks of a batch of runnable jobs, handed out longest first, and their rows.

    ``workers``: how many run at once (auto split aims at ``PIECES_PER_WORKER`` each).
    ``segment_seconds``: split every video longer than 1.5x this; None: split on judgement
    (only with more than one worker); 0: never.
    """

    def __init__(self, jobs: list[BatchJob], workers: int, segment_seconds: float | None):
        self.jobs = {job_id: _JobState(job) for job_id, job in enumerate(jobs)}
        self.queue: list[Task] = []
        self.total_frames = 0  # frames the tasks handed out so far and still queued write
        lengths = {job_id: (1, 0.0) if job.kind == PHOTO else video_frames(job.input)
                   for job_id, job in enumerate(jobs)}
        total = sum(frames for frames, _ in lengths.values())
        for job_id, (frames, seconds) in lengths.items():
            split = self._split_seconds(frames, seconds, total, workers, segment_seconds)
            self._add(job_id, frames, split)
        self._sort()

    @staticmethod
    def _split_seconds(frames: int, seconds: float, total: int, workers: int,
                       segment_seconds: float | None) -> float | None:
        if segment_seconds is not None:
            return segment_seconds if segment_seconds and seconds > 1.5 * segment_seconds \
                else None
        target = total / (workers * PIECES_PER_WORKER)
        if workers < 2 or frames <= 1.5 * target or seconds < 2 * AUTO_MIN_SEGMENT_SECONDS:
            return None
        return max(AUTO_MIN_SEGMENT_SECONDS, seconds * target / frames)

    def _add(self, job_id: int, frames: int, split: float | None) -> None:
        state = self.jobs[job_id]
        job = state.job
        segments = self._segments(job, split) if split else []
        if len(segments) < 2:
            self._push(Task(job_id, WHOLE, job, frames))
            return
        parts_dir = parts_folder(job.output)
        shutil.rmtree(parts_dir, ignore_errors=True)  # left by a killed run
        try:
            parts_dir.mkdir()
        except OSError:  # no output folder, say: the single pass reports it in one line
            self._push(Task(job_id, WHOLE, job, frames))
            return
        state.parts_dir = parts_dir
        for segment in segments:
            part = parts_dir / f"part-{segment.index:04d}{job.output.suffix}"
            self._push(Task(job_id, SEGMENT, job, segment.frames, segment, part))

    @staticmethod
    def _segments(job: BatchJob, seconds: float) -> list[Segment]:
        if job.settings.background == "transparent":  # alpha VP9 does not survive a remux
            return []
        index = index_video(job.input)
        return plan_segments(index, seconds) if index is not None else []

    def _push(self, task: Task) -> None:
        self.queue.append(task)
        self.jobs[task.job_id].outstanding += 1
        self.total_frames += task.frames

    def _sort(self) -> None:
        self.queue.sort(key=lambda task: (task.kind != JOIN, -task.frames))

    def next_task(self) -> Task | None:
        """The next task to run (joins first, then the longest), or None for now."""
        return self.queue.pop(0) if self.queue else None

    @property
    def finished(self) -> bool:
        return all(state.outstanding == 0 for state in self.jobs.values())

    def worker_died(self, task: Task, cause: str) -> BatchRow | None:
        """A worker died running ``task``: run it once more, then count it as failed."""
        remove_partials(task.target)
        if task.attempt == 1:
            self.queue.insert(0, replace(task, attempt=2))
            return None
        return self.finish(task, TaskResult(f"worker died twice ({cause})", 0, 0.0, ""))

    def finish(self, task: Task, result: TaskResult) -> BatchRow | None:
        """Record a task's result; the input's row once the input is done, else None."""
        state = self.jobs[task.job_id]
        state.outstanding -= 1
        state.results.append(result)
        if task.kind == WHOLE:
            return self._row(state, result.error, result.frames)
        if task.kind == JOIN:
            self._drop_parts(state)
            return self._row(state, result.error, result.frames)
        if result.error is not None and not state.split_failed:
            state.split_failed = True
            dropped = [t for t in self.queue if t.job_id == task.job_id]
            self.queue = [t for t in self.queue if t.job_id != task.job_id]
            state.outstanding -= len(dropped)
            self.total_frames -= sum(t.frames for t in dropped)
        if state.outstanding == 0:
            self._after_segments(task.job_id, state)
        return None

    def _after_segments(self, job_id: int, state: _JobState) -> None:
        """All segments are done: join them, or run the video again in one pass."""
        if state.split_failed:
            self._drop_parts(state)
            self._push(Task(job_id, WHOLE, state.job, video_frames(state.job.input)[0]))
        else:
            parts = tuple(sorted(state.parts_dir.glob(f"part-*{state.job.output.suffix}")))
            self._push(Task(job_id, JOIN, state.job, 0, parts=parts))
        self._sort()

    def _drop_parts(self, state: _JobState) -> None:
        if state.parts_dir is not None:
            shutil.rmtree(state.parts_dir, ignore_errors=True)

    def abandon(self, running: list[Task]) -> None:
        """After an interrupt: no temp file, no parts folder left behind."""
        for task in running:
            remove_partials(task.target)
        for state in self.jobs.values():
            self._drop_parts(state)

    def _row(self, state: _JobState, error: str | None, frames: int) -> BatchRow:
        workers = ",".join(dict.fromkeys(r.worker for r in state.results if r.worker))
        return BatchRow(str(state.job.input), str(state.job.output), FAILED if error else OK,
                        error, 0 if error else frames,
                        round(sum(r.seconds for r in state.results), 3), workers or None)
