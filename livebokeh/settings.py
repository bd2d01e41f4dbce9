"""The user's choices, validated once, shared by the CLI, the Python API and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livebokeh.errors import LivebokehError

STYLES = ("gaussian", "lens", "motion", "radial")
SEGMENTER_MODELS = ("auto", "general", "landscape")


def _check_range(name: str, value, low: float, high: float) -> None:
    if value is not None and not low <= float(value) <= high:
        raise LivebokehError(f"{name} must be between {low:g} and {high:g}, got {value}")


@dataclass
class BokehSettings:
    """How to blur. Units: strength 0..100 (blur radius = strength % of 4 % of the diagonal).

    ``refine_mask``: optional HxW uint8 brush mask (255 keep sharp, 0 blur, 128 automatic).
    ``matte``: optional HxW uint8/float matte (255 or 1.0 = subject) replacing segmentation.
    ``temporal``: smooth the matte over time (video and camera; ignored for single images).
    ``angle`` (degrees, 0 = horizontal, counter-clockwise) and ``length`` (pixels; None:
    from strength) shape the motion style; ``center`` (x, y in 0..1) and ``amount`` (0..100;
    None: strength) the radial style. ``grain``: "auto", "off" or 0..100.
    Lens style: ``blades`` 0 (disc) or 5..9, ``blade_rotation`` degrees, ``focus``
    ("auto", "face", "X,Y" or "depth:D"), ``near_blur``; depth from ``depth_model`` (path,
    None: resolver) or a given ``depth_map`` (HxW float32 normalised inverse depth).
    ``background``: "blur", "transparent", "#RRGGBB" or an image path (livebokeh.background).
    ``backend``: "auto", "cpu" or "cuda" (livebokeh.backend).
    """

    style: str = "gaussian"
    strength: float = 30.0
    segmenter_model: str = "auto"
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
        from livebokeh.background import canonical_background
        from livebokeh.focus import parse_focus
        from livebokeh.grain import parse_grain

        if self.style not in STYLES:
            raise LivebokehError(f"unknown style '{self.style}' (choose from {', '.join(STYLES)})")
        _check_range("strength", self.strength, 0, 100)
        _check_range("amount", self.amount, 0, 100)
        _check_range("length", self.length, 0, 10000)
        if self.segmenter_model not in SEGMENTER_MODELS:
            raise LivebokehError(
                f"unknown segmenter model '{self.segmenter_model}' "
                f"(choose from {', '.join(SEGMENTER_MODELS)})"
            )
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
