"""Frame regions the person model is run on: square boxes in frame pixels, and their crops.

The selfie models always see 256 pixels across. Run on the whole frame, a person a third of
the frame tall gets about 50 model rows; run on a square box around that person, the same
person gets about 220. ``Box`` describes such a box (it may reach past the frame's edges,
which are then padded) and ``crop`` resamples it to the model's input, halving the frame
first so the last bilinear step shrinks by less than 2x (no aliasing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from livebokeh.imgops import halve


@dataclass(frozen=True)
class Box:
    """A rectangle in frame pixels: ``x0 <= x < x1``, ``y0 <= y < y1`` (floats)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @classmethod
    def frame(cls, width: int, height: int) -> Box:
        return cls(0.0, 0.0, float(width), float(height))

    def union(self, other: Box) -> Box:
        return Box(min(self.x0, other.x0), min(self.y0, other.y0),
                   max(self.x1, other.x1), max(self.y1, other.y1))

    def clipped_to(self, width: int, height: int) -> Box:
        """The part of the box inside a ``width`` x ``height`` frame."""
        return Box(max(self.x0, 0.0), max(self.y0, 0.0), min(self.x1, float(width)),
                   min(self.y1, float(height)))

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Whole-pixel bounds ``(x0, y0, x1, y1)`` of the part inside a ``width`` x ``height``
        frame (empty when outside)."""
        x0, y0 = max(0, math.floor(self.x0)), max(0, math.floor(self.y0))
        x1, y1 = min(width, math.ceil(self.x1)), min(height, math.ceil(self.y1))
        return x0, y0, max(x0, x1), max(y0, y1)

    def to_grid(self, size: tuple[int, int]) -> np.ndarray:
        """2x3 affine from frame pixel coordinates to a ``size`` (w, h) grid over the box.

        Pixel centres sit at integer coordinates (OpenCV's convention) in both.
        """
        sx, sy = size[0] / self.width, size[1] / self.height
        return np.array([[sx, 0.0, 0.5 * sx - 0.5 - sx * self.x0],
                         [0.0, sy, 0.5 * sy - 0.5 - sy * self.y0]], np.float64)

    def grid_box(self, mask_box: Box, size: tuple[int, int]) -> Box:
        """``mask_box`` given in the ``size`` grid's pixels, as a box in frame pixels."""
        sx, sy = self.width / size[0], self.height / size[1]
        return Box(self.x0 + mask_box.x0 * sx, self.y0 + mask_box.y0 * sy,
                   self.x0 + mask_box.x1 * sx, self.y0 + mask_box.y1 * sy)


def crop(rgb: np.ndarray, box: Box, size: tuple[int, int],
         dst: np.ndarray | None = None) -> np.ndarray:
    """The frame inside ``box`` resampled to ``size`` (w, h); outside the frame: edge pixels.

    Replicated edges rather than black: a black band reads as a dark backdrop to the
    model and pulls confidence up along the frame edge.
    """
    levels = max(0, math.floor(math.log2(max(box.width / size[0], box.height / size[1], 1.0))))
    matrix = box.to_grid(size)
    source = rgb
    if levels:  # coordinates on the halved part: (x - x0 + 0.5) / 2^levels - 0.5
        scale = 1 << levels
        x0, y0, x1, y1 = _halving_window(box, scale, rgb.shape[1], rgb.shape[0])
        source = halve(rgb[y0:y1, x0:x1], levels)
        matrix = matrix @ np.array([[scale, 0, x0 + 0.5 * scale - 0.5],
                                    [0, scale, y0 + 0.5 * scale - 0.5], [0, 0, 1]], np.float64)
    return cv2.warpAffine(source, matrix, size, dst=dst, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _halving_window(box: Box, scale: int, width: int, height: int):
    """The frame pixels ``(x0, y0, x1, y1)`` a crop of ``box`` halved to 1/``scale`` reads.

    The box and two halved pixels around it, on the halving's own 2x2 blocks, so the halved
    window is exactly that part of the halved frame (the same pixels, edges replicated
    where the frame ends) at a fraction of the cost: a box half the frame wide halves half
    the frame. The whole frame when the box lies outside it, or when a side is not a
    multiple of ``scale`` (an odd side is halved by area weights that are not 2x2 blocks).
    """
    x0, y0, x1, y1 = box.clipped(width, height)
    if x1 <= x0 or y1 <= y0 or width % scale or height % scale:
        return 0, 0, width, height
    return (max(0, (x0 // scale - 2) * scale), max(0, (y0 // scale - 2) * scale),
            min(width, (-(-x1 // scale) + 2) * scale), min(height, (-(-y1 // scale) + 2) * scale))


def mask_box(mask: np.ndarray) -> Box | None:
    """Bounding box (in ``mask`` pixels) of its non-zero pixels; None when there are none."""
    points = cv2.findNonZero(mask)
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    return Box(float(x), float(y), float(x + w), float(y + h))
