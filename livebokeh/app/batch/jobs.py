"""What a batch is made of: ``BatchJob`` (one input, its output and settings) and the inputs.

Inputs are files, folders (the photos and videos directly inside, hidden files left out),
glob patterns (for shells that do not expand them) and list files (one path a line, ``#``
comments). Each input's output is ``OUTDIR/<input file name>``: same name, same format.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from livebokeh.errors import LivebokehError
from livebokeh.io.images import READ_EXTENSIONS
from livebokeh.io.video import CONTAINERS
from livebokeh.settings import BokehSettings

PHOTO, VIDEO = "photo", "video"
MEDIA_SUFFIXES = {**dict.fromkeys(READ_EXTENSIONS, PHOTO), **dict.fromkeys(CONTAINERS, VIDEO)}


def media_kind(path: Path) -> str | None:
    """``"photo"`` or ``"video"`` by extension; None for anything else."""
    return MEDIA_SUFFIXES.get(Path(path).suffix.lower())


@dataclass
class BatchJob:
    """One input of a batch: where it is, where its output goes and how to blur it.

    ``mask``, ``matte`` and ``depth_map`` are still images applied to every frame, read by
    the worker (paths travel, not pixels). ``crf`` applies to videos and ``quality`` to
    photos. ``error``: a job known to fail before it starts (its sidecar is invalid, say);
    it is recorded as failed and not run.
    """

    input: Path
    output: Path
    settings: BokehSettings = field(default_factory=BokehSettings)
    mask: Path | None = None
    matte: Path | None = None
    depth_map: Path | None = None
    depth_kind: str = "inverse"
    crf: int = 18
    quality: int = 92
    error: str | None = None

    def __post_init__(self) -> None:
        self.input, self.output = Path(self.input), Path(self.output)

    @property
    def kind(self) -> str | None:
        return media_kind(self.input)


def output_for(source: Path, out_dir: Path) -> Path:
    """``OUTDIR/<input file name>``: the same name and format as the input."""
    return Path(out_dir) / Path(source).name


def _glob(pattern: str) -> list[Path]:
    return [Path(p) for p in sorted(glob.glob(pattern))] if glob.has_magic(pattern) else []


def _folder(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir()
                  if p.is_file() and not p.name.startswith(".") and media_kind(p) is not None)


def read_list(path: Path) -> list[str]:
    """The paths in a list file: one a line; blank lines and ``#`` comments are skipped.

    Relative paths are relative to the current folder, as typed on the command line.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LivebokehError(f"cannot read the input list {path}: {exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def collect_inputs(arguments: list[str | Path], from_list: Path | None = None) -> list[Path]:
    """Every input named by files, folders, globs and a list file, in order, once each.

    A named file is taken as it is (of an unknown type, the batch reports it as failed);
    folders and globs give their photos and videos only. A missing path, or a glob that
    matches nothing, is kept, so that it is reported rather than silently dropped.
    """
    names = [str(a) for a in arguments] + (read_list(from_list) if from_list else [])
    found: list[Path] = []
    for name in names:
        path = Path(name).expanduser()
        if path.is_dir():
            found.extend(_folder(path))
        elif not path.exists() and _glob(str(path)):
            found.extend(p for p in _glob(str(path)) if p.is_file() and media_kind(p))
        else:
            found.append(path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())
