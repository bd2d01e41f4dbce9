"""``run_batch``: a list of ``BatchJob``s in, one manifest row per input out.

Before anything runs, each job is checked: an input of an unknown type, one whose output is
itself or another job's output, or one with an error already attached fails at once; one
whose output exists is skipped unless ``overwrite`` (so a re-run resumes). The rest are
planned (``plan.Plan``) and run on a local process pool or on Ray, with one progress bar
over all their frames.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from livebokeh.app.batch.jobs import MEDIA_SUFFIXES, BatchJob
from livebokeh.app.batch.manifest import FAILED, SKIPPED, BatchRow, Manifest
from livebokeh.app.batch.plan import Plan
from livebokeh.app.batch.worker import machine_cores
from livebokeh.errors import LivebokehError


def _early_row(job: BatchJob, outputs: dict[Path, BatchJob], overwrite: bool) -> BatchRow | None:
    """The row of a job that does not run (failed or skipped), else None."""
    def failed(error: str) -> BatchRow:
        return BatchRow(str(job.input), str(job.output), FAILED, error)

    if job.error is not None:
        return failed(job.error)
    if job.kind is None:
        known = " ".join(sorted(MEDIA_SUFFIXES))
        return failed(f"unsupported input type '{job.input.suffix}' (known: {known})")
    if not job.input.is_file():
        return failed(f"input not found: {job.input}")
    target = job.output.resolve()
    if target == job.input.resolve():
        return failed(f"output would overwrite the input: {job.output}")
    if target in outputs:
        return failed(f"same output as {outputs[target].input}: {job.output}")
    outputs[target] = job
    if job.output.exists() and not overwrite:
        return BatchRow(str(job.input), str(job.output), SKIPPED)
    return None


def _runner(ray: str | bool | None, workers: int | None, threads: int | None):
    if ray:
        from livebokeh.app.batch.ray_runner import RayRunner

        return RayRunner(None if ray is True else ray, workers, threads or 1)
    from livebokeh.app.batch.pool import ProcessPool

    cores = machine_cores()
    workers = workers or cores
    if threads is not None and workers * threads > cores:
        raise LivebokehError(f"--workers {workers} x --threads {threads} is more than the "
                             f"{cores} cores here")
    return ProcessPool(workers, threads)


def run_batch(jobs: Iterable[BatchJob], manifest: Path | None = None, *,
              workers: int | None = None, threads: int | None = None, overwrite: bool = False,
              segment_seconds: float | None = None, ray: str | bool | None = None,
              progress: bool | None = None,
              on_row: Callable[[BatchRow], None] | None = None) -> list[dict]:
    """Process every job; return the manifest rows (dicts, in the order they were written).

    ``manifest``: a JSONL file the rows are appended to as inputs end (None: not written).
    ``workers``: local processes (default: the CPU count) or Ray actors (default: the
    cluster's CPUs / ``threads``). ``threads``: cores per worker (default: cores / workers
    locally, 1 on Ray). ``segment_seconds``: split videos longer than 1.5x this into
    segments of about this length; None: split long videos when workers would idle; 0:
    never. ``ray``: None for the local pool; True or ``"local"`` to start a local Ray;
    ``"auto"`` or an address to join a cluster (``pip install "livebokeh[ray]"``).
    ``progress``: show one bar over all frames (default: when stderr is a terminal).
    ``on_row(row)`` is called after each row is written.
    """
    jobs = list(jobs)
    book = Manifest(manifest)

    def record(row: BatchRow) -> None:
        book.add(row)
        if on_row is not None:
            on_row(row)

    outputs: dict[Path, BatchJob] = {}
    runnable = []
    for job in jobs:
        row = _early_row(job, outputs, overwrite)
        if row is None:
            runnable.append(job)
        else:
            record(row)
    if runnable:
        with _runner(ray, workers, threads) as runner:
            plan = Plan(runnable, runner.workers, segment_seconds)
            show = sys.stderr.isatty() if progress is None else progress
            with tqdm(total=plan.total_frames, unit="frame", desc="batch", disable=not show,
                      dynamic_ncols=True) as bar:
                def frames_done(count: int) -> None:
                    if bar.total != plan.total_frames:
                        bar.total = plan.total_frames
                    bar.update(count)

                runner.run(plan, frames_done, record)
    return [row.as_dict() for row in book.rows]
