"""Batch: many photos and videos, long videos in segments, on local processes or on Ray.

``run_batch(jobs)`` takes ``BatchJob``s and returns the manifest rows; ``livebokeh batch``
is its command line. Modules: ``jobs`` (inputs and jobs), ``manifest`` (the JSONL record),
``plan`` (tasks, splitting, rows), ``segments`` (split, warm up, encode, join), ``worker``
(runs tasks), ``pool`` (local processes), ``ray_runner`` (Ray actors, optional).
"""

from livebokeh.app.batch.jobs import BatchJob, collect_inputs, output_for
from livebokeh.app.batch.manifest import MANIFEST_NAME, BatchRow
from livebokeh.app.batch.run import run_batch

__all__ = ["MANIFEST_NAME", "BatchJob", "BatchRow", "collect_inputs", "output_for", "run_batch"]
