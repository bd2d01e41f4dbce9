"""The batch manifest ``OUTDIR/livebokeh-batch.jsonl``: one JSON line per input as it ends.

Lines are only ever appended, each with one ``write`` on a file opened for appending and
flushed to disk before the next input is reported, so a crash or Ctrl-C leaves every line
written so far intact and a re-run adds to it. Fields: ``input``, ``output``, ``status``
(``ok``, ``failed``, ``skipped``), ``error`` (one line or null), ``frames`` (frames written),
``seconds`` (worker time spent on the input, all its segments included) and ``worker``
(``HOST:PID``, comma-separated where segments ran on several).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from livebokeh.errors import LivebokehError

MANIFEST_NAME = "livebokeh-batch.jsonl"
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass
class BatchRow:
    """One manifest line: what became of one input."""

    input: str
    output: str
    status: str
    error: str | None = None
    frames: int = 0
    seconds: float = 0.0
    worker: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def write_error(path: Path, exc: OSError) -> LivebokehError:
    """A write failure (disk full, file too large, read-only, I/O error) as one line.

    Kept small and separate so that it can become the one shared write-error helper of
    ``io.atomic`` (issue 13) without touching the callers.
    """
    cause = exc.strerror or str(exc)
    return LivebokehError(f"cannot write {path}: {cause}")


def append_line(path: Path, text: str) -> None:
    """Append ``text`` and a newline to ``path`` in one write, then flush it to disk.

    If the file does not end in a newline (a line cut short by a crash), one goes first, so
    the new line is never glued to the broken one. OSError becomes a one-line LivebokehError.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            prefix = b""
            if size:
                with open(path, "rb") as existing:
                    existing.seek(size - 1)
                    prefix = b"" if existing.read(1) == b"\n" else b"\n"
            os.write(fd, prefix + text.encode("utf-8") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from None


class Manifest:
    """Appends ``BatchRow``s to a JSONL file (or only keeps them, with no path)."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path is not None else None
        self.rows: list[BatchRow] = []

    def add(self, row: BatchRow) -> None:
        if self.path is not None:
            append_line(self.path, json.dumps(row.as_dict(), ensure_ascii=False))
        self.rows.append(row)

