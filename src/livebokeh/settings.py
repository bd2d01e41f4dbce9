"""The user's choices, validated once, shared by the CLI, the Python API and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livebokeh.errors import LivebokehError

STYLES = ("gaussian",)
SEGMENTER_MODELS = ("auto", "general", "landscape")


@dataclass
class BokehSettings:
    """How to blur. Units: strength 0..100 (blur radius = strength % of 4 % of the diagonal).

    ``refine_mask``: optional HxW uint8 brush mask (255 keep sharp, 0 blur, 128 automatic).
    ``matte``: optional HxW uint8/float matte (255 or 1.0 = subject) replacing segmentation.
    ``temporal``: smooth the matte over time (video and camera; ignored for single images).
    """

    style: str = "gaussian"
    strength: float = 30.0
    segmenter_model: str = "auto"
    temporal: bool = True
    refine_mask: np.ndarray | None = field(default=None, repr=False)
    matte: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.style not in STYLES:
            raise LivebokehError(f"unknown style '{self.style}' (choose from {', '.join(STYLES)})")
        if not 0 <= float(self.strength) <= 100:
            raise LivebokehError(f"strength must be between 0 and 100, got {self.strength}")
        if self.segmenter_model not in SEGMENTER_MODELS:
            raise LivebokehError(
                f"unknown segmenter model '{self.segmenter_model}' "
                f"(choose from {', '.join(SEGMENTER_MODELS)})"
            )
