"""The user's choices, validated once, shared by the CLI, the Python API and the pipeline.

``BokehSettings`` is the small typed object every stage reads; the parsers of its text
options (``--focus``, ``--grain``, ``--background``) live here too, so that validating
settings never reaches up into the stages that use them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livebokeh.errors import LivebokehError

STYLES = ("gaussian", "lens", "motion", "radial")
SEGMENTER_MODELS = ("auto", "general", "landscape")
PEOPLE = ("all", "main")
BLUR, TRANSPARENT, REPLACE = "blur", "transparent", "replace"
COLOUR_PATTERN = re.compile(r"#?([0-9a-fA-F]{6})")


def _check_finite(name: str, value) -> None:
    if not math.isfinite(float(value)):
        raise LivebokehError(f"{name} must be a finite number, got {value}")


def _check_range(name: str, value, low: float, high: float) -> None:
    if value is not None and not low <= float(value) <= high:
        raise LivebokehError(f"{name} must be between {low:g} and {high:g}, got {value}")


@dataclass
class BokehSettings:
    """How to blur. Units: strength 0..100 (blur radius = strength % of 4 % of the diagonal).

    ``refine_mask``: optional HxW uint8 brush mask (255 keep sharp, 0 blur, 128 automatic).
    ``matte``: optional HxW uint8/float matte (255 or 1.0 = subject) replacing segmentation.
    ``temporal``: smooth the matte over time (video and camera; ignored for single images).
    ``people``: "all" keeps everyone sharp; "main" keeps one person (the largest and most
    central when first seen, then tracked) and blurs bystanders; ``subject`` (x, y in 0..1)
    names that person by a point on them instead.
    ``angle`` (degrees, 0 = horizontal, counter-clockwise) and ``length`` (pixels; None:
    from strength) shape the motion style; ``center`` (x, y in 0..1) and ``amount`` (0..100;
    None: strength) the radial style. ``grain``: "auto", "off" or 0..100.
    Lens style: ``blades`` 0 (disc) or 5..9, ``blade_rotation`` degrees, ``focus``
    ("auto", "face", "X,Y" or "depth:D"), ``near_blur``; depth from ``depth_model`` (path,
    None: resolver) or a given ``depth_map`` (HxW float32 normalised inverse depth).
    ``background``: "blur", "transparent", "#RRGGBB" or an image path (livebokeh.background).
    ``backend``: "auto", "cpu" or "cuda" (livebokeh.render.backend).
    """

    style: str = "gaussian"
    strength: float = 30.0
    segmenter_model: str = "auto"
    people: str = "all"
    subject: tuple[float, float] | None = None
    temporal: bool = True
    refine_mask: np.ndarray | None = field(default=None, repr=False)
    matte: np.ndarray | None = field(default=None, repr=False)
    angle: float = 0.0
    length: float | None = None
    center: tuple[float, float] = (0.5, 0.5)
    amount: float | None = None
    grain: str | float = "auto"
    blades: int = 0
    blade_rotation: float = 0.0
    focus: str = "auto"
    near_blur: bool = True
    depth_model: str | None = None
    depth_map: np.ndarray | None = field(default=None, repr=False)
    depth_every: int = 3
    background: str = "blur"
    backend: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.style not in STYLES:
            raise LivebokehError(f"unknown style '{self.style}' (choose from {', '.join(STYLES)})")
        _check_range("strength", self.strength, 0, 100)
        _check_range("amount", self.amount, 0, 100)
        _check_range("length", self.length, 0, 10000)
        _check_finite("angle", self.angle)
        _check_finite("blade-rotation", self.blade_rotation)
        if self.segmenter_model not in SEGMENTER_MODELS:
            raise LivebokehError(
                f"unknown segmenter model '{self.segmenter_model}' "
                f"(choose from {', '.join(SEGMENTER_MODELS)})"
            )
        if self.people not in PEOPLE:
            raise LivebokehError(f"unknown people mode '{self.people}' (choose all or main)")
        if self.subject is not None and (len(self.subject) != 2 or
                                         not all(0 <= float(c) <= 1 for c in self.subject)):
            raise LivebokehError(f"subject must be X,Y with both in 0..1, got {self.subject}")
        if self.blades != 0 and not 5 <= self.blades <= 9:
            raise LivebokehError(f"blades must be 0 (round) or 5..9, got {self.blades}")
        if len(self.center) != 2 or not all(0 <= float(c) <= 1 for c in self.center):
            raise LivebokehError(f"center must be X,Y with both in 0..1, got {self.center}")
        if int(self.depth_every) < 1:
            raise LivebokehError(f"depth-every must be at least 1, got {self.depth_every}")
        self.grain = parse_grain(self.grain)
        self.background = canonical_background(self.background)
        parse_focus(self.focus)
        if self.backend not in ("auto", "cpu", "cuda"):
            raise LivebokehError(f"unknown backend '{self.backend}' (choose auto, cpu or cuda)")


@dataclass(frozen=True)
class FocusSpec:
    """A parsed ``--focus``: mode "auto", "face", "point" or "depth", with its value."""

    mode: str
    point: tuple[float, float] | None = None
    depth: float | None = None


def parse_focus(text: str) -> FocusSpec:
    """Parse ``auto``, ``face``, ``X,Y`` (0..1) or ``depth:D`` (0..1); one-line error else."""
    value = str(text).strip().lower()
    if value in ("auto", "face"):
        return FocusSpec(value)
    try:
        if value.startswith("depth:"):
            depth = float(value.split(":", 1)[1])
            if 0 <= depth <= 1:
                return FocusSpec("depth", depth=depth)
        else:
            x, y = (float(v) for v in value.split(","))
            if 0 <= x <= 1 and 0 <= y <= 1:
                return FocusSpec("point", point=(x, y))
    except ValueError:
        pass
    raise LivebokehError(f"focus must be auto, face, X,Y (0..1) or depth:D (0..1), got '{text}'")


def parse_grain(value: str | float) -> str | float:
    """``--grain`` value: ``"auto"``, ``"off"`` or a number 0..100; LivebokehError otherwise."""
    text = str(value).strip().lower()
    if text in ("auto", "off"):
        return text
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not 0.0 <= number <= 100.0:  # also rejects nan
        raise LivebokehError(f"grain must be 'auto', 'off' or a number 0..100, got '{value}'")
    return number


@dataclass(frozen=True)
class BackgroundSpec:
    """A parsed ``--background``: ``mode`` is blur, transparent or replace.

    For replace exactly one of ``colour`` (RGB 0..255) or ``path`` (an image file) is set.
    """

    mode: str
    colour: tuple[int, int, int] | None = None
    path: Path | None = None


def parse_background(value: str | None) -> BackgroundSpec:
    """``blur`` | ``transparent`` | ``#RRGGBB`` | image path → ``BackgroundSpec``.

    An image path must exist (checked now, read later at frame size).
    """
    text = (value or BLUR).strip()
    if text.lower() in (BLUR, TRANSPARENT):
        return BackgroundSpec(text.lower())
    if text.startswith("#"):
        match = COLOUR_PATTERN.fullmatch(text)
        if match is None:
            raise LivebokehError(f"background colour must be #RRGGBB, got '{text}'")
        hex_digits = match.group(1)
        colour = tuple(int(hex_digits[i:i + 2], 16) for i in (0, 2, 4))
        return BackgroundSpec(REPLACE, colour=colour)
    path = Path(text).expanduser()
    if not path.is_file():
        raise LivebokehError(f"background must be blur, transparent, #RRGGBB or an image file; "
                             f"not found: {text}")
    return BackgroundSpec(REPLACE, path=path)


def background_path(value: str | None) -> Path | None:
    """The image file a ``--background`` value names (an input of the job), else None."""
    return parse_background(value).path


def canonical_background(value: str | None) -> str:
    """A validated ``--background`` value: ``blur``/``transparent`` lower-cased, else as given."""
    spec = parse_background(value)
    return spec.mode if spec.mode != REPLACE else str(value).strip()
