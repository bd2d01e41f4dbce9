"""Outputs appear whole or not at all: write to a temp file beside the target, then rename.

An existing file at the target is replaced only by ``os.replace`` once the new content is
complete, so Ctrl-C, a crash or a full disk never leaves it half-overwritten.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from livebokeh.errors import LivebokehError

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


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target`` (same extension); rename it over ``target`` on success.

    On any exception, KeyboardInterrupt included, the temp file is removed and ``target`` is
    left exactly as it was.
    """
    target = Path(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.chmod(0o666 & ~_UMASK)
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def check_outputs(outputs: list, inputs: list) -> None:
    """Every output writable, none overwriting an input or another output (one-line errors)."""
    outputs = [Path(out) for out in outputs if out is not None]
    inputs = [Path(source) for source in inputs if source is not None]
    for index, out in enumerate(outputs):
        check_output_path(out, *inputs)
        if any(out.resolve() == earlier.resolve() for earlier in outputs[:index]):
            raise LivebokehError(f"the same file is named for two outputs: {out}")
