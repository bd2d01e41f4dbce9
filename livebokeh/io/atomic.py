"""Outputs appear whole or not at all: write to a temp file beside the target, then rename.

An existing file at the target is replaced only by ``os.replace`` once the new content is
complete and flushed to the disk (``fsync``), so Ctrl-C, a crash, a full disk or a failing
disk never leaves it half-overwritten. A write that fails (no space, file too large, I/O
error, read-only or forbidden folder) becomes one line naming the output and the cause
(``write_error``, ``writing``); the temp file is removed. A replaced file keeps its
permissions, and an output named through a symlink replaces the link's target.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from livebokeh.errors import LivebokehError, write_error, writing

__all__ = ["atomic_output", "atomic_outputs", "check_input_file", "check_output_path",
           "check_outputs", "write_error", "write_files_atomic", "writing"]

_UMASK = os.umask(0)  # read once at import (os.umask can only be read by setting it) ...
os.umask(_UMASK)  # ... so outputs get the usual 0666 & ~umask, not mkstemp's private 0600


def check_input_file(path: Path, kind: str) -> None:
    """Fail with one line if ``path`` is missing, a folder or empty (``kind``: "an image")."""
    if not path.exists():
        raise LivebokehError(f"input not found: {path}")
    if path.is_dir():
        raise LivebokehError(f"input is a folder, not {kind}: {path}")
    if path.stat().st_size == 0:
        raise LivebokehError(f"input is empty (0 bytes): {path}")


def check_output_path(output: Path, *inputs: Path) -> None:
    """Fail early (one-line error) if ``output`` cannot be written or would clobber an input."""
    if not output.parent.is_dir():
        raise LivebokehError(f"output folder does not exist: {output.parent}")
    if output.is_dir():
        raise LivebokehError(f"output is a folder, not a file: {output}")
    for source in inputs:
        if source is not None and source.exists() and output.exists() and output.samefile(source):
            raise LivebokehError(f"output would overwrite the input: {output}")


def _fsync(path: Path, folder: bool = False) -> None:
    """Flush ``path`` to the disk: a failing or full disk reports it here, before the rename."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if folder else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(target: Path) -> Path:
    with writing(target):
        fd, name = tempfile.mkstemp(prefix=f".{target.stem}.",
                                    suffix=f".partial{target.suffix}", dir=target.parent)
        os.close(fd)
        Path(name).chmod(0o666 & ~_UMASK)
    return Path(name)


def _final(target: Path) -> Path:
    """The file an output path names: a symlink's target is replaced, the link is kept."""
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def _keep_mode(target: Path, tmp: Path) -> None:
    """A file written over an existing one keeps its permissions (a private file stays
    private); set just before the rename, as a read-only mode would stop the writer."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


def _owner(exc: OSError, pairs: list[tuple[Path, Path]]) -> Path | None:
    """The target whose temp file an OS error is about; None if it names another file.

    An error with no file named (a write to an open file) belongs to the only target, or to
    the first of several: writers of several files name the right one with ``writing``.
    """
    named = getattr(exc, "filename", None)
    if named is None:
        return pairs[0][0] if pairs else None
    return next((target for target, tmp in pairs if os.fspath(named) == str(tmp)), None)


@contextlib.contextmanager
def atomic_outputs(*targets: Path | None) -> Iterator[list[Path | None]]:
    """Temp paths beside several outputs that appear together or not at all (None: no output).

    The temps are renamed over their targets only once every one is written and flushed to
    the disk; on any exception, KeyboardInterrupt included, every temp is removed and every
    target is left exactly as it was. An OS error about a temp becomes ``write_error`` naming
    its target; one that names another file (an input) passes through unchanged.
    """
    pairs: list[tuple[Path, Path]] = []
    try:
        for target in targets:
            if target is not None:
                target = _final(Path(target))
                pairs.append((target, _temp_beside(target)))
        temps = iter(tmp for _, tmp in pairs)
        yield [None if target is None else next(temps) for target in targets]
        for target, tmp in pairs:
            with writing(target):
                _fsync(tmp)
        for target, tmp in pairs:
            with writing(target):
                _keep_mode(target, tmp)
                os.replace(tmp, target)
    except BaseException as exc:
        for _, tmp in pairs:
            with contextlib.suppress(OSError):
                tmp.unlink()
        owner = _owner(exc, pairs) if isinstance(exc, OSError) and exc.errno else None
        if owner is None:
            raise
        raise write_error(owner, exc) from None
    for folder in {target.parent for target, _ in pairs}:
        with contextlib.suppress(OSError):  # the renames themselves on the disk: best effort
            _fsync(folder, folder=True)


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target`` (same extension); rename it over ``target`` on success.

    One output of ``atomic_outputs``: whole or not at all, write errors in one line.
    """
    with atomic_outputs(target) as (tmp,):
        yield tmp


def write_files_atomic(contents: dict[Path, bytes]) -> None:
    """Write each file's bytes; all appear together, or none does and old files stay as they
    were (e.g. a photo with its matte, a JSON summary or manifest)."""
    targets = list(contents)
    with atomic_outputs(*targets) as temps:
        for target, tmp in zip(targets, temps, strict=True):
            with writing(target):
                tmp.write_bytes(contents[target])


def check_outputs(outputs: list, inputs: list) -> None:
    """Every output writable, none overwriting an input or another output (one-line errors)."""
    outputs = [Path(out) for out in outputs if out is not None]
    inputs = [Path(source) for source in inputs if source is not None]
    for index, out in enumerate(outputs):
        check_output_path(out, *inputs)
        if any(out.resolve() == earlier.resolve() for earlier in outputs[:index]):
            raise LivebokehError(f"the same file is named for two outputs: {out}")
